package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Request is what a container on the bridge asks for when it starts.
type Request struct {
	Dir    string // the allocator's folder, in the state folder
	ID     string // the container's
	Pid    int    // its first process, in its new network namespace
	Subnet string // --subnet; "" is the bridge's, or DefaultSubnet
	Ports  []Port
	// For its /etc files (etc.go): its hostname and name, and its root
	// (the host's path; "" for a folder given with --rootfs, which is
	// the user's and left alone) and who owns its files; and of its
	// settings' network, the lines of --add-host and --dns (Hosts, DNS).
	Hostname, Name, Root string
	Owner                Owner
	Settings             spec.Network
	// Trace reports each step (--trace, final/trace); nil is off.
	Trace *trace.Tracer
}

// Attach connects the container's namespace to the bridge: an address,
// its veth pair, the bridge and table when they are not there yet, and
// its published ports. The calling process (the container's monitor)
// holds the lease: when it is gone, the address and ports are free for
// the next start to take, even if no teardown ran. All of it is done
// under the allocator's lock.
func Attach(req Request) (Lease, error) {
	var got Lease
	err := allocator{req.Dir}.update(func(l *leases) error {
		// One socket each for netlink and nftables, for all of the
		// start's requests: a socket a request cost a start about 1 ms
		// (issue 26).
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		defer h.Close()
		found := findBridge(h)
		subnet, err := chooseSubnet(req.Subnet, found)
		if err != nil {
			return err
		}
		r, err := newRules()
		if err != nil {
			return err
		}
		defer r.close()
		start, _ := processStart(os.Getpid())
		want := Lease{Ports: req.Ports, Holder: os.Getpid(), HolderStart: start, Veth: vethName(req.ID),
			Name: req.Name, Root: req.Root, Owner: req.Owner}
		lease, stale, err := l.take(req.ID, subnet, want)
		for _, id := range stale {
			_ = release(r, id, true) // best effort: its namespace, and veth, may be gone
		}
		if err != nil {
			return err
		}
		if err := connectAll(h, r, found, req, subnet, netip.MustParseAddr(lease.Addr)); err != nil {
			return errors.Join(err, release(r, req.ID, len(req.Ports) > 0))
		}
		got = lease
		if req.Root == "" {
			return nil
		}
		if err := req.Trace.Do("final/network", "write /etc/hosts, /etc/hostname, /etc/resolv.conf", func() string { return "in " + req.Root },
			func() error {
				return EtcFiles(req.Root, req.Hostname, req.Name, netip.MustParseAddr(lease.Addr), req.Owner, l.named(req.ID), req.Settings, Gateway(subnet))
			}); err != nil {
			return errors.Join(err, release(r, req.ID, len(req.Ports) > 0))
		}
		l.announce(req.ID)
		return nil
	})
	return got, err
}

// chooseSubnet is --subnet, or the bridge's when it is there, or the
// default; a --subnet other than the bridge's is refused.
func chooseSubnet(given string, found bridge) (netip.Prefix, error) {
	have, ok := found.subnet, found.subnet.IsValid()
	if given == "" {
		if ok {
			return have, nil
		}
		return netip.MustParsePrefix(DefaultSubnet), nil
	}
	subnet, err := ParseSubnet(given)
	if err != nil {
		return subnet, err
	}
	if ok && have != subnet {
		return subnet, fmt.Errorf("--subnet %s: the bridge %s has the subnet %s: boxcraft network prune removes it once no container uses it", subnet, Bridge, have)
	}
	return subnet, nil
}

// connectAll makes the bridge and table if need be, the veth pair, and
// the port rules.
func connectAll(h *netlink.Handle, r *rules, found bridge, req Request, subnet netip.Prefix, addr netip.Addr) error {
	tr := req.Trace
	var br netlink.Link
	err := tr.Do("final/network", "netlink: the bridge", func() string { return fmt.Sprintf("%s, %s, up (made if missing)", Bridge, subnet) },
		func() (err error) { br, err = ensureBridge(h, found, subnet); return err })
	if err != nil {
		return err
	}
	if err := tr.Do("final/network", "nftables: NAT table", func() string { return "masquerade " + subnet.String() + " (made if missing)" },
		func() error { return r.ensure(subnet) }); err != nil {
		return err
	}
	if err := tr.Do("final/network", "netlink: veth pair", func() string {
		return fmt.Sprintf("%s on %s <-> eth0 in pid %d's netns, %s/%d, default via the bridge", vethName(req.ID), Bridge, req.Pid, addr, subnet.Bits())
	}, func() error { return connect(h, br, req.ID, req.Pid, addr, subnet) }); err != nil {
		return err
	}
	return tr.Do("final/network", "nftables: published ports", func() string {
		var ports []string
		for _, p := range req.Ports {
			ports = append(ports, PortString(p))
		}
		return fmt.Sprintf("[%s] to %s", strings.Join(ports, ", "), addr)
	},
		func() error { return r.publish(req.ID, addr, req.Ports) })
}

// release deletes a container's published ports' rules and its veth.
func release(r *rules, id string, published bool) error {
	var err error
	if published { // three nftables requests less for a start without -p
		err = r.unpublish(id)
	}
	return errors.Join(err, disconnect(vethName(id)))
}

// Detach gives back what Attach took for id: its lease, its rules and
// its veth. A container that holds no lease (not on the bridge, or
// freed already) is left alone.
func Detach(dir, id string) error {
	return allocator{dir}.update(func(l *leases) error {
		lease, ok := l.Leases[id]
		if !ok {
			return nil
		}
		if err := releaseHeld(id, len(lease.Ports) > 0); err != nil {
			return err // the lease stays, for a later teardown to try again
		}
		// Only once the rest is given back: a teardown tried again would
		// take a line out of the peers' files a second time.
		l.withdraw(id)
		delete(l.Leases, id)
		return nil
	})
}

// releaseHeld deletes id's veth, and its published ports' rules when it
// has any (its rules are its lease's ports): without, nftables has
// nothing of it, and no socket is opened for it.
func releaseHeld(id string, published bool) error {
	if !published {
		return disconnect(vethName(id))
	}
	r, err := newRules()
	if err != nil {
		return err
	}
	defer r.close()
	return release(r, id, true)
}

// Lookup returns the lease that id holds, if any.
func Lookup(dir, id string) (Lease, bool) {
	var lease Lease
	var ok bool
	_ = allocator{dir}.update(func(l *leases) error {
		lease, ok = l.Leases[id]
		return nil
	})
	return lease, ok
}

// Prune deletes the bridge and the table, once no living container
// holds an address (stale leases are freed first). It says what it
// removed.
func Prune(dir string) ([]string, error) {
	var removed []string
	err := allocator{dir}.update(func(l *leases) error {
		r, err := newRules()
		if err != nil {
			return err
		}
		defer r.close()
		for _, id := range l.freeStale() {
			_ = release(r, id, true)
		}
		if n := len(l.Leases); n > 0 {
			return fmt.Errorf("%d container(s) still use the bridge %s: stop them first", n, Bridge)
		}
		if _, ok := bridgeSubnet(); ok {
			removed = append(removed, "bridge "+Bridge)
		}
		if err := deleteBridge(); err != nil {
			return err
		}
		if _, err := r.conn.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err == nil {
			removed = append(removed, "nftables table ip "+Table)
		}
		l.Subnet = ""
		return r.remove()
	})
	return removed, err
}

// Leftovers lists what a container on the bridge may leave in the
// namespace: veths named for containers (bx…) and published ports'
// rules. After every container is gone, it is empty: the tests check.
func Leftovers() ([]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var left []string
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "bx") {
			left = append(left, "veth "+l.Attrs().Name)
		}
	}
	r, err := newRules()
	if err != nil {
		return left, err
	}
	defer r.close()
	if _, err := r.conn.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err != nil {
		return left, nil
	}
	for _, chain := range []string{"prerouting", "output"} {
		list, err := r.conn.GetRules(r.table, r.chain(chain))
		if err != nil {
			return left, err
		}
		for _, rule := range list {
			left = append(left, fmt.Sprintf("a rule in %s for container %.12s", chain, rule.UserData))
		}
	}
	return left, nil
}
