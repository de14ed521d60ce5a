package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// Setup makes c.Root.Path the container's root, with a /proc, /sys and
// /dev of its own and c.Mounts below it, and pivots into it. init calls
// it in the container's new mount namespace (and its other new
// namespaces), before it executes the command.
//
// It leaves init in "/" of the new root: pivot_root needs a working
// folder inside the new root, and the old one is gone. Going to
// c.Process.Cwd is init's job: init owns its working folder. (The rule
// against a hidden working folder is about the runtime's host-side code.)
//
// A relative c.Root.Path is taken from init's working folder: with a user
// namespace, init may not walk the host's folders down to the root, and a
// working folder inherited from its parent needs no walk.
//
// trees are c.Mounts' binds made ready by the runtime (OpenBind), by
// their index in c.Mounts; a bind not among them is made here, from its
// source.
//
// Without a user namespace, init calls ReadOnlyProcSys afterwards.
//
// Each mount and pivot_root is reported to tr (--trace, final/trace; nil
// when not traced) by the code that makes it. beforePivot, when not nil,
// is called once the mounts are made and before pivot_root: where an OCI
// bundle's createContainer hooks run (issue 23).
func Setup(c *spec.Container, trees Trees, tr *trace.Tracer, beforePivot func() error) error {
	if err := tr.Do("step04", "mount", func() string { return "none on / (rec,private): no mount travels to or from the host" }, makeMountsPrivate); err != nil {
		return err
	}
	var r root
	err := tr.Do("step04", "open_tree+move_mount", func() string { return "the root folder onto itself (rec): the new root is a mount" },
		func() (err error) { r, err = bindRootOntoItself(c.Root.Path); return err })
	if err != nil {
		return err
	}
	r.tr = tr
	defer unix.Close(r.fd)
	if err := mountProc(r, c.Namespaces.PID); err != nil {
		return err
	}
	// /dev before /sys: the order of runc's default config.json, which
	// the OCI validation suite checks mountinfo against.
	if err := mountDev(r, c.Namespaces, c.ShmBytes()); err != nil {
		return err
	}
	if err := makeAddedDevices(r, c.Security.Devices); err != nil {
		return err
	}
	if err := mountConsole(r); err != nil {
		return err
	}
	if err := mountSys(r, c.Namespaces); err != nil {
		return err
	}
	if err := mountAll(r, c.Mounts, trees); err != nil {
		return err
	}
	if beforePivot != nil {
		if err := beforePivot(); err != nil {
			return err
		}
	}
	pivot := func() string {
		return `(".", ".") in the new root: new_root and put_old both, then umount2(".", MNT_DETACH) the old`
	}
	if err := tr.Do("step04", "pivot_root", pivot, func() error { return pivotRoot(r) }); err != nil {
		return err
	}
	if c.Root.ReadOnly {
		if err := remountReadOnly("/"); err != nil {
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

// bindRootOntoItself makes the root folder a mount of its own: pivot_root
// needs the new root to be a mount, and a folder bound onto itself is one.
//
// open_tree(2) with OPEN_TREE_CLONE copies the folder's tree
// (AT_RECURSIVE: with the mounts below it, such as a test's) as a mount
// attached nowhere yet; move_mount(2) attaches it on top of the folder.
// The descriptor open_tree returned is the new mount's top, from which
// every later path is resolved: a path walked again could meet the folder
// below the new mount, or, with a user namespace, a host folder init may
// not walk.
func bindRootOntoItself(dir string) (root, error) {
	tree, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return root{}, fmt.Errorf("bind the root %s onto itself: open_tree: %w", dir, err)
	}
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		unix.Close(tree)
		return root{}, fmt.Errorf("bind the root %s onto itself: move_mount: %w", dir, err)
	}
	return root{fd: tree}, nil
}

// topLevel opens the folder name, one of the root's own mount points
// (/proc, /sys, /dev), making it when missing. A symlink there is
// refused, as runc refuses it (CVE-2019-19921): the image would choose
// where the container's /proc goes.
func (r root) topLevel(name string) (int, error) {
	const dir, noSymlinks = unix.O_PATH | unix.O_DIRECTORY, unix.RESOLVE_NO_SYMLINKS
	fd, err := r.open(name, dir, noSymlinks)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(r.fd, strings.TrimPrefix(name, "/"), 0o755); err == nil {
			fd, err = r.open(name, dir, noSymlinks)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("open %s in the root (a symlink is refused): %w", name, err)
	}
	return fd, nil
}

// mountProc mounts /proc. With a PID namespace, a new proc filesystem
// lists the processes of that namespace. Without one, the container shares
// the host's processes, so it gets the host's /proc (a bind mount): a
// process in a user namespace may not mount a new proc for a PID namespace
// it does not own.
func mountProc(r root, newPidNamespace bool) error {
	fd, err := r.topLevel("/proc")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if newPidNamespace {
		err = r.mount(fd, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	} else {
		err = r.mount(fd, "/proc", "/proc", "", unix.MS_BIND|unix.MS_REC, "")
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
func mountSys(r root, ns spec.Namespaces) error {
	fd, err := r.topLevel("/sys")
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if !ns.User() || ns.Net {
		const flags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		if err := r.mount(fd, "/sys", "sysfs", "sysfs", flags, ""); err != nil {
			return fmt.Errorf("mount sysfs on /sys: %w", err)
		}
		return nil
	}
	if err := r.mount(fd, "/sys", "/sys", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind the host's /sys: %w", err)
	}
	bound, err := r.topLevel("/sys") // the new mount, not the folder below it
	if err != nil {
		return err
	}
	defer unix.Close(bound)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(bound, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("make /sys read-only: %w", err)
	}
	return nil
}

// pivotRoot makes the new root the root of the container's mount
// namespace and detaches the host's, as runc does.
//
// pivot_root(new_root, put_old) makes new_root the root mount and moves
// the old root mount to put_old, a folder below new_root. With both ".",
// the old root lands on top of the new root itself, where init stands:
// one unmount of "." then takes it away, with no folder left behind to
// hold it. So init changes folder here, the one place Setup does. The
// old root is private already (makeMountsPrivate); runc makes it private
// here again because its earlier propagation may be configured shared,
// and an unmount must not travel to the host. MNT_DETACH unmounts it
// even though it is busy (every process on the host holds it; here, in
// this namespace, only the detached copy goes).
func pivotRoot(r root) error {
	if err := unix.Fchdir(r.fd); err != nil {
		return fmt.Errorf("enter the new root: %w", err)
	}
	err := unix.PivotRoot(".", ".")
	if errors.Is(err, unix.EINVAL) && onInitramfs() {
		return chrootInstead()
	}
	if err != nil {
		return fmt.Errorf("pivot_root into the new root: %w", err)
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

// onInitramfs tells whether the host's root is the initramfs (filesystem
// type rootfs), the kernel's very first mount, which pivot_root refuses
// to move because nothing is below it.
func onInitramfs() bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		// "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL…] - TYPE SOURCE …"
		fields := strings.Fields(line)
		dash := strings.Index(line, " - ")
		if len(fields) > 4 && fields[4] == "/" && dash > 0 && strings.HasPrefix(line[dash+3:], "rootfs ") {
			return true
		}
	}
	return false
}

// chrootInstead is what runc does where pivot_root is impossible: move
// the new root's mount onto "/" (MS_MOVE) and chroot into it. The host's
// root stays mounted below, and root inside can climb out to it. (The
// steps said so on stderr; a library does not print: the weakness is
// this comment's, and the initramfs host's.)
func chrootInstead() error {
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the new root onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	return unix.Chdir("/")
}

// ReadOnlyProcSys makes /proc/sys read-only, as Docker does, when c has
// no user namespace; with one it does nothing. init calls it after Setup,
// once it has written /proc/sys/kernel/ns_last_pid (a new PID namespace's
// pids restart from 2): that write needs /proc/sys writable, and must
// come after Setup, whose /proc is the container's.
//
// /proc/sys holds the kernel's settings (sysctls), most of them the whole
// machine's, and without a user namespace root inside is root of the
// host, which may write them: kernel/core_pattern names a program that
// the kernel runs as root on the host when a process crashes. (In a user
// namespace, root inside owns none of them.) /proc/sys bound onto itself
// is a mount of its own, which a remount makes read-only, and the rest of
// /proc stays as it is. The bind is not recursive: what the host mounted
// below /proc/sys (binfmt_misc, whose handlers the kernel runs for any
// program) stays out. Root inside keeps CAP_SYS_ADMIN, with which it
// could remount it read-write: only dropping capabilities closes that.
func ReadOnlyProcSys(c *spec.Container) error {
	if c.Namespaces.User() {
		return nil
	}
	if err := unix.Mount("/proc/sys", "/proc/sys", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /proc/sys onto itself: %w", err)
	}
	if err := remountReadOnly("/proc/sys"); err != nil {
		return fmt.Errorf("make /proc/sys read-only: %w", err)
	}
	return nil
}
