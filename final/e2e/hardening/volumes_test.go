package hardening

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestVolumes runs -v, --mount, --tmpfs and -u end to end
// (internal/testkit/final_volumes.go).
func TestVolumes(t *testing.T) { testkit.Volumes(t) }
