// Package network runs boxcraft's networking suite (issue 19) against
// boxcraft, the binary built from final/cmd/boxcraft (or $BOXCRAFT_BIN):
// the bridge, NAT, published ports and their teardown, in network
// namespaces of the test's own (internal/testkit/netns.go, netlab.go).
package network

import (
	"testing"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}

// TestNetwork runs the suite (internal/testkit/final_network.go).
func TestNetwork(t *testing.T) { testkit.Network(t, network.Leftovers) }
