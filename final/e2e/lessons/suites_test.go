package lessons

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// The suites of steps 01-05 (internal/testkit), run against boxcraft:
// what the container sees of its namespaces, the limits enforced, its
// root and mounts, layers and whiteouts hold here too, asked with
// Docker's command line (testkit.Boxcraft; internal/testkit/runtime.go
// says which cases boxcraft is not asked, and why). The binary is
// final/cmd/boxcraft, built by the kit, or $BOXCRAFT_BIN (TestMain, in
// main_test.go, calls testkit.Main, which removes what the kit built).

// What every step keeps from step01 (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, testkit.Boxcraft) }

// What every step keeps from step02 (internal/testkit/namespaces.go).
func TestNamespaces(t *testing.T) { testkit.Namespaces(t, testkit.Boxcraft) }

// What every step keeps from step03 (internal/testkit/cgroups.go).
func TestCgroups(t *testing.T) { testkit.Cgroups(t, testkit.Boxcraft) }

// What every step keeps from step04 (internal/testkit/rootfs.go).
func TestRootFilesystem(t *testing.T) { testkit.RootFilesystem(t, testkit.Boxcraft) }

// What step05 adds: images as stacks of layers (internal/testkit/layers.go).
func TestLayers(t *testing.T) { testkit.Layers(t, testkit.Boxcraft) }
