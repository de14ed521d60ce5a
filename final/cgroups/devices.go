package cgroups

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
)

// The device cgroup decides which device nodes a container's processes
// may open (r, w) and make (m, mknod). A device node is only a name for
// a device's numbers: root inside with CAP_MKNOD can make one for the
// host's disk in any folder it can write, so the nodes in /dev are not
// what protects the host; the kernel asks the device cgroup at every
// open and mknod, even root's. On v1 the devices hierarchy holds the
// list as text (devices_v1.go); v2 has no such controller, and a BPF
// program attached to the cgroup answers instead (devices_v2.go).

// wildcard is "any number" in a rule (v1's *).
const wildcard = -1

// deviceRule allows access to the devices of one type and numbers.
type deviceRule struct {
	kind         byte  // 'c' (character), 'b' (block) or 'a' (both)
	major, minor int64 // or wildcard
	access       string
}

// String is the rule as v1's devices.allow reads it: "c 1:3 rwm".
func (r deviceRule) String() string {
	number := func(n int64) string {
		if n == wildcard {
			return "*"
		}
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%c %s:%s %s", r.kind, number(r.major), number(r.minor), r.access)
}

// defaultDeviceRules are runc's (libcontainer/specconv's AllowedDevices),
// which Docker uses: mknod of any device (a node that cannot be opened
// is harmless, and images ship nodes that unpacking makes), the devices
// every /dev holds (final/rootfs), the terminals of the container's own
// devpts (136:*, and its ptmx 5:2), and /dev/net/tun (10:200), which
// runc allows for VPN software and which reaches only the container's
// own network namespace.
func defaultDeviceRules() []deviceRule {
	return []deviceRule{
		{'c', wildcard, wildcard, "m"}, {'b', wildcard, wildcard, "m"},
		{'c', 1, 3, "rwm"}, {'c', 1, 8, "rwm"}, {'c', 1, 7, "rwm"}, // null, random, full
		{'c', 5, 0, "rwm"}, {'c', 1, 5, "rwm"}, {'c', 1, 9, "rwm"}, // tty, zero, urandom
		{'c', 136, wildcard, "rwm"}, {'c', 5, 2, "rwm"}, // pts/*, ptmx
		{'c', 10, 200, "rwm"}, // net/tun
	}
}

// deviceRules are the rules a container's settings ask for: the
// defaults, then one per --device. allowAll is --privileged: every device.
func deviceRules(s spec.Security) (rules []deviceRule, allowAll bool) {
	if s.Privileged {
		return nil, true
	}
	rules = defaultDeviceRules()
	for _, d := range s.Devices {
		if d.Type != "p" { // a fifo (an OCI bundle's) is no device: the cgroup has no rule for it
			rules = append(rules, deviceRule{d.Type[0], d.Major, d.Minor, d.Access})
		}
	}
	return rules, false
}

// checkDevice refuses a device the rules cannot say: a type other than
// c or b, a negative number, an access other than some of rwm.
func checkDevice(d spec.Device) error {
	access := strings.Trim(d.Access, "rwm")
	if (d.Type != "c" && d.Type != "b") || d.Major < 0 || d.Minor < 0 || d.Access == "" || access != "" {
		return fmt.Errorf("device %s: want type c or b, numbers, and access of r, w, m (got %s %d:%d %q)", d.Path, d.Type, d.Major, d.Minor, d.Access)
	}
	return nil
}

// limitDevices lets the cgroup's processes use only the default devices
// and s.Devices (every device with s.Privileged). The runtime calls it
// right after New, before any process is in the cgroup.
func (c *Cgroup) limitDevices(s spec.Security) error {
	for _, d := range s.Devices {
		if d.Type == "p" {
			continue
		}
		if err := checkDevice(d); err != nil {
			return err
		}
	}
	rules, allowAll := deviceRules(s)
	return c.m.limitDevices(rules, allowAll)
}
