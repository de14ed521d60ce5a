package monitor

import (
	"syscall"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// sysProcAttr asks clone(2) for the container's namespaces (step02).
//
// The cgroup namespace is not among them: init makes it once it is in its
// cgroup (containerinit). The mount namespace always is: the root is
// pivoted into (step04).
//
// With a user namespace, init becomes the map's root before it execs
// (Credential): an unmapped user would lose every capability at execve.
// It starts in its root folder, inherited (see onOwnThread).
func sysProcAttr(c *spec.Container) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: cloneFlags(c.Namespaces),
		Pdeathsig:  unix.SIGKILL, // the container dies with its monitor
		// A session of its own: no way into the caller's terminal. With
		// -t, init makes the session's terminal (final/console).
		Setsid: true,
	}
	if c.StartFifo != "" {
		// An OCI create: the runtime exits at once, and the engine
		// (containerd's shim, a subreaper) adopts and reaps init.
		attr.Pdeathsig = 0
	}
	if c.Namespaces.User() {
		attr.UidMappings = sysMaps(c.Namespaces.UIDMap)
		attr.GidMappings = sysMaps(c.Namespaces.GIDMap)
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	return attr
}

func cloneFlags(n spec.Namespaces) uintptr {
	flags := uintptr(unix.CLONE_NEWNS)
	for _, ns := range []struct {
		on   bool
		flag uintptr
	}{
		{n.UTS, unix.CLONE_NEWUTS}, {n.PID, unix.CLONE_NEWPID}, {n.IPC, unix.CLONE_NEWIPC},
		{n.Net, unix.CLONE_NEWNET}, {n.User(), unix.CLONE_NEWUSER},
	} {
		if ns.on {
			flags |= ns.flag
		}
	}
	return flags &^ joinedFlags(n) // joined by path (join.go), not new
}

func sysMaps(maps []spec.IDMap) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range maps {
		out = append(out, syscall.SysProcIDMap{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	return out
}
