package extras

import (
	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
)

// bridge connects containers to boxcraft's bridge (monitor.Bridge),
// through final/network.
type bridge struct{}

// Attach connects init's network namespace to the bridge: its address,
// veth, published ports, and the /etc files of a root made from an
// image.
func (bridge) Attach(c *spec.Container, dirs state.Dirs, pid int, tr *trace.Tracer) error {
	req := network.Request{Dir: network.Dir(dirs.Run), ID: c.ID, Pid: pid, Subnet: c.Network.Subnet, Ports: c.Network.Ports,
		Hostname: c.Hostname, Name: c.Name, Trace: tr, Owner: rootOwner(c), Settings: c.Network}
	if c.Image != "" { // a folder given with --rootfs is the user's, used as it is
		req.Root = c.Root.Path
	}
	_, err := network.Attach(req)
	return err
}

// EtcFiles writes the /etc files of a container off the bridge (none,
// host or container:NAME), into a root made from an image.
func (bridge) EtcFiles(c *spec.Container, tr *trace.Tracer) error {
	if c.Image == "" { // a folder given with --rootfs is the user's
		return nil
	}
	return tr.Do("final/network", "write /etc/hosts, /etc/hostname, /etc/resolv.conf", func() string { return "in " + c.Root.Path },
		func() error {
			return network.OffBridgeEtcFiles(c.Root.Path, c.Hostname, c.Network.Mode == spec.NetworkHost, rootOwner(c), c.Network)
		})
}

// Detach gives back the container's address, veth and rules.
func (bridge) Detach(dirs state.Dirs, id string) error {
	return network.Detach(network.Dir(dirs.Run), id)
}

// rootOwner is who the container's root user is on the host.
func rootOwner(c *spec.Container) network.Owner {
	return network.Owner{UID: hostRoot(c.Namespaces.UIDMap), GID: hostRoot(c.Namespaces.GIDMap)}
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
