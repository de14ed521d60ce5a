package monitor

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// joinNetwork puts the thread that clones init into the network
// namespace of the container that --network container:ID names, so that
// init is born in it (setns changes the calling thread alone; the thread
// is locked, and ends with the container: onOwnThread).
func joinNetwork(c *spec.Container, dirs state.Dirs) error {
	id, ok := strings.CutPrefix(c.Network.Mode, network.ModeContainer)
	if !ok {
		return nil
	}
	st, err := dirs.ReadStatus(id)
	if err != nil || st.Status != state.Running || st.Pid == 0 {
		return fmt.Errorf("--network container:%.12s: the container is not running", id)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", st.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--network container:%.12s: its network namespace: %w", id, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("--network container:%.12s: join its network namespace: %w", id, err)
	}
	return nil
}

// attachNetwork connects a container on the bridge once init is in its
// new network namespace, before init is given its settings: the command
// starts with its address, route and /etc files in place.
func attachNetwork(c *spec.Container, dirs state.Dirs, pid int, tr *trace.Tracer) error {
	if c.Network.Mode != network.ModeBridge {
		return nil
	}
	req := network.Request{Dir: network.Dir(dirs.Run), ID: c.ID, Pid: pid, Subnet: c.Network.Subnet, Ports: c.Network.Ports,
		Hostname: c.Hostname, Name: c.Name, Trace: tr,
		Owner: network.Owner{UID: hostRoot(c.Namespaces.UIDMap), GID: hostRoot(c.Namespaces.GIDMap)}}
	if c.Image != "" { // a folder given with --rootfs is the user's, used as it is
		req.Root = c.Root.Path
	}
	_, err := network.Attach(req)
	return err
}

// hostRoot is the host's id of the container's id 0: its map's, or 0
// without a user namespace.
func hostRoot(maps []spec.IDMap) int {
	for _, m := range maps {
		if m.ContainerID == 0 {
			return m.HostID
		}
	}
	return 0
}

// detachNetwork gives back the container's address, veth and rules.
func detachNetwork(dirs state.Dirs, rec state.Record) error {
	if rec.Spec.Network.Mode != network.ModeBridge {
		return nil
	}
	return network.Detach(network.Dir(dirs.Run), rec.Spec.ID)
}
