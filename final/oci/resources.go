package oci

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// convertResources reads linux.resources into the limits step03 taught.
func convertResources(r *specs.LinuxResources, devices []specs.LinuxDevice) (spec.Resources, error) {
	var out spec.Resources
	if err := refuseUnimplementedResources(r); err != nil {
		return out, err
	}
	if m := r.Memory; m != nil {
		//lint:ignore SA1019 Kernel is deprecated, and still refused when given.
		kernel := m.Kernel != nil
		if kernel || m.Reservation != nil || m.KernelTCP != nil || m.Swappiness != nil ||
			m.DisableOOMKiller != nil || m.UseHierarchy != nil || m.CheckBeforeUpdate != nil {
			return out, refuse("linux.resources.memory", "only limit and swap are implemented")
		}
		out.Memory = deref(m.Limit)
		// Not given (or 0, which runc takes as not given): swap is not
		// limited, rather than Docker's twice the memory.
		out.MemorySwap = spec.Unlimited
		if m.Swap != nil && *m.Swap != 0 {
			out.MemorySwap, out.SwapGiven = *m.Swap, true
		}
	}
	if c := r.CPU; c != nil {
		if c.RealtimePeriod != nil || c.RealtimeRuntime != nil || c.Idle != nil || c.Burst != nil {
			return out, refuse("linux.resources.cpu", "only shares, quota, period, cpus and mems are implemented")
		}
		out.CPUShares, out.CPUQuota = int64(derefU(c.Shares)), deref(c.Quota)
		out.CPUPeriod = int64(derefU(c.Period))
		out.CpusetCPUs, out.CpusetMems = c.Cpus, c.Mems
	}
	if r.Pids != nil {
		out.PidsLimit = r.Pids.Limit
		if out.PidsLimit <= 0 {
			out.PidsLimit = spec.Unlimited
		}
	}
	if b := r.BlockIO; b != nil {
		if b.LeafWeight != nil || len(b.WeightDevice) > 0 {
			return out, refuse("linux.resources.blockIO", "only weight and the throttles are implemented (no leafWeight, no weightDevice)")
		}
		if b.Weight != nil {
			out.BlkioWeight = int64(*b.Weight)
		}
		out.Throttles = convertThrottles(b)
	}
	return out, checkDeviceRules(r.Devices, devices)
}

func refuseUnimplementedResources(r *specs.LinuxResources) error {
	switch {
	case len(r.HugepageLimits) > 0:
		return refuse("linux.resources.hugepageLimits", "not implemented")
	case r.Network != nil:
		return refuse("linux.resources.network", "not implemented")
	case len(r.Rdma) > 0:
		return refuse("linux.resources.rdma", "not implemented")
	case len(r.Unified) > 0:
		return refuse("linux.resources.unified", "not implemented")
	}
	return nil
}

// allowedByDefault are boxcraft's device cgroup's rules (final/cgroups,
// runc's own defaults) and 5:1, /dev/console, which engines list and
// which in boxcraft is the pty, bound there (final/rootfs), not 5:1.
var allowedByDefault = []specs.LinuxDeviceCgroup{
	{Type: "c", Access: "m"}, {Type: "b", Access: "m"},
	dev("c", 1, 3), dev("c", 1, 8), dev("c", 1, 7), dev("c", 5, 0), dev("c", 1, 5), dev("c", 1, 9),
	{Type: "c", Major: i64(136), Access: "rwm"}, dev("c", 5, 2), dev("c", 10, 200), dev("c", 5, 1),
}

func dev(kind string, major, minor int64) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Type: kind, Major: &major, Minor: &minor, Access: "rwm"}
}

func i64(n int64) *int64 { return &n }

// checkDeviceRules accepts linux.resources.devices when boxcraft's
// device cgroup gives exactly that: all denied first, then allowed only
// what boxcraft allows anyway or linux.devices lists. Anything else it
// could not enforce, and refuses.
func checkDeviceRules(rules []specs.LinuxDeviceCgroup, devices []specs.LinuxDevice) error {
	for i, r := range rules {
		field := fmt.Sprintf("linux.resources.devices[%d]", i)
		if i == 0 {
			if r.Allow || (r.Type != "" && r.Type != "a") || r.Major != nil || r.Minor != nil {
				return refuse(field, "boxcraft's device cgroup starts by denying every device: the first rule must be {\"allow\": false, \"access\": \"rwm\"}")
			}
			continue
		}
		if !r.Allow || !(coveredByDefaults(r) || listedDevice(r, devices)) {
			return refuse(field, "%s %s:%s %s: boxcraft allows its default devices and linux.devices only", r.Type, num(r.Major), num(r.Minor), r.Access)
		}
	}
	return nil
}

func coveredByDefaults(r specs.LinuxDeviceCgroup) bool {
	for _, d := range allowedByDefault {
		if d.Type == r.Type && num(d.Major) == num(r.Major) && num(d.Minor) == num(r.Minor) && subsetOf(r.Access, d.Access) {
			return true
		}
	}
	return false
}

func listedDevice(r specs.LinuxDeviceCgroup, devices []specs.LinuxDevice) bool {
	for _, d := range devices {
		if d.Type == r.Type && r.Major != nil && r.Minor != nil && *r.Major == d.Major && *r.Minor == d.Minor {
			return true
		}
	}
	return false
}

func subsetOf(access, of string) bool {
	for _, c := range access {
		if !strings.ContainsRune(of, c) {
			return false
		}
	}
	return true
}

func num(n *int64) string {
	if n == nil || *n == -1 {
		return "*"
	}
	return fmt.Sprint(*n)
}

func deref(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

func derefU(n *uint64) uint64 {
	if n == nil {
		return 0
	}
	return *n
}

// ConvertUpdate reads the resources of an update (runc update
// --resources, as containerd sends them): the fields create takes, each
// refused as create refuses it; only those given change.
func ConvertUpdate(r *specs.LinuxResources) (spec.Resources, error) {
	out, err := convertResources(r, nil)
	if err != nil {
		return out, err
	}
	if r.Memory == nil || r.Memory.Limit == nil {
		if out.SwapGiven {
			return out, refuse("linux.resources.memory.swap", "give the memory limit with it")
		}
		out.MemorySwap = 0
	}
	return out, nil
}

// convertThrottles are blockIO's rate limits, by device: boxcraft run's
// --device-read-bps and its kin (step03).
func convertThrottles(b *specs.LinuxBlockIO) []spec.Throttle {
	var out []spec.Throttle
	for _, kind := range []struct {
		op, unit string
		list     []specs.LinuxThrottleDevice
	}{
		{"read", "bps", b.ThrottleReadBpsDevice}, {"write", "bps", b.ThrottleWriteBpsDevice},
		{"read", "iops", b.ThrottleReadIOPSDevice}, {"write", "iops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range kind.list {
			out = append(out, spec.Throttle{Major: uint32(d.Major), Minor: uint32(d.Minor), Op: kind.op, Unit: kind.unit, Rate: int64(d.Rate)})
		}
	}
	return out
}
