package network

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// rules is boxcraft's nftables table, "ip boxcraft", in the namespace it
// runs in. Its chains, as `nft list table ip boxcraft` prints them:
//
//	prerouting  nat hook prerouting  -100: a published port's DNAT, for a
//	            packet from outside or from a container (fib daddr local)
//	output      nat hook output      -100: the same, for the host's own
//	            programs (127.0.0.1 and the host's addresses)
//	postrouting nat hook postrouting  100: masquerade what leaves the
//	            subnet, and a DNATed packet from a container (hairpin) or
//	            from 127.0.0.1, whose reply must come back through the host
//	forward     filter hook forward     0: accept what comes from or goes
//	            to the bridge
//
// A published port's rules carry its container's ID as user data: the
// teardown finds them by it.
type rules struct {
	conn  *nftables.Conn
	table *nftables.Table
}

// newRules opens one netlink socket in the current namespace for all of
// its requests (a socket each costs a start about as much as the
// request): close closes it.
func newRules() (*rules, error) {
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &rules{conn: conn, table: &nftables.Table{Family: nftables.TableFamilyIPv4, Name: Table}}, nil
}

func (r *rules) close() { _ = r.conn.CloseLasting() }

func (r *rules) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: r.table}
}

// ensure makes the table, its chains and their fixed rules, unless the
// table is there (the allocator's lock is held: no other start makes it
// at the same time).
func (r *rules) ensure(subnet netip.Prefix) error {
	if _, err := r.conn.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err == nil {
		return r.openForward() // a Docker started since may have closed it
	}
	r.conn.AddTable(r.table)
	accept := nftables.ChainPolicyAccept
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return r.conn.AddChain(&nftables.Chain{Name: name, Table: r.table, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
	}
	base("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	base("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := base("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	fwd := base("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	for _, exprs := range [][]expr.Any{
		// ip saddr SUBNET oifname != "boxcraft0" masquerade
		concat(saddrIn(subnet), ifname(unix.NFT_META_OIFNAME, expr.CmpOpNeq), []expr.Any{&expr.Masq{}}),
		// oifname "boxcraft0" ct status dnat ip saddr SUBNET masquerade
		concat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq), ctDNAT(), saddrIn(subnet), []expr.Any{&expr.Masq{}}),
		// oifname "boxcraft0" ct status dnat ip saddr 127.0.0.0/8 masquerade
		concat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq), ctDNAT(), saddrIn(loopback), []expr.Any{&expr.Masq{}}),
	} {
		r.conn.AddRule(&nftables.Rule{Table: r.table, Chain: post, Exprs: exprs})
	}
	for _, key := range []expr.MetaKey{unix.NFT_META_IIFNAME, unix.NFT_META_OIFNAME} {
		// iifname "boxcraft0" accept; oifname "boxcraft0" accept
		r.conn.AddRule(&nftables.Rule{Table: r.table, Chain: fwd, Exprs: concat(ifname(key, expr.CmpOpEq), verdict(expr.VerdictAccept))})
	}
	if err := r.conn.Flush(); err != nil {
		return fmt.Errorf("make the nftables table ip %s: %w", Table, err)
	}
	return r.openForward()
}

// publish adds each port's DNAT to addr, in prerouting and output.
func (r *rules) publish(id string, addr netip.Addr, ports []Port) error {
	if len(ports) == 0 {
		return nil
	}
	for _, p := range ports {
		for _, chain := range []string{"prerouting", "output"} {
			r.conn.AddRule(&nftables.Rule{Table: r.table, Chain: r.chain(chain), Exprs: dnat(p, addr), UserData: []byte(id)})
		}
	}
	if err := r.conn.Flush(); err != nil {
		return fmt.Errorf("publish the ports: %w", err)
	}
	return nil
}

// unpublish deletes the rules that carry id.
func (r *rules) unpublish(id string) error {
	if _, err := r.conn.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err != nil {
		return nil // no table: no rule
	}
	for _, chain := range []string{"prerouting", "output"} {
		list, err := r.conn.GetRules(r.table, r.chain(chain))
		if err != nil {
			return fmt.Errorf("list the rules of %s: %w", chain, err)
		}
		for _, rule := range list {
			if bytes.Equal(rule.UserData, []byte(id)) {
				if err := r.conn.DelRule(rule); err != nil {
					return err
				}
			}
		}
	}
	if err := r.conn.Flush(); err != nil {
		return fmt.Errorf("delete the published ports' rules: %w", err)
	}
	return nil
}

// remove deletes the table, if it is there.
func (r *rules) remove() error {
	if _, err := r.conn.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err != nil {
		return nil
	}
	if err := r.closeForward(); err != nil {
		return err
	}
	r.conn.DelTable(r.table)
	if err := r.conn.Flush(); err != nil {
		return fmt.Errorf("delete the nftables table ip %s: %w", Table, err)
	}
	return nil
}

// dnat is one published port's rule:
//
//	[ip daddr HOSTIP | fib daddr type local] meta l4proto PROTO th dport HOSTPORT dnat to ADDR:CTRPORT
func dnat(p Port, addr netip.Addr) []expr.Any {
	var to []expr.Any
	if p.HostIP != "" {
		ip := netip.MustParseAddr(p.HostIP).As4()
		to = []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
		}
	} else {
		to = []expr.Any{
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		}
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	ip := addr.As4()
	return append(to,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

// saddrIn is "ip saddr PREFIX".
func saddrIn(p netip.Prefix) []expr.Any {
	ip := p.Addr().As4()
	mask := make([]byte, 4)
	binary.BigEndian.PutUint32(mask, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip[:]},
	}
}

// ifname is "iifname/oifname OP boxcraft0".
func ifname(key expr.MetaKey, op expr.CmpOp) []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, Bridge)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: name}}
}

// ipsDstNAT is IPS_DST_NAT of linux/netfilter/nf_conntrack_common.h.
const ipsDstNAT = 1 << 5

// ctDNAT is "ct status dnat": the connection's destination was changed.
func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func verdict(kind expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: kind}} }

func concat(parts ...[]expr.Any) []expr.Any {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}
