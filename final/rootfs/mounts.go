package rootfs

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// mountAll makes c.Mounts, in order, below the new root: volumes, and
// whatever else the runtime lists. It is the seam later issues use. Each
// target is resolved beneath the root, so that a symlink in the image
// cannot send a mount out of it; a missing target is made, a folder for
// a folder or a tmpfs, an empty file for a file. The sources are the
// host's, named by the runtime, and are taken as they are, or handed in
// ready (trees, by index).
func mountAll(r root, mounts []spec.Mount, trees Trees) error {
	for i, m := range mounts {
		if err := mountOne(r, m, trees[i]); err != nil {
			return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Target, err)
		}
	}
	return nil
}

// options are a mount's options, split the way mount(2) takes them.
type options struct {
	flags       uintptr  // MS_RDONLY, MS_NOSUID, …, MS_BIND, MS_REC
	propagation uintptr  // MS_PRIVATE, MS_SLAVE, … (0: as inherited, private)
	data        []string // the filesystem's own (size=, mode=)
}

// flagOptions are mount(8)'s options that set a flag of mount(2)'s, and
// clearingOptions those that take one away: in a list, the last word on
// a flag wins (--tmpfs /t:exec after Docker's default noexec).
var (
	flagOptions = map[string]uintptr{
		"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
		"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME, "relatime": unix.MS_RELATIME,
		"strictatime": unix.MS_STRICTATIME, "sync": unix.MS_SYNCHRONOUS, "dirsync": unix.MS_DIRSYNC,
		"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC, "defaults": 0,
	}
	clearingOptions = map[string]uintptr{
		"rw": unix.MS_RDONLY, "suid": unix.MS_NOSUID, "dev": unix.MS_NODEV, "exec": unix.MS_NOEXEC,
		"atime": unix.MS_NOATIME, "diratime": unix.MS_NODIRATIME, "norelatime": unix.MS_RELATIME,
		"nostrictatime": unix.MS_STRICTATIME, "async": unix.MS_SYNCHRONOUS,
	}
)

// parseOptions sorts a mount's options, as mount(8) spells them.
func parseOptions(list []string) options {
	propagation := map[string]uintptr{
		"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
		"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
		"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
		"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
	}
	var o options
	for _, opt := range list {
		if f, ok := flagOptions[opt]; ok {
			o.flags |= f
		} else if f, ok := clearingOptions[opt]; ok {
			o.flags &^= f
		} else if p, ok := propagation[opt]; ok {
			o.propagation = p
		} else {
			o.data = append(o.data, opt)
		}
	}
	return o
}

// mountOne makes one of c.Mounts; tree, when not nil, is a bind's,
// made ready on the host's side.
func mountOne(r root, m spec.Mount, tree *os.File) error {
	if !path.IsAbs(m.Target) {
		return fmt.Errorf("the target must be absolute")
	}
	o := parseOptions(m.Options)
	var err error
	switch m.Type {
	case "bind":
		err = bindMount(r, m, o, tree)
	case "tmpfs":
		err = tmpfsMount(r, m, o)
	case "cgroup":
		err = cgroupMount(r, m, o)
	default:
		return fmt.Errorf("mount type %q is not supported (bind, tmpfs, cgroup)", m.Type)
	}
	if err != nil || o.propagation == 0 {
		return err
	}
	return r.onMount(m.Target, func(mount string) error {
		return unix.Mount("", mount, "", o.propagation, "")
	})
}

// tmpfsMount mounts a new tmpfs on m.Target, which it makes if missing.
func tmpfsMount(r root, m spec.Mount, o options) error {
	if o.flags&unix.MS_BIND != 0 {
		return fmt.Errorf("bind is no option of a tmpfs")
	}
	target, err := r.mkdirAll(m.Target)
	if err != nil {
		return fmt.Errorf("make the target: %w", err)
	}
	defer unix.Close(target)
	source := m.Source
	if source == "" {
		source = "tmpfs"
	}
	return mountOn(target, source, "tmpfs", o.flags, strings.Join(o.data, ","))
}

// onMount calls change with a path to the mount on name, resolved again
// so that it is the new mount, not the folder below it.
func (r root) onMount(name string, change func(mount string) error) error {
	fd, err := r.open(name, unix.O_PATH, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return change(fdPath(fd))
}
