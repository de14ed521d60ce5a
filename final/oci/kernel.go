package oci

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The fields of config.json that init writes into the kernel's
// namespaced settings (issue 23): domainname (the UTS namespace), sysctl
// (/proc/sys, written through the container's own /proc) and
// timeOffsets (the time namespace's clocks).

// convertKernel reads domainname, sysctl and timeOffsets into c.OCI,
// refusing what would change the host's: a sysctl whose namespace the
// container does not have of its own (runc's validator's rule), a
// domainname without a UTS namespace, offsets without a time namespace.
func convertKernel(s *specs.Spec, c *spec.Container, timeNS bool) error {
	o := c.OCI
	l := s.Linux
	if s.Domainname != "" {
		if !c.Namespaces.UTS {
			return refuse("domainname", "needs a uts namespace of the container's own")
		}
		o.Domainname = s.Domainname
	}
	for key, value := range l.Sysctl {
		if err := checkSysctl(key, c.Namespaces); err != nil {
			return err
		}
		if o.Sysctl == nil {
			o.Sysctl = map[string]string{}
		}
		o.Sysctl[key] = value
	}
	if len(l.TimeOffsets) > 0 && !timeNS {
		return refuse("linux.timeOffsets", "needs a time namespace: list {\"type\": \"time\"} in linux.namespaces")
	}
	for clock, off := range l.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return refuse("linux.timeOffsets", "%q: a time namespace moves monotonic and boottime only", clock)
		}
		if o.TimeOffsets == nil {
			o.TimeOffsets = map[string]spec.TimeOffset{}
		}
		o.TimeOffsets[clock] = spec.TimeOffset{Secs: off.Secs, Nanosecs: off.Nanosecs}
	}
	o.TimeNamespace = timeNS
	return nil
}

// checkSysctl refuses key unless it is held by a namespace the container
// has of its own (a new one, or one joined that is not boxcraft-runc's).
func checkSysctl(key string, ns spec.Namespaces) error {
	field := "linux.sysctl." + key
	switch {
	case strings.ContainsAny(key, "/") || strings.Contains(key, ".."):
		return refuse(field, "not a sysctl key")
	case containerinit.SysctlNamespace(key) == "ipc":
		if !ns.IPC {
			return refuse(field, "not allowed in the host's ipc namespace")
		}
	case containerinit.SysctlNamespace(key) == "net":
		if !ns.Net || isOwnNamespace(ns.Join["net"], "net") {
			return refuse(field, "not allowed in the host's network namespace")
		}
	case key == "kernel.domainname" && ns.UTS:
	case key == "kernel.hostname" && ns.UTS:
		return refuse(field, "conflicts with the hostname field: set that")
	default:
		return refuse(field, "not in a namespace of the container's own: it would change the host's")
	}
	return nil
}

// isOwnNamespace says whether path names boxcraft-runc's own namespace
// of kind: the one a sysctl must not be written into.
func isOwnNamespace(path, kind string) bool {
	if path == "" {
		return false
	}
	var theirs, ours unix.Stat_t
	if unix.Stat(path, &theirs) != nil || unix.Stat("/proc/self/ns/"+kind, &ours) != nil {
		return true // unknown: refused, never risked
	}
	return theirs.Dev == ours.Dev && theirs.Ino == ours.Ino
}

// checkUTS refuses a hostname without a uts namespace of the
// container's own, as runc does: it would rename the host.
func checkUTS(s *specs.Spec, ns spec.Namespaces) error {
	if s.Hostname != "" && !ns.UTS {
		return refuse("hostname", "needs a uts namespace of the container's own")
	}
	return nil
}

// joinKinds are the namespace types a config may name by path, by the
// kind boxcraft's Join calls them.
var joinKinds = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc",
	specs.UTSNamespace: "uts", specs.MountNamespace: "mnt", specs.CgroupNamespace: "cgroup",
}

func describeJoin(kind specs.LinuxNamespaceType) string {
	if kind == specs.UserNamespace {
		return "a user namespace cannot be joined by a process of many threads (boxcraft's Go runtime)"
	}
	if kind == specs.TimeNamespace {
		return "a time namespace cannot be joined by a process of many threads (boxcraft's Go runtime)"
	}
	return fmt.Sprintf("%q is not implemented", kind)
}
