package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// bridge is boxcraft0 as Attach finds it: link nil when it is not there.
type bridge struct {
	link   netlink.Link
	subnet netip.Prefix // of its first IPv4 address; invalid if none
	addr   netip.Addr   // that address
	up     bool
}

// findBridge looks boxcraft0 and its address up, through h.
func findBridge(h *netlink.Handle) bridge {
	br, err := h.LinkByName(Bridge)
	if err != nil {
		return bridge{}
	}
	found := bridge{link: br, up: br.Attrs().Flags&net.FlagUp != 0}
	addrs, err := h.AddrList(br, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return found
	}
	bits, _ := addrs[0].Mask.Size()
	addr, _ := netip.AddrFromSlice(addrs[0].IP.To4())
	found.subnet, found.addr = netip.PrefixFrom(addr, bits).Masked(), addr
	return found
}

// ensureBridge makes boxcraft0 with the subnet's gateway address, up,
// the first time; later, when found has them, it changes nothing. IP
// forwarding is turned on in the namespace boxcraft runs in, and the
// bridge may route 127.0.0.1 (route_localnet), for a published port
// reached on the host's loopback.
func ensureBridge(h *netlink.Handle, found bridge, subnet netip.Prefix) (netlink.Link, error) {
	br := found.link
	if br == nil {
		if err := CheckSubnet(subnet); err != nil {
			return nil, err
		}
		// RTM_NEWLINK with kind bridge: a software switch.
		err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: Bridge}})
		if err != nil && !errors.Is(err, unix.EEXIST) { // another start made it first
			return nil, fmt.Errorf("make the bridge %s: %w", Bridge, err)
		}
		if br, err = h.LinkByName(Bridge); err != nil {
			return nil, fmt.Errorf("the bridge %s: %w", Bridge, err)
		}
	}
	if found.subnet != subnet || found.addr != Gateway(subnet) || !found.up {
		if err := addressAndUp(h, br, subnet); err != nil {
			return nil, err
		}
	}
	// sysctls of the current network namespace (/proc/sys/net follows the
	// namespace of the process that opens it): forward between
	// interfaces, and let the loopback's 127.0.0.1 be routed to the bridge
	// once a published port's rule has changed the destination.
	for path, value := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                         "1",
		"/proc/sys/net/ipv4/conf/" + Bridge + "/route_localnet": "1",
	} {
		if err := writeSysctl(path, value); err != nil {
			return nil, err
		}
	}
	return br, nil
}

// addressAndUp gives the bridge the subnet's gateway address, and brings
// it up.
func addressAndUp(h *netlink.Handle, br netlink.Link, subnet netip.Prefix) error {
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: Gateway(subnet).AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	// RTM_NEWADDR: the gateway's address, and with it the route to the
	// subnet through the bridge. Replace: a start cut short may have
	// given it already.
	if err := h.AddrReplace(br, gw); err != nil {
		return fmt.Errorf("give %s the address %s: %w", Bridge, gw.IPNet, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring %s up: %w", Bridge, err)
	}
	return nil
}

// writeSysctl writes value unless it is there already.
func writeSysctl(path, value string) error {
	if data, err := os.ReadFile(path); err == nil && string(data) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", path, value, err)
	}
	return nil
}

// CheckSubnet refuses a subnet that overlaps a route the namespace has
// already, other than the bridge's own: its containers' packets would go
// one way and their replies another.
func CheckSubnet(subnet netip.Prefix) error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4) // RTM_GETROUTE, the main table
	if err != nil {
		return fmt.Errorf("list the host's routes: %w", err)
	}
	own := -1
	if br, err := netlink.LinkByName(Bridge); err == nil {
		own = br.Attrs().Index
	}
	for _, r := range routes {
		if r.Dst == nil || r.LinkIndex == own {
			continue // the default route overlaps everything and is no clash
		}
		bits, _ := r.Dst.Mask.Size()
		addr, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		if netip.PrefixFrom(addr, bits).Overlaps(subnet) {
			return fmt.Errorf("the subnet %s overlaps the host's route to %s: give another --subnet", subnet, r.Dst)
		}
	}
	return nil
}

// bridgeSubnet is the subnet of boxcraft0's address, if it exists.
func bridgeSubnet() (netip.Prefix, bool) {
	found := findBridge(&netlink.Handle{}) // a socket per request
	return found.subnet, found.subnet.IsValid()
}

// deleteBridge deletes boxcraft0, if it is there.
func deleteBridge() error {
	br, err := netlink.LinkByName(Bridge)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(br); err != nil { // RTM_DELLINK
		return fmt.Errorf("delete the bridge %s: %w", Bridge, err)
	}
	return nil
}
