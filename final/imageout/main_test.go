package imageout

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// TestMain ends through the kit's Main, which removes the folder the kit
// made for its commands (the test's own network namespace's door).
func TestMain(m *testing.M) { testkit.Main(m) }
