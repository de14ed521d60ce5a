package containerinit

import (
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/hooks"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// What an OCI bundle asks of init beyond boxcraft run's settings (issue
// 23, c.OCI): the domainname, the sysctls, and the hooks that run in the
// container's namespaces. runc's standard_init_linux.go does the same,
// in the same places.

// joined says that the container's namespace of kind was joined by path,
// not made: init leaves it as it is (no lo brought up, no pid restart).
func joined(c *spec.Container, kind string) bool { return c.Namespaces.Join[kind] != "" }

// ociSteps are the bundle's settings that init applies once the root is
// pivoted into: the domainname (the UTS namespace's other name), the
// root's propagation, the umask (execve keeps it), then the sysctls,
// through the container's own /proc/sys, before it is made read-only.
func ociSteps(c *spec.Container) []step {
	o := c.OCI
	if o == nil {
		return nil
	}
	var list []step
	if o.Domainname != "" {
		list = append(list, step{"issue23", "set the domainname", func() error { return setDomainname(o.Domainname) }})
	}
	if flags := propagation[o.RootfsPropagation]; flags != 0 {
		list = append(list, step{"issue23", "set the root's propagation", func() error { return setRootPropagation(flags) }})
	}
	if o.Umask != nil {
		mask := int(*o.Umask)
		list = append(list, step{"issue23", "set the umask", func() error { unix.Umask(mask); return nil }})
	}
	if len(o.Sysctl) > 0 {
		list = append(list, step{"issue23", "write the sysctls", func() error { return writeSysctls(o.Sysctl) }})
	}
	return list
}

// setDomainname names the UTS namespace's NIS domain: the container's
// own, as its hostname is (final/oci refuses it without a new UTS
// namespace).
func setDomainname(name string) error {
	if err := unix.Setdomainname([]byte(name)); err != nil {
		return fmt.Errorf("setdomainname %q: %w", name, err)
	}
	return nil
}

// runContainerHooks runs the bundle's hooks of kind (createContainer,
// startContainer) from init, in the container's namespaces, with the
// state as runc gives it: init's own pid, as the container sees it.
// None of init's inherited descriptors (its report pipe, the fifo) go to
// a hook: a hook that left a child behind would hold them open.
func runContainerHooks(c *spec.Container, kind string, list []spec.Hook, status specs.ContainerState) error {
	if len(list) == 0 {
		return nil
	}
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("keep init's files from the hooks: %w", err)
	}
	return hooks.Run(kind, list, hooks.State(c.OCI.HookState, status, os.Getpid()))
}

// createContainerHooks is what rootfs runs between the mounts and
// pivot_root, where runc runs the createContainer hooks: the mounts are
// made, and the host's folders are still reachable.
func createContainerHooks(c *spec.Container) func() error {
	if c.OCI == nil || len(c.OCI.CreateContainer) == 0 {
		return nil
	}
	return func() error {
		return runContainerHooks(c, "createContainer", c.OCI.CreateContainer, specs.StateCreating)
	}
}

// startContainerHooks run once start has opened the fifo, before the
// command: inside the new root, as the container's user.
func startContainerHooks(c *spec.Container) error {
	if c.OCI == nil {
		return nil
	}
	return runContainerHooks(c, "startContainer", c.OCI.StartContainer, specs.StateCreated)
}

// propagation are rootfsPropagation's values, as mount(2) flags.
var propagation = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// setRootPropagation gives the new root the propagation the bundle asks
// for, once pivoted into, as runc does: every mount of the container's
// namespace was made private before (rootfs), so a shared root is a
// peer group of the container's own, and nothing reaches the host's.
func setRootPropagation(flags uintptr) error {
	if err := unix.Mount("", "/", "", flags, ""); err != nil {
		return fmt.Errorf("linux.rootfsPropagation: %w", err)
	}
	return nil
}
