package rootfs

import (
	"errors"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// Trees are bind mounts made ready on the host's side (OpenBind), by
// their index in c.Mounts: Setup attaches them as they are, instead of
// opening their sources itself. With a user namespace, init can do
// neither what an id-mapped mount needs (CAP_SYS_ADMIN over the host's
// filesystem) nor always walk to the source (the host's folders may be
// closed to its root, an unprivileged user of the host's).
type Trees map[int]*os.File

// bindAttrs are the mount_setattr(2) attributes a bind's options ask for.
// An access-time option (noatime, relatime, strictatime: an OCI bundle's)
// clears the others first, as the kernel asks.
func bindAttrs(o options) (unix.MountAttr, error) {
	var attr unix.MountAttr
	for _, a := range []struct {
		ms   uintptr
		attr uint64
	}{
		{unix.MS_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.MS_NOSUID, unix.MOUNT_ATTR_NOSUID},
		{unix.MS_NODEV, unix.MOUNT_ATTR_NODEV}, {unix.MS_NOEXEC, unix.MOUNT_ATTR_NOEXEC},
		{unix.MS_NOATIME, unix.MOUNT_ATTR_NOATIME}, {unix.MS_STRICTATIME, unix.MOUNT_ATTR_STRICTATIME},
	} {
		if o.flags&a.ms != 0 {
			attr.Attr_set |= a.attr
		}
	}
	const atime = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME
	if o.flags&atime != 0 {
		attr.Attr_clr = unix.MOUNT_ATTR__ATIME // relatime is the 0 within it
	}
	if rest := o.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | atime); rest != 0 || len(o.data) > 0 {
		return attr, fmt.Errorf("a bind mount takes ro, nosuid, nodev, noexec, an access time and a propagation only")
	}
	return attr, nil
}

// OpenBind makes m, a bind mount of the host's m.Source, into a tree
// that is attached nowhere yet, for Setup to attach: open_tree(2) with
// OPEN_TREE_CLONE copies the source's mount (AT_RECURSIVE: with the
// mounts below it, for rbind), and mount_setattr(2) sets its attributes
// on the whole tree before anyone can see it. userns, when not -1, is a
// user namespace whose map the tree's ids go through (MOUNT_ATTR_IDMAP,
// Linux 5.12): a file of the host's uid 0 is then root's inside a
// container of the same map, and what root inside writes is the host's
// uid 0's. The runtime calls it on the host's side, as root of the host:
// only that root may id-map the host's filesystems.
func OpenBind(m spec.Mount, userns int) (*os.File, error) {
	o := parseOptions(m.Options)
	attr, err := bindAttrs(o)
	if err != nil {
		return nil, err
	}
	tree, err := openTree(m.Source, o)
	if err != nil {
		return nil, err
	}
	if userns >= 0 {
		attr.Attr_set |= unix.MOUNT_ATTR_IDMAP
		attr.Userns_fd = uint64(userns)
	}
	if err := setTreeAttrs(tree, &attr); err != nil {
		unix.Close(tree)
		if userns >= 0 {
			return nil, idmapError(m.Source, err)
		}
		return nil, err
	}
	return os.NewFile(uintptr(tree), m.Source), nil
}

// openTree copies the mount of source, with the mounts below it for
// rbind, as a tree attached nowhere.
func openTree(source string, o options) (int, error) {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	if o.flags&unix.MS_REC != 0 {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, source, flags)
	if err != nil {
		return -1, fmt.Errorf("open_tree: %w", err)
	}
	return tree, nil
}

// setTreeAttrs sets attr on every mount of the tree (AT_RECURSIVE): a
// read-only bind is read-only all the way down, submounts included, as
// Docker's is since version 25.
func setTreeAttrs(tree int, attr *unix.MountAttr) error {
	if attr.Attr_set == 0 && attr.Attr_clr == 0 {
		return nil
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}

// idmapError says why a bind could not be id-mapped, in the kernel's
// terms.
func idmapError(source string, err error) error {
	var st unix.Statfs_t
	fstype := "its filesystem"
	if unix.Statfs(source, &st) == nil {
		fstype = fmt.Sprintf("its filesystem (magic %#x)", st.Type)
	}
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("a volume with a user namespace needs id-mapped mounts, which need Linux 5.12: %w", err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("a volume with a user namespace needs an id-mapped mount, which this kernel cannot make of %s (tmpfs needs Linux 6.3): %w", fstype, err)
	}
	return fmt.Errorf("id-map the volume: %w", err)
}

// bindMount binds the host's m.Source on m.Target: a tree made ready
// here (or handed in, tree), attached with move_mount(2). Where the
// kernel lacks mount_setattr (before 5.12), the bind is made with
// mount(2) and each of its mounts remounted with the options instead.
func bindMount(r root, m spec.Mount, o options, tree *os.File) error {
	attr, err := bindAttrs(o)
	if err != nil {
		return err
	}
	if tree == nil {
		var fd int
		if fd, err = openTree(m.Source, o); err != nil {
			return err
		}
		tree = os.NewFile(uintptr(fd), m.Source)
		err = setTreeAttrs(fd, &attr)
	}
	defer tree.Close()
	if errors.Is(err, unix.ENOSYS) {
		return bindAndRemount(r, m, o)
	} else if err != nil {
		return err
	}
	target, err := makeTarget(r, m.Target, tree)
	if err != nil {
		return err
	}
	defer unix.Close(target)
	// Onto the target's descriptor, resolved beneath the root: never a
	// path walked again, which a symlink swapped in could lead out.
	err = unix.MoveMount(int(tree.Fd()), "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// makeTarget makes the bind's target beneath the root, a folder for a
// folder, an empty file for a file, and returns a descriptor of it.
func makeTarget(r root, target string, tree *os.File) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(tree.Fd()), &st); err != nil {
		return -1, fmt.Errorf("stat the source: %w", err)
	}
	makeIt := r.mkfile
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		makeIt = r.mkdirAll
	}
	fd, err := makeIt(target)
	if err != nil {
		return -1, fmt.Errorf("make the target: %w", err)
	}
	return fd, nil
}

// bindAndRemount is the bind for a kernel without mount_setattr(2): a
// bind with mount(2), then a remount of each of its mounts with the
// options (mount(2) ignores them with MS_BIND), the top one first.
func bindAndRemount(r root, m spec.Mount, o options) error {
	info, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	makeIt := r.mkfile
	if info.IsDir() {
		makeIt = r.mkdirAll
	}
	target, err := makeIt(m.Target)
	if err != nil {
		return fmt.Errorf("make the target: %w", err)
	}
	err = mountOn(target, m.Source, "", unix.MS_BIND|o.flags&unix.MS_REC, "")
	unix.Close(target)
	if err != nil {
		return err
	}
	set := o.flags &^ (unix.MS_BIND | unix.MS_REC)
	if set == 0 {
		return nil
	}
	return r.onMount(m.Target, func(mount string) error { return remountAll(mount, set) })
}
