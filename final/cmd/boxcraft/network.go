package main

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/spf13/pflag"
)

// addNetworkFlags adds -p, --subnet and the name-resolution flags
// (dnsflags.go); --network is with the other namespaces (settings.go).
func addNetworkFlags(flags *pflag.FlagSet) {
	addList(flags, "publish", "p", "[IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]: publish a port of the container on the host's (repeatable)")
	flags.String("subnet", "", "the bridge's subnet, when it is made (default "+network.DefaultSubnet+")")
	addNameFlags(flags)
}

// parseNetwork reads --network, -p and --subnet into c.Network and says
// whether the container gets a network namespace of its own. Every
// value is checked here, before anything is made. --network
// container:NAME takes that container's ID.
func parseNetwork(rt *runtime.Runtime, flags *pflag.FlagSet, n *spec.Network) (bool, error) {
	mode, _ := flags.GetString("network")
	n.Subnet, _ = flags.GetString("subnet")
	published := getList(flags, "publish")
	for _, p := range published {
		port, err := network.ParsePort(p)
		if err != nil {
			return false, err
		}
		n.Ports = append(n.Ports, port)
	}
	if err := network.CheckPorts(n.Ports); err != nil {
		return false, err
	}
	if n.Subnet != "" {
		subnet, err := network.ParseSubnet(n.Subnet)
		if err != nil {
			return false, err
		}
		if err := network.CheckSubnet(subnet); err != nil {
			return false, err
		}
	}
	switch {
	case mode == network.ModeBridge || mode == "default":
		n.Mode = network.ModeBridge
		return true, nil
	case mode == network.ModeNone || mode == network.ModeHost:
		n.Mode = mode
	case strings.HasPrefix(mode, network.ModeContainer) && len(mode) > len(network.ModeContainer):
		other, err := rt.Get(strings.TrimPrefix(mode, network.ModeContainer))
		if err != nil {
			return false, fmt.Errorf("--network %s: %w", mode, err)
		}
		if other.Status.Status != state.Running {
			return false, fmt.Errorf("--network %s: the container is not running: its network namespace goes with it", mode)
		}
		n.Mode = network.ModeContainer + other.ID
	default:
		return false, fmt.Errorf("--network %q: give bridge, none, host or container:NAME", mode)
	}
	if len(n.Ports) > 0 || n.Subnet != "" {
		return false, fmt.Errorf("--network %s: -p and --subnet are for the bridge network", mode)
	}
	return mode == network.ModeNone, nil
}

// portCommand is docker port: the ports a container publishes, one line
// each (80/tcp -> 0.0.0.0:8080), or with PORT[/PROTO] the host's
// addresses of that one (0.0.0.0:8080).
func portCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 && flags.NArg() != 2 {
		return statusFailed, fmt.Errorf("give one container, and a port if you like: boxcraft port CONTAINER [PORT[/PROTO]]")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	c, err := rt.Get(flags.Arg(0))
	if err != nil {
		return statusOf(err), err
	}
	ports := heldPorts(c)
	if flags.NArg() == 1 {
		for _, p := range ports {
			fmt.Fprintln(a.stdout, network.PortString(p))
		}
		return 0, nil
	}
	want := flags.Arg(1)
	if !strings.Contains(want, "/") {
		want += "/tcp"
	}
	found := false
	for _, p := range ports {
		if network.ContainerPort(p) == want {
			fmt.Fprintln(a.stdout, network.HostAddress(p))
			found = true
		}
	}
	if !found {
		return statusFailed, fmt.Errorf("no public port %s published for %s", want, c.Record.Spec.Name)
	}
	return 0, nil
}

// networkCommand is docker network, of which boxcraft has prune: the
// bridge and nftables table go once no container uses them.
func networkCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 || flags.Arg(0) != "prune" {
		return statusFailed, fmt.Errorf("boxcraft network prune is the one network command: it removes the bridge %s and table ip %s", network.Bridge, network.Table)
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	removed, err := network.Prune(network.Dir(rt.Dirs.Run))
	if err != nil {
		return statusFailed, err
	}
	for _, r := range removed {
		fmt.Fprintln(a.stdout, "removed", r)
	}
	return 0, nil
}

// heldPorts are the ports a container publishes, while it runs and holds
// them: a stopped one holds none, as Docker's.
func heldPorts(c runtime.Container) []spec.Port {
	if c.Status.Status != state.Running {
		return nil
	}
	return c.Record.Spec.Network.Ports
}
