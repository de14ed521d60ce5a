package hardening

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestBreakout runs the breakout attacks end to end
// (internal/testkit/final_breakout.go).
func TestBreakout(t *testing.T) { testkit.Breakout(t) }
