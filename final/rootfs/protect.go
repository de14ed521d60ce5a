package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Protect hides masked and makes readonly read-only, inside the
// container's own root (init calls it after pivot_root, once it has
// written what it writes below /proc/sys; runc's maskPath and
// readonlyPath, in the same order: after the pivot, before the user and
// the capabilities). The paths are /proc and /sys files of the kernel's
// own filesystems, which an image cannot fill with symlinks (its own
// /proc and /sys are mounted over); a path this kernel lacks is skipped.
//
// Root inside keeps neither CAP_SYS_ADMIN nor mount(2) (seccomp), so it
// cannot unmount what hides a path, nor remount it read-write.
func Protect(masked, readonly []string) error {
	for _, path := range readonly {
		if err := readOnlyPath(path); err != nil {
			return fmt.Errorf("make %s read-only: %w", path, err)
		}
	}
	for _, path := range masked {
		if err := maskPath(path); err != nil {
			return fmt.Errorf("mask %s: %w", path, err)
		}
	}
	return nil
}

// readOnlyPath binds path onto itself, with what is mounted below it,
// and makes each of those mounts read-only: a bind is a mount of its
// own, whose flags change without changing the filesystem's elsewhere.
func readOnlyPath(path string) error {
	err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, "")
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bind onto itself: %w", err)
	}
	return setReadOnly(path, true)
}

// maskPath puts an empty read-only thing over path: for a folder, an
// empty tmpfs mounted read-only; for a file, /dev/null bound onto it and
// made read-only, which reads as empty and refuses a write.
func maskPath(path string) error {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.IsDir() {
		// Read-only from the start: it can hold nothing.
		if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mount an empty tmpfs: %w", err)
		}
		return nil
	}
	if err := unix.Mount("/dev/null", path, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /dev/null over it: %w", err)
	}
	return remountReadOnly(path)
}
