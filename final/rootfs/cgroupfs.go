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
// It is made before pivot_root, so that the host's cgroups are there to
// bind (hostCgroups).
func cgroupMount(r root, m spec.Mount, o options) error {
	own, err := ownCgroups()
	if err != nil {
		return err
	}
	var fs unix.Statfs_t
	v2 := unix.Statfs(hostCgroups, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
	return mountCgroups(r, m.Target, o.flags, hostCgroups, own, v2)
}

// MountCgroups makes m, boxcraft run's cgroup mount (c.CgroupMount), as
// Docker's: init calls it after pivot_root, once it is in its cgroup and
// has entered its own cgroup namespace. Every hierarchy is a new mount,
// which shows the namespace's root, the container's own cgroup: the
// host's cgroups, out of reach by then, are not needed.
//
// before is init's cgroups as OwnCgroups read them before it entered its
// namespace, and cgroup the container's own ("/boxcraft/ID"). Only the
// hierarchies where init is in it are mounted: in one that the runtime
// does not manage (v1's net_cls or perf_event, the hybrid's v2 tree),
// init is still in its monitor's cgroup, often the root, and a new mount
// there would show the host's whole tree. The v2 tree is mounted when
// the container's cgroup is in it: on a v2 host.
func MountCgroups(m spec.Mount, before map[string]string, cgroup string) error {
	mine := containersHierarchies(before, cgroup)
	if len(mine) == 0 {
		return fmt.Errorf("mount the cgroups on %s: init is in none of the container's cgroups (%s)", m.Target, cgroup)
	}
	_, v2 := mine[""]
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := mountCgroups(root{fd: fd}, m.Target, parseOptions(m.Options).flags, "", mine, v2); err != nil {
		return fmt.Errorf("mount the cgroups on %s: %w", m.Target, err)
	}
	return nil
}

// containersHierarchies are the hierarchies of before (init's cgroups,
// by hierarchy) where init is in cgroup, each at its namespace's root.
func containersHierarchies(before map[string]string, cgroup string) map[string]string {
	mine := map[string]string{}
	for controllers, p := range before {
		if p == cgroup {
			mine[controllers] = "/"
		}
	}
	return mine
}

// OwnCgroups is init's cgroups by hierarchy, as ownCgroups reads them:
// init reads them for MountCgroups before it enters its cgroup
// namespace, where every path reads "/".
func OwnCgroups() (map[string]string, error) { return ownCgroups() }

// hostCgroups is where the host's cgroups are, before pivot_root.
const hostCgroups = "/sys/fs/cgroup"

// mountCgroups mounts the cgroups own names (init's, by hierarchy) at
// dir, with flags (ro, nosuid, …): v2's tree alone when v2, else v1's
// hierarchies.
//
// On v2 it is the cgroup2 filesystem, which shows the cgroup namespace's
// root: the container's own cgroup when it has a namespace of its own.
// On v1 it is a tmpfs holding one folder per hierarchy: in a cgroup
// namespace (or at a hierarchy's root) a new mount of that hierarchy,
// otherwise the container's own folder of it, bound from hosts, as runc
// does. Where the kernel refuses a new mount (a user namespace without a
// cgroup namespace of its own), the container's own folder is bound.
// With hosts "" (after pivot_root), every mount is a new one.
func mountCgroups(r root, dir string, flags uintptr, hosts string, own map[string]string, v2 bool) error {
	target, err := r.mkdirAll(dir)
	if err != nil {
		return fmt.Errorf("make the target: %w", err)
	}
	defer unix.Close(target)
	if v2 {
		err := newOrBound(r, dir, target, "cgroup2", "", bindable(hosts, own[""]), flags)
		if errors.Is(err, unix.EBUSY) && hosts == "" {
			err = cgroup2OverTmpfs(r, dir, target, flags)
		}
		return err
	}
	if err := mountOn(target, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	if err := mountHierarchies(r, dir, own, hosts, flags&unix.MS_RDONLY); err != nil {
		return err
	}
	if flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return r.onMount(dir, remountReadOnly)
}

// cgroup2OverTmpfs mounts cgroup2 on dir after a tmpfs. The kernel
// refuses a filesystem on the top of a mount of its own (EBUSY), and dir
// may be the top of the host's cgroup2, bound with the host's /sys where
// a user namespace may not mount sysfs (mountSys): the tmpfs goes
// between them.
func cgroup2OverTmpfs(r root, dir string, target int, flags uintptr) error {
	if err := mountOn(target, "tmpfs", "tmpfs", flags, "mode=755"); err != nil {
		return err
	}
	top, err := r.open(dir, unix.O_PATH|unix.O_DIRECTORY, 0) // the tmpfs, not what is below it
	if err != nil {
		return err
	}
	defer unix.Close(top)
	return mountOn(top, "cgroup", "cgroup2", flags, "")
}

// bindable is the host's folder of a cgroup below hosts, or "" when
// there are no host's cgroups to bind.
func bindable(hosts string, elem ...string) string {
	if hosts == "" {
		return ""
	}
	return path.Join(append([]string{hosts}, elem...)...)
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
func mountHierarchies(r root, dir string, own map[string]string, hosts string, ro uintptr) error {
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
		host := bindable(hosts, controllers, cgroup)
		if cgroup == "/" || host == "" {
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
// as runc binds it, so the container still sees its own cgroup. With no
// host ("": none to bind), a refusal is the error.
func newOrBound(r root, name string, fd int, fstype, data, host string, flags uintptr) error {
	refused := mountOn(fd, "cgroup", fstype, flags, data)
	if host == "" || !errors.Is(refused, unix.EPERM) && !errors.Is(refused, unix.EBUSY) {
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
