package trace

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestTrace runs `boxcraft run --trace` end to end
// (internal/testkit/final_trace.go).
func TestTrace(t *testing.T) { testkit.Trace(t) }
