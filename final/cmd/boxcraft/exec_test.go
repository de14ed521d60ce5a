package main

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestExec runs boxcraft exec end to end, with the probe inside the
// container it joins (internal/testkit/final_exec.go).
func TestExec(t *testing.T) { testkit.Exec(t) }
