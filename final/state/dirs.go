package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// Dirs are the two roots of boxcraft's state.
type Dirs struct {
	Run string // /run/boxcraft: gone at reboot
	Lib string // /var/lib/boxcraft: kept
}

// DefaultDirs are the machine's, or, when $BOXCRAFT_STATE_DIR names a
// folder, its run/ and lib/: the tests give each test one of its own
// (docs/contract.md).
func DefaultDirs() Dirs {
	if dir := os.Getenv("BOXCRAFT_STATE_DIR"); dir != "" {
		return Dirs{Run: filepath.Join(dir, "run"), Lib: filepath.Join(dir, "lib")}
	}
	return Dirs{Run: "/run/boxcraft", Lib: "/var/lib/boxcraft"}
}

// Store is the image store's root.
func (d Dirs) Store() string { return filepath.Join(d.Lib, "store") }

// Container is a container's kept folder.
func (d Dirs) Container(id string) string { return filepath.Join(d.Lib, "containers", id) }

// Runtime is a container's folder on the tmpfs.
func (d Dirs) Runtime(id string) string { return filepath.Join(d.Run, "containers", id) }

// Make makes both roots. They are root's alone, but others may pass
// through (0711): with a user namespace, the container's root user is an
// ordinary user on the host, who must reach the container's root folder.
func (d Dirs) Make() error {
	for _, dir := range []string{filepath.Join(d.Run, "containers"), filepath.Join(d.Lib, "containers")} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return fmt.Errorf("make the state folder: %w", err)
		}
	}
	return nil
}
