package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// makeAddedDevices makes each of --device's nodes in the container's
// /dev: its folders below /dev, then the node, by its numbers, with the
// host node's mode. Without a user namespace, mknod(2) makes it; in one,
// the kernel refuses a device node (EPERM), and the host's node with the
// same numbers is bound onto an empty file instead, as for the default
// devices. Either way the device cgroup must allow it too (final/cgroups,
// from the same list), or it does not open.
func makeAddedDevices(r root, devices []spec.Device) error {
	if len(devices) == 0 {
		return nil
	}
	dev, err := r.topLevel("/dev")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, d := range devices {
		if err := makeAddedDevice(dev, d); err != nil {
			return fmt.Errorf("make the device %s: %w", d.Path, err)
		}
	}
	return nil
}

// makeAddedDevice makes one node below the /dev folder dev.
func makeAddedDevice(dev int, d spec.Device) error {
	name, ok := strings.CutPrefix(filepath.Clean(d.Path), "/dev/")
	if !ok || !filepath.IsLocal(name) {
		return errors.New("a device's path must be below /dev")
	}
	dir, err := makeFoldersAt(dev, filepath.Dir(name))
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	base := filepath.Base(name)
	kind := map[string]uint32{"c": unix.S_IFCHR, "b": unix.S_IFBLK, "p": unix.S_IFIFO}[d.Type]
	number := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	mode := d.FileMode & 0o7777
	err = unix.Mknodat(dir, base, kind|mode, int(number))
	if err == nil {
		return unix.Fchmodat(dir, base, mode, 0) // the umask took bits from mknod's mode
	}
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	source, err := hostNode(kind, number)
	if err != nil {
		return err
	}
	return bindOntoFile(source, dir, base)
}

// makeFoldersAt makes each folder of rel below dir (net for net/tun) and
// opens the last; rel "." is dir itself. /dev is the container's own
// tmpfs, with nothing of the image's in it, so no symlink is met.
func makeFoldersAt(dir int, rel string) (int, error) {
	fd, err := unix.Dup(dir)
	if err != nil || rel == "." {
		return fd, err
	}
	for _, part := range strings.Split(rel, "/") {
		if err := unix.Mkdirat(fd, part, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return -1, err
		}
		next, err := unix.Openat(fd, part, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// hostNode finds, in the host's /dev (which init still sees before
// pivot_root), a node of the kind and number: the path inside need not be
// the host's (--device /dev/loop3:/dev/disk).
func hostNode(kind uint32, number uint64) (string, error) {
	found := ""
	_ = filepath.WalkDir("/dev", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a folder it may not read: the node is elsewhere
		}
		var st unix.Stat_t
		if e.Type()&(fs.ModeDevice|fs.ModeCharDevice) != 0 && unix.Lstat(path, &st) == nil &&
			st.Mode&unix.S_IFMT == kind && st.Rdev == number {
			found = path
			return filepath.SkipAll
		}
		return nil
	})
	if found == "" {
		return "", fmt.Errorf("mknod is refused in a user namespace, and the host's /dev has no node %d:%d to bind", unix.Major(number), unix.Minor(number))
	}
	return found, nil
}
