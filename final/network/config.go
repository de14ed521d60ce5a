package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
)

// The bridge, its default subnet and the nftables table boxcraft keeps
// its rules in.
const (
	Bridge        = "boxcraft0"
	DefaultSubnet = "10.88.0.0/16"
	Table         = "boxcraft"
)

// The modes of --network (spec's, where the monitor reads them).
const (
	ModeBridge = spec.NetworkBridge
	ModeNone   = spec.NetworkNone
	ModeHost   = spec.NetworkHost
	// ModeContainer is "container:NAME": the namespace of another
	// container, as a pod's containers share one.
	ModeContainer = spec.NetworkContainer
)

// Port is one published port: -p [IP:]HOST:CTR[/tcp|/udp].
type Port = spec.Port

// PortString is how `boxcraft port` shows a published port, as Docker
// does: 80/tcp -> 0.0.0.0:8080.
func PortString(p Port) string {
	return fmt.Sprintf("%s -> %s", ContainerPort(p), HostAddress(p))
}

// ContainerPort is the container's side of a published port: 80/tcp.
func ContainerPort(p Port) string {
	return fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto)
}

// HostAddress is the host's side of a published port: 0.0.0.0:8080 when
// it is published on every address.
func HostAddress(p Port) string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort)))
}

// clashes says whether two published ports may not be held at once: one
// protocol and host port, on one address or on all of them.
func clashes(p, q Port) bool {
	return p.Proto == q.Proto && p.HostPort == q.HostPort && (p.HostIP == "" || q.HostIP == "" || p.HostIP == q.HostIP)
}

// ParsePort reads one -p: [IP:]HOSTPORT:CTRPORT[/tcp|/udp].
func ParsePort(s string) (Port, error) {
	bad := func(why string) (Port, error) {
		return Port{}, fmt.Errorf("-p %q: %s: give [IP:]HOSTPORT:CONTAINERPORT[/tcp|/udp], e.g. 8080:80", s, why)
	}
	p := Port{Proto: "tcp"}
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		p.Proto, rest = rest[i+1:], rest[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return bad("the protocol is tcp or udp")
		}
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 2:
	case 3:
		ip, err := netip.ParseAddr(parts[0])
		if err != nil || !ip.Is4() {
			return bad("the host address is an IPv4 address")
		}
		p.HostIP, parts = ip.String(), parts[1:]
	default:
		return bad("a host port and a container port")
	}
	var err error
	if p.HostPort, err = parsePortNumber(parts[0]); err != nil {
		return bad("the host port " + err.Error())
	}
	if p.ContainerPort, err = parsePortNumber(parts[1]); err != nil {
		return bad("the container port " + err.Error())
	}
	return p, nil
}

func parsePortNumber(s string) (uint16, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("is a number from 1 to 65535")
	}
	return uint16(n), nil
}

// CheckPorts refuses two -p of one run that publish one host port.
func CheckPorts(ports []Port) error {
	for i, p := range ports {
		for _, q := range ports[:i] {
			if clashes(p, q) {
				return fmt.Errorf("-p: host port %d/%s is given twice", p.HostPort, p.Proto)
			}
		}
	}
	return nil
}

// ParseSubnet reads --subnet: an IPv4 prefix with room for a gateway and
// at least one container, given as its network address.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 || p.Bits() < 8 || p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: give an IPv4 network from /8 to /30, e.g. %s", s, DefaultSubnet)
	}
	return p, nil
}

// Gateway is the bridge's address: the subnet's first.
func Gateway(subnet netip.Prefix) netip.Addr { return subnet.Addr().Next() }

// Dir is the allocator's folder in a state folder's run/ part
// (/run/boxcraft/network): leases go at reboot, with the bridge.
func Dir(run string) string { return filepath.Join(run, "network") }
