// This file is step04's new idea: the rootfs becomes the container's root
// the way runc makes it, and the host's root goes away.
//
// chroot(2) only changes where a process's path lookups start; the host's
// root stays mounted in the process's mount namespace, and root inside can
// climb back to it (the probe's escape experiment did, in steps 01 to 03).
// pivot_root(2) works on mounts instead: it makes the rootfs the root
// mount of the container's mount namespace, and moves the host's root to
// a place inside it, from where init unmounts it. After that, no path in
// the container's mount namespace leads to the host's root: it is not
// hidden, it is gone from that namespace.
//
// Everything here runs in init, inside the container's new mount
// namespace, with the rootfs as the working folder, so the paths are
// relative until pivot_root.
package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setUpRoot makes the rootfs the container's root, with /proc, /sys and
// /dev of the container's own, read-only with --read-only.
func setUpRoot(namespaces map[string]bool, readOnly bool) error {
	if err := makeMountsPrivate(); err != nil {
		return err
	}
	if err := bindRootfsOntoItself(); err != nil {
		return err
	}
	if err := mountProc(namespaces["pid"]); err != nil {
		return err
	}
	if err := mountSys(); err != nil {
		return err
	}
	if err := mountDev(namespaces["ipc"]); err != nil {
		return err
	}
	if err := pivotRoot(); err != nil {
		return err
	}
	if readOnly {
		if err := makeReadOnly("/"); err != nil {
			return fmt.Errorf("make the root read-only: %w", err)
		}
	}
	return nil
}

// makeMountsPrivate stops mounts from travelling between the host and the
// container.
//
// The new mount namespace starts as a copy of the host's, and mounts on
// the host are usually "shared": a mount made under a shared mount
// appears in every copy. (With a user namespace the kernel turns the
// copy's shared mounts into slaves, which still receive the host's.)
// MS_REC|MS_PRIVATE on / makes every mount in the copy private, so the
// container's mounts land in the container alone, the host's later mounts
// stay out, and unmounting the host's root below does not unmount it on
// the host.
func makeMountsPrivate() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	return nil
}

// bindRootfsOntoItself makes the rootfs a mount of its own: pivot_root
// needs the new root to be a mount, and a folder bound onto itself is one.
//
// mount(2) with MS_BIND would put the new mount on top of the working
// folder but leave init standing below it, on the folder it covers. To
// stand on the new mount, init would have to walk the path to the rootfs
// again, and with a user namespace it may not walk the host's folders
// above it (see runInNamespaces). The newer mount API needs no path:
// open_tree(2) with OPEN_TREE_CLONE copies the working folder's tree
// (AT_RECURSIVE: with the mounts below it, such as a test's) as a mount
// that is attached nowhere yet; move_mount(2) attaches it on top of the
// rootfs; and the file descriptor open_tree returned is the new mount's
// root, which fchdir(2) stands on.
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

// mountProc mounts /proc. With a PID namespace, a new proc filesystem
// lists the processes of that namespace. Without one, the container shares
// the host's processes, so it gets the host's /proc (a bind mount): a
// process in a user namespace may not mount a new proc for a PID namespace
// it does not own.
func mountProc(newPidNamespace bool) error {
	var err error
	if newPidNamespace {
		err = unix.Mount("proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	} else {
		err = unix.Mount("/proc", "proc", "", unix.MS_BIND|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("mount proc on /proc: %w", err)
	}
	return nil
}

// mountSys mounts sysfs on /sys, read-only: it describes the machine's
// devices and drivers, and some of its files change them. sysfs shows the
// network devices of the network namespace that mounts it, so a user
// namespace may mount it only for a network namespace of its own. Without
// one, init binds the host's /sys instead, as runc does, with the mounts
// below it (the kernel refuses to bind it without them in a user
// namespace: they would uncover what they hide). mount_setattr(2) with
// AT_RECURSIVE then makes every one of them read-only, which a remount
// cannot: it changes one mount.
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
// and Docker, by their numbers on every Linux (the kernel's
// Documentation/admin-guide/devices.txt). None of them reaches a disk or
// the host's terminals: tty is whichever terminal the opener has.
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

// devMount is a filesystem mounted in /dev.
type devMount struct {
	fstype, target string
	flags          uintptr
	data           string
}

// mountDev gives the container a /dev of its own: a tmpfs holding only
// the devices above, the symlinks, a devpts for terminals, a tmpfs for
// shared memory, and with an IPC namespace of its own, its POSIX message
// queues. The host's /dev would hand root inside every disk. (boxcraft
// also binds the terminal on stdin to /dev/console, final/rootfs.)
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
	mounts := []devMount{
		// newinstance: a devpts of the container's own, whose ptmx
		// (reached by /dev/ptmx -> pts/ptmx) hands out its terminals
		// only, numbered from 0. Without it, the host's terminals would
		// be listed in it.
		{"devpts", "dev/pts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
		{"tmpfs", "dev/shm", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=1777,size=65536k"},
	}
	if ownIPC {
		// mqueue shows the queues of the IPC namespace that mounts it,
		// and a user namespace may mount it only for its own.
		mounts = append(mounts, devMount{"mqueue", "dev/mqueue", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""})
	}
	for _, m := range mounts {
		if err := os.Mkdir(m.target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on /%s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// makeDevice makes the character device /dev/NAME. mknod(2) makes a
// device node, which only root of the host's user namespace may do. In a
// user namespace of its own, the kernel refuses (EPERM), and init
// bind-mounts the host's node onto an empty file instead, as runc does:
// the same device, reached through the host's node.
func makeDevice(name string, major, minor uint32) error {
	path := "dev/" + name
	err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(major, minor)))
	if err == nil {
		err = unix.Chmod(path, 0o666) // the umask took bits from mknod's mode
	} else if errors.Is(err, unix.EPERM) {
		err = bindOntoFile("/dev/"+name, path)
	}
	if err != nil {
		return fmt.Errorf("make /dev/%s: %w", name, err)
	}
	return nil
}

// bindOntoFile bind-mounts source, a file of the host's (the host's root
// is still reachable until pivot_root), onto a new empty file at target.
func bindOntoFile(source, target string) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	return unix.Mount(source, target, "", unix.MS_BIND, "")
}

// pivotRoot makes the rootfs the root of the container's mount namespace
// and detaches the host's, as runc does.
//
// pivot_root(new_root, put_old) makes new_root the root mount and moves
// the old root mount to put_old, a folder below new_root. With both ".",
// the old root lands on top of the new root itself, where init stands:
// one unmount of "." then takes it away, with no folder left behind to
// hold it. MNT_DETACH unmounts it even though it is busy (every process
// on the host holds it; here, in this namespace, only the detached copy
// goes). It is private already (makeMountsPrivate); runc makes it private
// here again because its earlier propagation may be configured shared,
// and an unmount must not travel to the host.
func pivotRoot() error {
	// EINVAL where the host's root is the kernel's initramfs, which
	// nothing is below to move it onto (boxcraft falls back to chroot
	// there, final/rootfs).
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

// makeReadOnly makes the mount at path read-only. mount_setattr(2)
// changes one attribute of this one mount, not of the filesystem, which
// the host may have mounted elsewhere read-write, and leaves its other
// flags (nosuid, the atime ones, …) as they are. (A remount would have to
// ask for each of them again: in a user namespace, the kernel refuses to
// clear a flag the host set.)
func makeReadOnly(path string) error {
	return unix.MountSetattr(unix.AT_FDCWD, path, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
}
