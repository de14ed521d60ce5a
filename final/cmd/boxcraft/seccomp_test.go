package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestSeccomp runs the system-call filter end to end
// (internal/testkit/final_seccomp.go).
func TestSeccomp(t *testing.T) { testkit.Seccomp(t) }
