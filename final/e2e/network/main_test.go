// Package network runs boxcraft's networking suite (issue 19) against
// boxcraft, the binary built from final/cmd/boxcraft (or $BOXCRAFT_BIN):
// the bridge, NAT, published ports and their teardown, in network
// namespaces of the test's own (internal/testkit/netns.go, netlab.go).
package network

import (
	"testing"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/google/nftables"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}

// TestNetwork runs the suite (internal/testkit/final_network.go).
func TestNetwork(t *testing.T) {
	testkit.Network(t, testkit.NetworkHooks{Leftovers: network.Leftovers, DockerDropsForward: dockerDropsForward})
}

// dockerDropsForward makes what `iptables -P FORWARD DROP` makes through
// iptables-nft, as Docker runs it: table ip filter, chain FORWARD, on
// the forward hook, policy drop. It goes with the test's namespace.
func dockerDropsForward() error {
	conn, err := nftables.New()
	if err != nil {
		return err
	}
	filter := conn.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: "filter"})
	drop := nftables.ChainPolicyDrop
	conn.AddChain(&nftables.Chain{Name: "FORWARD", Table: filter, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	return conn.Flush()
}
