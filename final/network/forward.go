package network

import (
	"bytes"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// ownMark is the user data of the rules boxcraft adds to another
// table's chain: Prune finds them by it.
var ownMark = []byte("boxcraft")

// A packet is forwarded only if every base chain on the forward hook
// lets it through: boxcraft's own accept decides nothing when another
// table's chain drops by default. Docker's does: it sets iptables'
// FORWARD policy to DROP (with iptables-nft, the chain FORWARD of table
// ip filter) and accepts only its own bridges' packets. Like Docker for
// docker0, boxcraft then puts two accepts for boxcraft0 at the head of
// each such chain.

// droppingForwardChains are the other tables' forward base chains whose
// policy is drop.
func (r *rules) droppingForwardChains() ([]*nftables.Chain, error) {
	chains, err := r.conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list the nftables chains: %w", err)
	}
	var dropping []*nftables.Chain
	for _, c := range chains {
		fam := c.Table.Family
		if c.Table.Name == Table || (fam != nftables.TableFamilyIPv4 && fam != nftables.TableFamilyINet) {
			continue
		}
		if c.Hooknum != nil && *c.Hooknum == *nftables.ChainHookForward && c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
			dropping = append(dropping, c)
		}
	}
	return dropping, nil
}

// openForward adds boxcraft0's accepts to each dropping chain that does
// not have them yet.
func (r *rules) openForward() error {
	chains, err := r.droppingForwardChains()
	if err != nil {
		return err
	}
	for _, c := range chains {
		if n, err := r.ownRules(c); err != nil || len(n) > 0 {
			continue
		}
		for _, key := range []expr.MetaKey{unix.NFT_META_OIFNAME, unix.NFT_META_IIFNAME} {
			// insert: at the head, before the chain's own rules
			r.conn.InsertRule(&nftables.Rule{Table: c.Table, Chain: c, UserData: ownMark,
				Exprs: concat(ifname(key, expr.CmpOpEq), verdict(expr.VerdictAccept))})
		}
	}
	if err := r.conn.Flush(); err != nil {
		return fmt.Errorf("accept %s's packets in the host's forward chains: %w", Bridge, err)
	}
	return nil
}

// closeForward deletes the accepts openForward added.
func (r *rules) closeForward() error {
	chains, err := r.droppingForwardChains()
	if err != nil {
		return err
	}
	for _, c := range chains {
		own, err := r.ownRules(c)
		if err != nil {
			return err
		}
		for _, rule := range own {
			if err := r.conn.DelRule(rule); err != nil {
				return err
			}
		}
	}
	return r.conn.Flush()
}

// ownRules are the rules of c that boxcraft added.
func (r *rules) ownRules(c *nftables.Chain) ([]*nftables.Rule, error) {
	list, err := r.conn.GetRules(c.Table, c)
	if err != nil {
		return nil, err
	}
	var own []*nftables.Rule
	for _, rule := range list {
		if bytes.Equal(rule.UserData, ownMark) {
			own = append(own, rule)
		}
	}
	return own, nil
}
