package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestDevices runs the device cgroup's attacks and --device end to end
// (internal/testkit/final_devices.go).
func TestDevices(t *testing.T) { testkit.Devices(t) }
