package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// BoxcraftHelpers are the programs boxcraft finds beside itself (issue
// 26): a container's init, a detached container's monitor, pull, push
// and login (boxcraft-registry, without which boxcraft cannot reach a
// registry), and exec's process in a container, programs of their own.
// make bins builds them into _build/bin (boxcraft-exec-init with cgo, as
// build does: it links package nsexec's constructor). boxcraft-runc uses
// two of them, init and exec-init.
var BoxcraftHelpers = []string{"boxcraft-init", "boxcraft-monitor", "boxcraft-registry", "boxcraft-exec-init"}

var helpers, runcHelpers once

// boxcraftHelpers puts boxcraft's helpers beside bin, the copy of
// boxcraft under test, as make bins puts them beside _build/bin/boxcraft:
// the ones beside $BOXCRAFT_BIN, or, when it is not set, built. A
// boxcraft given without them is tested without them: it is then its own
// init and monitor, and cannot exec.
func boxcraftHelpers(t testing.TB, bin string) {
	t.Helper()
	helpers.get(t, func() (string, error) { return "", putHelpers(bin, os.Getenv("BOXCRAFT_BIN")) })
}

// putHelpers puts the helpers beside bin: copies of the ones beside
// given, or built when given is "". One already there (boxcraft's and
// boxcraft-runc's copies share a folder) is left as it is.
func putHelpers(bin, given string) error {
	for _, name := range BoxcraftHelpers {
		to := filepath.Join(filepath.Dir(bin), name)
		if _, err := os.Stat(to); err == nil {
			continue
		}
		if given == "" {
			if _, err := build(filepath.Dir(bin), name, "github.com/boxcraft/boxcraft/final/cmd/"+name); err != nil {
				return err
			}
			continue
		}
		from := filepath.Join(filepath.Dir(given), name)
		if _, err := os.Stat(from); err != nil {
			continue
		}
		if _, err := copyExecutable(from, to); err != nil {
			return err
		}
	}
	return nil
}
