package monitor

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/boxcraft/boxcraft/final/rootfs"
	"github.com/boxcraft/boxcraft/final/spec"
)

// bindTrees makes c's bind mounts ready on the host's side when c has a
// user namespace: each source id-mapped through the container's map
// (rootfs.OpenBind), for init to attach. init inherits them as fds
// containerinit.FirstTreeFD, FirstTreeFD+1 …, in the order of c.Mounts'
// binds. Without a user namespace, init binds the sources itself.
func bindTrees(c *spec.Container) ([]*os.File, error) {
	if !c.Namespaces.User() || !hasBind(c.Mounts) {
		return nil, nil
	}
	userns, err := mappingNamespace(c.Namespaces)
	if err != nil {
		return nil, err
	}
	defer userns.Close()
	var trees []*os.File
	for _, m := range c.Mounts {
		if m.Type != "bind" {
			continue
		}
		tree, err := rootfs.OpenBind(m, int(userns.Fd()))
		if err != nil {
			closeAll(trees...)
			return nil, fmt.Errorf("volume %s: %w", m.Source, err)
		}
		trees = append(trees, tree)
	}
	return trees, nil
}

func hasBind(mounts []spec.Mount) bool {
	for _, m := range mounts {
		if m.Type == "bind" {
			return true
		}
	}
	return false
}

// mappingNamespace makes a user namespace with the container's maps, for
// MOUNT_ATTR_IDMAP, before the container's own exists (runc makes such a
// namespace too): an id-mapped mount needs only a map, and a tree made
// before clone is inherited as any descriptor is. A namespace needs a
// process to be made: boxcraft's init, which waits for its settings on a
// pipe before it does anything, holds it while its descriptor is opened;
// then the pipe closes, it ends, and the descriptor keeps the namespace.
func mappingNamespace(n spec.Namespaces) (*os.File, error) {
	wait, hold, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer hold.Close()
	path, args := initPath()
	cmd := &exec.Cmd{
		Path: path, Args: args, Env: []string{},
		ExtraFiles:  []*os.File{wait},
		SysProcAttr: sysProcAttr(&spec.Container{Namespaces: spec.Namespaces{UIDMap: n.UIDMap, GIDMap: n.GIDMap}}),
	}
	err = cmd.Start()
	wait.Close()
	if err != nil {
		return nil, fmt.Errorf("make a user namespace for id-mapped volumes: %w", err)
	}
	userns, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	hold.Close()
	_ = cmd.Wait() // init ends at once, with no settings (status 125)
	if err != nil {
		return nil, fmt.Errorf("open the user namespace for id-mapped volumes: %w", err)
	}
	return userns, nil
}
