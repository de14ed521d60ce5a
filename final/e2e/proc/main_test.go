// Package proc runs the suite of the container's own /proc (issue 21:
// meminfo, cpuinfo, stat, uptime … and sysinfo(2) answered from its
// limits) against boxcraft, the binary built from final/cmd/boxcraft (or
// $BOXCRAFT_BIN).
package proc

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}

// TestProc runs the /proc view end to end (internal/testkit/final_proc.go).
func TestProc(t *testing.T) { testkit.Proc(t) }
