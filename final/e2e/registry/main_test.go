// Package registry runs the suites of boxcraft pull, push, login and
// build (issue 22) against boxcraft, the binary built from
// final/cmd/boxcraft (or $BOXCRAFT_BIN). The test binary doubles as the
// Registry suite's proxy that drops connections (testkit.ProxyEnv set)
// and its token server (testkit.TokenEnv set).
package registry

import (
	"fmt"
	"os"
	"testing"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) {
	if settings := os.Getenv(testkit.ProxyEnv); settings != "" {
		fmt.Fprintln(os.Stderr, testkit.ServeDroppingProxy(settings))
		os.Exit(1)
	}
	if settings := os.Getenv(testkit.TokenEnv); settings != "" {
		fmt.Fprintln(os.Stderr, testkit.ServeTokens(settings))
		os.Exit(1)
	}
	testkit.RuntimePackage = testkit.BoxcraftPackage
	testkit.Main(m)
}
