// This file makes the rootfs the container's root as runc does: where
// chroot(2) only changed where path lookups start, pivot_root(2) swaps the
// root mount of the container's mount namespace, and init unmounts the
// host's. It runs in init, in the rootfs: paths are relative until then.
package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setUpRoot makes the rootfs, where mountPrivateProc has mounted /proc,
// the container's root, with /sys and /dev of the container's own.
func setUpRoot(namespaces map[string]bool) error {
	if err := bindRootfsOntoItself(); err != nil {
		return err
	}
	if err := mountSys(); err != nil {
		return err
	}
	if err := mountDev(namespaces["ipc"]); err != nil {
		return err
	}
	return pivotRoot()
}

// bindRootfsOntoItself makes the rootfs a mount of its own, as pivot_root
// needs. A bind mount(2) would leave init below it, and with a user
// namespace init may not walk the path to it (see runInNamespaces): so
// open_tree(2) copies the working folder's tree, /proc included, as a mount
// attached nowhere, move_mount(2) attaches it on the rootfs, and fchdir(2)
// stands on it.
func bindRootfsOntoItself() error {
	tree, err := unix.OpenTree(unix.AT_FDCWD, ".", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("bind the rootfs onto itself: open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, ".", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind the rootfs onto itself: move_mount: %w", err)
	}
	if err := unix.Fchdir(tree); err != nil {
		return fmt.Errorf("enter the rootfs mount: %w", err)
	}
	return nil
}

// mountSys mounts sysfs on /sys, read-only: some of its files change the
// machine's devices. A user namespace may mount sysfs only for a network
// namespace of its own; without one, init binds the host's /sys with the
// mounts below it, as runc does, and mount_setattr(2) with AT_RECURSIVE
// makes every one of them read-only (a remount changes one mount).
func mountSys() error {
	const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	err := unix.Mount("sysfs", "sys", "sysfs", flags, "")
	if errors.Is(err, unix.EPERM) {
		if err = unix.Mount("/sys", "sys", "", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.MountSetattr(unix.AT_FDCWD, "sys", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
		}
	}
	if err != nil {
		return fmt.Errorf("mount sysfs on /sys: %w", err)
	}
	return nil
}

// devices are the device nodes every container's /dev holds, as in runc
// and Docker. None reaches a disk or the host's terminals.
var devices = []struct {
	name         string
	major, minor uint32
}{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

// devLinks are /dev's symlinks: NAME -> TARGET.
var devLinks = [][2]string{
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
}

// mountDev gives the container a /dev of its own, since the host's would
// hand root inside every disk: a tmpfs with only the devices above, and
// terminals, shared memory and message queues of its own. (boxcraft also
// binds the terminal to /dev/console: final/rootfs.)
func mountDev(ownIPC bool) error {
	// No MS_NODEV: the device nodes on it must open.
	if err := unix.Mount("tmpfs", "dev", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("mount tmpfs on /dev: %w", err)
	}
	for _, d := range devices {
		if err := makeDevice(d.name, d.major, d.minor); err != nil {
			return err
		}
	}
	for _, link := range devLinks {
		if err := os.Symlink(link[1], "dev/"+link[0]); err != nil {
			return fmt.Errorf("make /dev/%s: %w", link[0], err)
		}
	}
	for _, m := range []struct {
		fstype, target string
		flags          uintptr
		data           string
	}{
		// newinstance: a devpts of the container's own, whose ptmx hands
		// out its terminals only, numbered from 0.
		{"devpts", "dev/pts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
		{"tmpfs", "dev/shm", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=1777,size=65536k"},
		{"mqueue", "dev/mqueue", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	} {
		// mqueue shows the queues of the IPC namespace that mounts it,
		// and a user namespace may mount it only for its own.
		if m.fstype == "mqueue" && !ownIPC {
			continue
		}
		if err := os.Mkdir(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on /%s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// makeDevice makes the character device /dev/NAME with mknod(2), which only
// root of the host's user namespace may do; in another (EPERM), init binds
// the host's node, reachable until pivot_root, onto an empty file, as runc.
func makeDevice(name string, major, minor uint32) error {
	path := "dev/" + name
	err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor)))
	if err == nil {
		err = unix.Chmod(path, 0o666) // the umask took bits from mknod's mode
	} else if errors.Is(err, unix.EPERM) {
		if err = os.WriteFile(path, nil, 0o600); err == nil {
			err = unix.Mount("/dev/"+name, path, "", unix.MS_BIND, "")
		}
	}
	if err != nil {
		return fmt.Errorf("make /dev/%s: %w", name, err)
	}
	return nil
}

// pivotRoot makes the rootfs the root of the container's mount namespace
// and detaches the host's, as runc does. pivot_root(".", ".") stacks the
// old root on top of the new, where init stands: one unmount of "." takes
// it away, with no folder left to hold it, though it is busy (MNT_DETACH;
// only this namespace's copy goes), once it is private: an unmount must not
// travel to the host.
func pivotRoot() error {
	// EINVAL where the host's root is the initramfs, which cannot be moved
	// (boxcraft falls back to chroot there, final/rootfs).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into the rootfs: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the old root private: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to the new root: %w", err)
	}
	return nil
}
