package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// step is the step under test, as the shared suites (internal/testkit)
// need to know it: from step05 on, an --image is a stack of layers under
// a writable layer of the container's own.
var step = testkit.Step{RootfsFlag: true, Layers: true}

// What every step keeps from step01 (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, step) }

// What every step keeps from step02 (internal/testkit/namespaces.go).
func TestNamespaces(t *testing.T) { testkit.Namespaces(t, step) }

// What every step keeps from step03 (internal/testkit/cgroups.go).
func TestCgroups(t *testing.T) { testkit.Cgroups(t, step) }

// What every step keeps from step04 (internal/testkit/rootfs.go): the
// root switch, and an image tarball, now a one-layer image.
func TestRootFilesystem(t *testing.T) { testkit.RootFilesystem(t, step) }

// What step05 adds: images as stacks of layers, in a shared store,
// union-mounted with overlayfs, and commit (internal/testkit/layers.go).
func TestLayers(t *testing.T) { testkit.Layers(t, step) }
