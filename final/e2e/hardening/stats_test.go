package hardening

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestStats runs boxcraft stats end to end (internal/testkit/final_stats.go).
func TestStats(t *testing.T) { testkit.Stats(t) }
