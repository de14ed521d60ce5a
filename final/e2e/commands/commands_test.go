package commands

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestCommands runs every boxcraft command end to end, with the probe
// inside the containers (internal/testkit/final_*.go).
func TestCommands(t *testing.T) { testkit.Commands(t) }
