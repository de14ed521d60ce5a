// Package oci runs the suites of boxcraft-runc, boxcraft behind runc's
// command line (issue 23): driven directly, as an engine drives runc,
// and by a containerd of the test's own (ctr run --runc-binary). The
// binary is $BOXCRAFT_RUNC_BIN, the boxcraft-runc beside $BOXCRAFT_BIN,
// or built from final/cmd/boxcraft-runc.
package oci

import (
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}

func TestLifecycle(t *testing.T) { testkit.OCILifecycle(t) }

func TestContainerd(t *testing.T) { testkit.Containerd(t) }
