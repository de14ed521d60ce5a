package oci

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ownMounts are the filesystems boxcraft's root set-up makes itself
// (final/rootfs, step04): a config must list each, with its type, and
// boxcraft makes it its way (a new proc for a new pid namespace, sysfs
// read-only, a /dev holding the standard devices). mqueue goes with a
// new ipc namespace.
var ownMounts = map[string]string{
	"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs", "/sys": "sysfs", "/dev/mqueue": "mqueue",
}

// bindOptions are the options a bind takes (final/rootfs).
var bindOptions = []string{"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "noatime", "relatime", "strictatime",
	"private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"}

// convertMounts reads mounts: the root's own are checked against what
// boxcraft makes, the rest (binds, tmpfs, the cgroup filesystem) are
// made in order (step04).
func convertMounts(list []specs.Mount, ns spec.Namespaces, bundle string) ([]spec.Mount, error) {
	var out []spec.Mount
	listed := map[string]bool{}
	for i, m := range list {
		field := fmt.Sprintf("mounts[%d]", i)
		dest := path.Clean(m.Destination)
		if !path.IsAbs(dest) {
			return nil, refuse(field+".destination", "%q: must be absolute", m.Destination)
		}
		if own, ok := ownMounts[dest]; ok && m.Type == own {
			listed[dest] = true
			continue
		}
		converted, err := convertMount(m, field, bundle)
		if err != nil {
			return nil, err
		}
		out = append(out, converted)
	}
	for dest := range ownMounts {
		if dest == "/dev/mqueue" && !ns.IPC {
			if listed[dest] {
				return nil, refuse("mounts", "/dev/mqueue without a new ipc namespace: not implemented")
			}
			continue
		}
		if !listed[dest] {
			return nil, refuse("mounts", "%s (%s) is not listed: boxcraft always mounts it (final/rootfs), so a config must ask for it", dest, ownMounts[dest])
		}
	}
	return out, nil
}

func convertMount(m specs.Mount, field, bundle string) (spec.Mount, error) {
	dest := path.Clean(m.Destination)
	isBind := m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
	switch {
	case isBind:
		for _, o := range m.Options {
			if !slices.Contains(bindOptions, o) {
				return spec.Mount{}, refuse(field+".options", "%q on a bind: boxcraft takes %v", o, bindOptions)
			}
		}
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(bundle, source)
		}
		return spec.Mount{Source: source, Target: dest, Type: "bind", Options: m.Options}, nil
	case m.Type == "tmpfs":
		return spec.Mount{Source: m.Source, Target: dest, Type: "tmpfs", Options: m.Options}, nil
	case m.Type == "cgroup" || m.Type == "cgroup2":
		// Either type asks for the container's cgroups: final/rootfs
		// mounts the host's version, or binds the container's own
		// folders where the kernel refuses a new mount (a user
		// namespace without a cgroup namespace), as runc does.
		return spec.Mount{Source: "cgroup", Target: dest, Type: "cgroup", Options: m.Options}, nil
	}
	return spec.Mount{}, refuse(field, "type %q on %s is not implemented (bind, tmpfs, cgroup, and the root's own: %v)", m.Type, dest, ownMounts)
}
