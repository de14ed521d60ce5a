package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// step is the step under test, as the shared suites (internal/testkit)
// need to know it: from step04 on, run is given the root with --rootfs
// (or --image) and pivots into it.
var step = testkit.Step{RootfsFlag: true}

// What every step keeps from step01 (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, step) }

// What every step keeps from step02 (internal/testkit/namespaces.go),
// but the escape, which now fails, and a run without a mount namespace,
// which is now refused.
func TestNamespaces(t *testing.T) { testkit.Namespaces(t, step) }

// What every step keeps from step03 (internal/testkit/cgroups.go).
func TestCgroups(t *testing.T) { testkit.Cgroups(t, step) }

// What step04 adds: an image unpacked safely into a root filesystem of
// the container's own, and pivot_root into it
// (internal/testkit/rootfs.go).
func TestRootFilesystem(t *testing.T) { testkit.RootFilesystem(t, step) }
