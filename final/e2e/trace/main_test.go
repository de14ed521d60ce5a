// Package trace runs the suite of `boxcraft run --trace` (issue 25)
// against boxcraft, the binary built from final/cmd/boxcraft (or
// $BOXCRAFT_BIN): a traced start's lines, checked against what the probe
// and the host see, and failing starts' last lines.
package trace

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}
