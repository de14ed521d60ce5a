package rootfs

import (
	"fmt"
	"os"
	"path"
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
func cgroupMount(r root, m spec.Mount, o options) error {
	target, err := r.mkdirAll(m.Target)
	if err != nil {
		return fmt.Errorf("make the target: %w", err)
	}
	defer unix.Close(target)
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
		return mountOn(target, "cgroup", "cgroup2", o.flags, "")
	}
	if err := mountOn(target, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return err
	}
	if err := mountHierarchies(r, m.Target, o.flags&unix.MS_RDONLY); err != nil {
		return err
	}
	if o.flags&unix.MS_RDONLY == 0 {
		return nil
	}
	return r.onMount(m.Target, remountReadOnly)
}

// mountHierarchies mounts each v1 hierarchy init is in (/proc/self/cgroup:
// "ID:CONTROLLERS:PATH") below dir, and links each controller of a
// co-mounted pair (cpu → cpu,cpuacct).
func mountHierarchies(r root, dir string, ro uintptr) error {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.SplitN(line, ":", 3)
		if len(fields) != 3 || fields[1] == "" || strings.HasPrefix(fields[1], "name=") {
			continue // v2's line, or a named hierarchy (systemd's): not a controller's
		}
		controllers, own := fields[1], fields[2]
		fd, err := r.mkdirAll(path.Join(dir, controllers))
		if err != nil {
			return err
		}
		const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
		if own == "/" {
			err = mountOn(fd, "cgroup", "cgroup", flags|ro, controllers)
		} else {
			err = mountOn(fd, path.Join("/sys/fs/cgroup", controllers, own), "", unix.MS_BIND, "")
			if err == nil && ro != 0 {
				err = r.onMount(path.Join(dir, controllers), remountReadOnly)
			}
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
