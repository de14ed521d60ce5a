package cgroups

import (
	"fmt"
	"math"
	"strconv"

	"github.com/boxcraft/boxcraft/final/spec"
)

// The kernel's defaults and ranges the table needs.
const (
	defaultCPUPeriod = 100000 // µs: the kernel's default CFS period
	minShares        = 2      // v1's range for cpu.shares
	minBlkioWeight   = 10     // docker run's range for --blkio-weight
	maxBlkioWeight   = 1000   //
)

// limit is one value to write into one file of the container's cgroup.
type limit struct {
	flag       string // the flag it comes from, for the error when the kernel refuses it
	controller string // the v1 hierarchy, or the v2 controller, the file belongs to
	file       string
	value      string
	optional   bool   // left out where the kernel has no such file
	orElse     *limit // written instead where the kernel has no such file
}

// table collects limits in order.
type table []limit

func (t *table) add(flag, controller, file string, value any) *limit {
	*t = append(*t, limit{flag: flag, controller: controller, file: file, value: fmt.Sprint(value)})
	return &(*t)[len(*t)-1]
}

// v1Limits is each limit asked for, in the files of cgroup v1. The order
// matters where one file bounds another: the kernel refuses a
// memory+swap limit below the memory limit, so the memory limit comes
// first.
func v1Limits(r spec.Resources) []limit {
	var t table
	if r.CPUPeriod != 0 {
		t.add("--cpu-period", "cpu", "cpu.cfs_period_us", r.CPUPeriod)
	}
	if r.CPUQuota != 0 {
		t.add("--cpu-quota", "cpu", "cpu.cfs_quota_us", r.CPUQuota)
	}
	if r.CPUShares != 0 {
		t.add("--cpu-shares", "cpu", "cpu.shares", r.CPUShares)
	}
	t.addCpusets(r)
	if r.Memory != 0 {
		t.add("--memory", "memory", "memory.limit_in_bytes", r.Memory)
		// memsw is memory plus swap, as --memory-swap is; -1 is no limit.
		t.add("--memory-swap", "memory", "memory.memsw.limit_in_bytes", r.MemorySwap).optional = !r.SwapGiven
	}
	t.addPids(r)
	if r.BlkioWeight != 0 {
		// BFQ is the I/O scheduler that weighs on today's kernels (CFQ,
		// whose file was blkio.weight, is gone).
		t.add("--blkio-weight", "blkio", "blkio.bfq.weight", r.BlkioWeight)
	}
	for _, th := range r.Throttles {
		// One file per kind of rate; each line names a device.
		t.add(throttleFlag(th), "blkio", "blkio.throttle."+th.Op+"_"+th.Unit+"_device", fmt.Sprintf("%d:%d %d", th.Major, th.Minor, th.Rate))
	}
	return t
}

// v2Limits is each limit asked for, in the files of cgroup v2.
func v2Limits(r spec.Resources) []limit {
	var t table
	if r.CPUQuota != 0 || r.CPUPeriod != 0 {
		t.addCPUMax(r)
	}
	if r.CPUShares != 0 {
		t.add("--cpu-shares", "cpu", "cpu.weight", sharesToWeight(r.CPUShares))
	}
	t.addCpusets(r)
	if r.Memory != 0 {
		t.add("--memory", "memory", "memory.max", r.Memory)
		// swap.max counts swap alone, so it is the difference.
		swap := "max"
		if r.MemorySwap != spec.Unlimited {
			swap = strconv.FormatInt(r.MemorySwap-r.Memory, 10)
		}
		t.add("--memory-swap", "memory", "memory.swap.max", swap).optional = !r.SwapGiven
	}
	t.addPids(r)
	if r.BlkioWeight != 0 {
		// BFQ's weight where BFQ is loaded, as on v1. Else io.weight,
		// which weighs where the io.cost controller is turned on, and
		// runs 1 to 10000: the line through both ranges' ends. runc
		// chooses the same way.
		t.add("--blkio-weight", "io", "io.bfq.weight", r.BlkioWeight).orElse = &limit{flag: "--blkio-weight", controller: "io", file: "io.weight",
			value: fmt.Sprint(1 + (r.BlkioWeight-minBlkioWeight)*9999/(maxBlkioWeight-minBlkioWeight))}
	}
	for _, th := range r.Throttles {
		// One file for every rate: "MAJ:MIN rbps=N" sets one and keeps
		// the device's others.
		t.add(throttleFlag(th), "io", "io.max", fmt.Sprintf("%d:%d %s%s=%d", th.Major, th.Minor, th.Op[:1], th.Unit, th.Rate))
	}
	return t
}

// addCPUMax writes v2's one CPU file, "QUOTA PERIOD", where "max" is no
// quota.
func (t *table) addCPUMax(r spec.Resources) {
	quota, period := "max", int64(defaultCPUPeriod)
	if r.CPUQuota != 0 {
		quota = strconv.FormatInt(r.CPUQuota, 10)
	}
	if r.CPUPeriod != 0 {
		period = r.CPUPeriod
	}
	flag := "--cpu-period"
	if r.CPUQuota != 0 {
		flag = "--cpu-quota"
	}
	t.add(flag, "cpu", "cpu.max", quota+" "+strconv.FormatInt(period, 10))
}

// addCpusets: the cpuset files have the same names on both versions.
func (t *table) addCpusets(r spec.Resources) {
	if r.CpusetCPUs != "" {
		t.add("--cpuset-cpus", "cpuset", "cpuset.cpus", r.CpusetCPUs)
	}
	if r.CpusetMems != "" {
		t.add("--cpuset-mems", "cpuset", "cpuset.mems", r.CpusetMems)
	}
}

// addPids: pids.max, too, is the same on both; "max" is no limit.
func (t *table) addPids(r spec.Resources) {
	switch {
	case r.PidsLimit == spec.Unlimited:
		t.add("--pids-limit", "pids", "pids.max", "max")
	case r.PidsLimit != 0:
		t.add("--pids-limit", "pids", "pids.max", r.PidsLimit)
	}
}

// throttleFlag is the flag a throttle comes from: --device-read-bps, ….
func throttleFlag(th spec.Throttle) string { return "--device-" + th.Op + "-" + th.Unit }

// sharesToWeight turns v1's cpu.shares (2 to 262144, default 1024) into
// v2's cpu.weight (1 to 10000, default 100), as runc has since 1.3.2: a
// curve through both ranges' ends and both defaults, in powers of two on
// one side and ten on the other. (runc's first formula was a straight
// line through the ends, which took the default 1024 to 39: a container
// given the default counted for less than half of its neighbours.)
func sharesToWeight(shares int64) int64 {
	if shares <= minShares {
		return 1
	}
	l := math.Log2(float64(shares))
	return int64(math.Ceil(math.Pow(10, (l*l+125*l)/612-7.0/34)))
}
