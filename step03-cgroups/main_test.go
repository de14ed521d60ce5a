package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// step is the step under test, as the shared suites (internal/testkit) need to know it.
var step = testkit.Step{}

// What every step keeps from step01 (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, step) }

// What every step keeps from step02 (internal/testkit/namespaces.go).
func TestNamespaces(t *testing.T) { testkit.Namespaces(t, step) }

// What step03 adds: limits, enforced by the kernel
// (internal/testkit/cgroups.go).
func TestCgroups(t *testing.T) { testkit.Cgroups(t, step) }
