package testkit

import (
	endian "encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The outside world of a network test: a second network namespace,
// joined to the test's own (its "host") by a veth pair, as a LAN joins
// a machine to the rest of the world. The host's end has UplinkAddr,
// the outside's OutsideAddr; the outside has no route to anything else,
// so a container's packet can come back from there only if the host
// masqueraded it as UplinkAddr.
var (
	UplinkNet   = netip.MustParsePrefix("192.0.2.0/24") // TEST-NET-1: never a real network
	UplinkAddr  = netip.MustParseAddr("192.0.2.1")
	OutsideAddr = netip.MustParseAddr("192.0.2.2")
)

// Outside is the outside world's namespace.
type Outside struct{ path string }

// NewOutside makes the outside world of the test, gone when it ends.
func NewOutside(t testing.TB) Outside {
	t.Helper()
	host, _ := TestNetns(t)
	out := newNetns(t)
	err := RunInNetns(host, func() error {
		nsFD, err := unix.Open(out.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(nsFD)
		if err := addVeth("uplink0", "outside0", nsFD); err != nil {
			return err
		}
		return upWithAddr("uplink0", UplinkAddr, UplinkNet.Bits())
	})
	if err == nil {
		err = RunInNetns(out.path, func() error { return upWithAddr("outside0", OutsideAddr, UplinkNet.Bits()) })
	}
	if err != nil {
		t.Fatalf("the outside world's namespace: %v", err)
	}
	return Outside{path: out.path}
}

// Do runs fn in the outside world: a socket fn makes belongs there.
func (o Outside) Do(fn func() error) error { return RunInNetns(o.path, fn) }

// RunInNetns runs fn on a thread of its own in the network namespace at
// path. The thread is never handed back to Go's scheduler: it ends,
// still locked, with its goroutine, and the namespace it joined with it.
// A socket fn opens stays in that namespace wherever it is used later.
func RunInNetns(path string, fn func() error) error {
	errc := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// addVeth makes a veth pair, name here, peer in the namespace nsFD, as
// `ip link add NAME type veth peer name PEER netns NS` does: one
// RTM_NEWLINK with the peer's attributes nested in the link's.
func addVeth(name, peer string, nsFD int) error {
	peerAttrs := append(ifinfomsg(0, 0), attr(unix.IFLA_IFNAME, cString(peer))...)
	peerAttrs = append(peerAttrs, attr(unix.IFLA_NET_NS_FD, u32(uint32(nsFD)))...)
	info := append(attr(unix.IFLA_INFO_KIND, []byte("veth")), attr(unix.IFLA_INFO_DATA, attr(1 /* VETH_INFO_PEER */, peerAttrs))...)
	body := append(ifinfomsg(0, 0), attr(unix.IFLA_IFNAME, cString(name))...)
	body = append(body, attr(unix.IFLA_LINKINFO, info)...)
	return netlinkDo(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
}

// upWithAddr gives the link addr/bits and brings it up.
func upWithAddr(name string, addr netip.Addr, bits int) error {
	link, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	ip := addr.As4()
	msg := []byte{unix.AF_INET, byte(bits), 0, unix.RT_SCOPE_UNIVERSE}
	msg = append(msg, u32(uint32(link.Index))...)
	msg = append(msg, attr(unix.IFA_LOCAL, ip[:])...)
	msg = append(msg, attr(unix.IFA_ADDRESS, ip[:])...)
	if err := netlinkDo(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, msg); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, name, err)
	}
	return netlinkDo(unix.RTM_NEWLINK, 0, ifinfomsg(int32(link.Index), unix.IFF_UP))
}

// netlinkDo sends one request on a new rtnetlink socket of the calling
// thread's namespace, and reads its acknowledgement.
func netlinkDo(typ uint16, flags uint16, body []byte) error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	endian.NativeEndian.PutUint32(msg[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	endian.NativeEndian.PutUint16(msg[4:], typ)
	endian.NativeEndian.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	endian.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(s, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(s, buf, 0)
	if err != nil {
		return err
	}
	if n < unix.NLMSG_HDRLEN+4 || endian.NativeEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return fmt.Errorf("netlink: an unexpected answer")
	}
	if errno := int32(endian.NativeEndian.Uint32(buf[unix.NLMSG_HDRLEN:])); errno != 0 {
		return unix.Errno(-errno)
	}
	return nil
}

// ifinfomsg is struct ifinfomsg for link index, setting flags (IFF_UP).
func ifinfomsg(index int32, flags uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	endian.NativeEndian.PutUint32(b[4:], uint32(index))
	endian.NativeEndian.PutUint32(b[8:], flags)
	endian.NativeEndian.PutUint32(b[12:], flags) // change: the flags given
	return b
}

// attr is one rtattr, padded to 4 bytes.
func attr(typ uint16, data []byte) []byte {
	n := unix.SizeofRtAttr + len(data)
	b := make([]byte, (n+3)&^3)
	endian.NativeEndian.PutUint16(b[0:], uint16(n))
	endian.NativeEndian.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

func cString(s string) []byte { return append([]byte(s), 0) }

func u32(v uint32) []byte { return endian.NativeEndian.AppendUint32(nil, v) }
