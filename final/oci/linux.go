package oci

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// convertLinux reads linux: namespaces and id maps (step02), resources
// and cgroupsPath (step03), the security fields (issue 20).
func convertLinux(s *specs.Spec, c *spec.Container, id, defaultParent string) error {
	l := s.Linux
	if err := refuseUnimplementedLinux(l); err != nil {
		return err
	}
	var err error
	var timeNS bool
	if c.Namespaces, timeNS, err = convertNamespaces(l.Namespaces, l.UIDMappings, l.GIDMappings); err != nil {
		return err
	}
	if err := checkUTS(s, c.Namespaces); err != nil {
		return err
	}
	if err := convertKernel(s, c, timeNS); err != nil {
		return err
	}
	c.Network.Mode = spec.NetworkHost
	if c.Namespaces.Net {
		c.Network.Mode = spec.NetworkNone // lo alone, as runc gives a new network namespace
	}
	if c.CgroupParent, c.Cgroup, err = convertCgroupsPath(l.CgroupsPath, id, defaultParent); err != nil {
		return err
	}
	if l.Resources != nil {
		if c.Resources, err = convertResources(l.Resources, l.Devices); err != nil {
			return err
		}
	}
	if l.Seccomp != nil {
		if c.Security.Seccomp, err = convertSeccomp(l.Seccomp); err != nil {
			return err
		}
	}
	c.OCI.RootfsPropagation = l.RootfsPropagation
	c.Security.MaskedPaths, c.Security.ReadonlyPaths = l.MaskedPaths, l.ReadonlyPaths
	c.Security.Devices, err = convertDevices(l.Devices)
	return err
}

func refuseUnimplementedLinux(l *specs.Linux) error {
	switch {
	case l.RootfsPropagation != "" && !propagations[l.RootfsPropagation]:
		return refuse("linux.rootfsPropagation", "%q: give shared, slave, private or unbindable, or their r… forms", l.RootfsPropagation)
	case l.MountLabel != "":
		return refuse("linux.mountLabel", "not implemented (boxcraft has no SELinux)")
	case l.IntelRdt != nil:
		return refuse("linux.intelRdt", "not implemented")
	case l.Personality != nil:
		return refuse("linux.personality", "not implemented")
	}
	return nil
}

// convertNamespaces: each listed namespace is new, or joined when it
// names a path (but a user or time namespace, which a Go program cannot
// join); the mount namespace must be listed (pivot_root needs one). It
// also says whether a time namespace is listed.
func convertNamespaces(list []specs.LinuxNamespace, uids, gids []specs.LinuxIDMapping) (spec.Namespaces, bool, error) {
	var n spec.Namespaces
	seen := map[specs.LinuxNamespaceType]bool{}
	for i, ns := range list {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		if seen[ns.Type] {
			return n, false, refuse(field+".type", "%q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			kind, ok := joinKinds[ns.Type]
			if !ok {
				return n, false, refuse(field+".path", "%s", describeJoin(ns.Type))
			}
			if n.Join == nil {
				n.Join = map[string]string{}
			}
			n.Join[kind] = ns.Path
		}
		switch ns.Type {
		case specs.PIDNamespace:
			n.PID = true
		case specs.NetworkNamespace:
			n.Net = true
		case specs.IPCNamespace:
			n.IPC = true
		case specs.UTSNamespace:
			n.UTS = true
		case specs.CgroupNamespace:
			n.Cgroup = true
		case specs.MountNamespace, specs.UserNamespace, specs.TimeNamespace:
		default:
			return n, false, refuse(field+".type", "%q is not implemented", ns.Type)
		}
	}
	if !seen[specs.MountNamespace] {
		return n, false, refuse("linux.namespaces", "no mount namespace: boxcraft pivots into the root, which needs one")
	}
	if seen[specs.UserNamespace] != (len(uids) > 0) || len(uids) > 0 != (len(gids) > 0) {
		return n, false, refuse("linux.uidMappings", "a user namespace and both id maps go together")
	}
	for _, m := range uids {
		n.UIDMap = append(n.UIDMap, spec.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range gids {
		n.GIDMap = append(n.GIDMap, spec.IDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return n, seen[specs.TimeNamespace], nil
}

// convertCgroupsPath splits cgroupsPath, /boxcraft/PARENT…/NAME, into
// boxcraft's parent and the container's own cgroup's name: boxcraft
// makes cgroups below its own alone (step03). A relative path is taken
// below defaultParent; without one, the container goes below
// defaultParent, named by its id.
func convertCgroupsPath(p, id, defaultParent string) (parent, name string, err error) {
	if p == "" {
		return defaultParent, id, nil
	}
	if strings.Contains(p, ":") {
		return "", "", refuse("linux.cgroupsPath", "%q: a systemd slice:prefix:name is not implemented (--systemd-cgroup)", p)
	}
	clean := strings.TrimPrefix(path.Clean("/"+p), "/")
	if !strings.HasPrefix(p, "/") {
		// Relative: below the runtime's own place, which the spec lets
		// the runtime choose: boxcraft's parent.
		clean = path.Join(defaultParent, clean)
	}
	parent, name = path.Split(clean)
	parent = strings.TrimSuffix(parent, "/")
	if err := cgroups.CheckParent(parent); err != nil || name == "" {
		return "", "", refuse("linux.cgroupsPath", "%q: boxcraft makes cgroups below /%s/ only (give e.g. /%s/PARENT/NAME)", p, cgroups.Workshop, cgroups.Workshop)
	}
	return parent, name, nil
}

// convertDevices: linux.devices, made in /dev and allowed (issue 20).
func convertDevices(list []specs.LinuxDevice) ([]spec.Device, error) {
	var out []spec.Device
	for i, d := range list {
		if d.Type != "c" && d.Type != "b" && d.Type != "p" {
			return nil, refuse(fmt.Sprintf("linux.devices[%d].type", i), "%q: boxcraft makes c, b and p (fifo) devices", d.Type)
		}
		if (d.UID != nil && *d.UID != 0) || (d.GID != nil && *d.GID != 0) {
			return nil, refuse(fmt.Sprintf("linux.devices[%d].uid", i), "not implemented: the node is root's (0:0)")
		}
		mode := uint32(0o666)
		if d.FileMode != nil {
			mode = uint32(*d.FileMode & os.ModePerm)
		}
		dev := spec.Device{Path: d.Path, Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: mode, Access: "rwm"}
		if d.Type == "p" {
			dev.Major, dev.Minor, dev.Access = 0, 0, "" // a fifo: no device number, no cgroup rule
		}
		out = append(out, dev)
	}
	return out, nil
}

// propagations are rootfsPropagation's values (containerinit makes them
// mount(2)'s flags).
var propagations = map[string]bool{"private": true, "rprivate": true, "slave": true, "rslave": true,
	"shared": true, "rshared": true, "unbindable": true, "runbindable": true}
