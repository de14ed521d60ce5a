package rootfs

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// cgroupMount gives the container its cgroups at m.Target, read-only
// when m says ro: an OCI bundle's "cgroup" mount (issue 23), which
// engines put on /sys/fs/cgroup. init is in its cgroup by now (step03).
//
// On v2 it is the cgroup2 filesystem, which shows the cgroup namespace's
// root: the container's own cgroup when it has a namespace of its own.
// On v1 it is a tmpfs holding one folder per hierarchy: in a cgroup
// namespace (or at a hierarchy's root) a new mount of that hierarchy,
// otherwise the container's own folder of it, bound, as runc does.
// Where the kernel refuses a new mount (a user namespace without a
// cgroup namespace of its own), the container's own folder is bound.
func cgroupMount(r root, m spec.Mount, o options) error {
	target, err := r.mkdirAll(m.Target)
	if err != nil {
		return fmt.Errorf("make the target: %w", err)
	}
	defer unix.Close(target)
	own, err := ownCgroups()
	if err != nil {
		return err
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		return newOrBound(r, m.Target, target, "cgroup2", "", path.Join("/sys/fs/cgroup", own[""]), o.flags)
	}
	if err := mountOn(target, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	if err := mountHierarchies(r, m.Target, own, o.flags&unix.MS_RDONLY); err != nil {
		return err
	}
	if o.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return r.onMount(m.Target, remountReadOnly)
}

// ownCgroups reads the cgroups init is in from /proc/self/cgroup
// ("ID:CONTROLLERS:PATH"), by hierarchy: "cpu,cpuacct" → its path, ""
// → v2's. Each path is relative to init's cgroup namespace: "/" in a
// namespace of its own, the path from the host's root without one.
// Named hierarchies (systemd's) are left out: no controller of theirs.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	return parseCgroups(string(data)), nil
}

// parseCgroups reads /proc/PID/cgroup's lines, as ownCgroups says.
func parseCgroups(data string) map[string]string {
	own := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		fields := strings.SplitN(line, ":", 3)
		if len(fields) == 3 && !strings.HasPrefix(fields[1], "name=") {
			own[fields[1]] = fields[2]
		}
	}
	return own
}

// mountHierarchies mounts each v1 hierarchy init is in below dir, and
// links each controller of a co-mounted pair (cpu → cpu,cpuacct).
func mountHierarchies(r root, dir string, own map[string]string, ro uintptr) error {
	for _, controllers := range slices.Sorted(maps.Keys(own)) {
		cgroup := own[controllers]
		if controllers == "" {
			continue // v2's tree beside v1's hierarchies (systemd's hybrid)
		}
		name := path.Join(dir, controllers)
		fd, err := r.mkdirAll(name)
		if err != nil {
			return err
		}
		const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		host := path.Join("/sys/fs/cgroup", controllers, cgroup)
		if cgroup == "/" {
			err = newOrBound(r, name, fd, "cgroup", controllers, host, flags|ro)
		} else {
			err = bindCgroup(r, name, fd, host, flags|ro)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mount the %s hierarchy: %w", controllers, err)
		}
		if err := linkControllers(r, dir, controllers); err != nil {
			return err
		}
	}
	return nil
}

// newOrBound mounts a new cgroup filesystem (fstype, data) on fd, at
// name beneath the root. In a user namespace the kernel allows that
// only in a cgroup namespace that user namespace owns, and refuses it
// otherwise (EPERM; runc takes EBUSY the same way): then host, the
// container's own folder of the host's cgroups, is bound there instead,
// as runc binds it, so the container still sees its own cgroup.
func newOrBound(r root, name string, fd int, fstype, data, host string, flags uintptr) error {
	refused := mountOn(fd, "cgroup", fstype, flags, data)
	if !errors.Is(refused, unix.EPERM) && !errors.Is(refused, unix.EBUSY) {
		return refused
	}
	if err := bindCgroup(r, name, fd, host, flags); err != nil {
		return fmt.Errorf("bind %s, as a new %s mount was refused (%w): %w", host, fstype, refused, err)
	}
	return nil
}

// bindCgroup binds host, a folder of the host's cgroups, onto fd, at
// name beneath the root, then remounts it with flags' ro, nosuid, nodev
// and noexec: a bind takes its source's flags, read-write here, and only
// a remount changes them (a bind left writable was runc's
// CVE-2023-25809).
func bindCgroup(r root, name string, fd int, host string, flags uintptr) error {
	if err := mountOn(fd, host, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	flags &= unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if flags == 0 {
		return nil
	}
	return r.onMount(name, func(mount string) error { return remount(mount, flags) })
}

// linkControllers links each controller of a co-mounted hierarchy to it.
func linkControllers(r root, dir, controllers string) error {
	names := strings.Split(controllers, ",")
	if len(names) < 2 {
		return nil
	}
	parent, err := r.mkdirAll(dir)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	for _, name := range names {
		if err := unix.Symlinkat(controllers, parent, name); err != nil && err != unix.EEXIST {
			return fmt.Errorf("link %s to %s: %w", name, controllers, err)
		}
	}
	return nil
}
