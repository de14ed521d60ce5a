// Package lessons runs the lessons' suites (what steps 01 to 05 check) against boxcraft, the binary built from
// final/cmd/boxcraft (or $BOXCRAFT_BIN). boxcraft's end-to-end tests are
// three packages rather than one, so that they run side by side, each
// within its own time (make test-v2 gives each test binary its budget).
package lessons

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}
