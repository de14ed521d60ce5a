// This file reads docker run's limit flags into spec.Resources (step03
// taught them). It checks what can be checked here: the ranges docker run
// and the kernel keep, sizes, the host's CPUs and memory nodes, the
// devices named. What only the cgroup filesystem knows (is BFQ there, is
// swap counted, can this kernel throttle) cgroups.New checks, and its
// refusal names the flag as these do.

package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
)

// Bounds that docker run keeps too, and the kernel's defaults.
const (
	defaultCPUPeriod = 100000  // µs: the kernel's default CFS period
	minCPUPeriod     = 1000    // µs: the kernel refuses a shorter period or quota
	maxCPUPeriod     = 1000000 // µs
	minShares        = 2       // the kernel's range for cpu.shares
	maxShares        = 262144  //
	minMemory        = 6 << 20 // docker run's floor: less and the container cannot even start
	minBlkioWeight   = 10      // docker run's range for --blkio-weight
	maxBlkioWeight   = 1000    //
	minPidsLimit     = 16      // see checkPidsLimit
)

// Where the host lists its CPUs and memory nodes, as "0-2,4".
const (
	onlineCPUs  = "/sys/devices/system/cpu/online"
	onlineNodes = "/sys/devices/system/node/online"
)

// addLimitFlags adds the limit flags to run's, named and valued as docker
// run's, so that what a learner knows from Docker works here.
func addLimitFlags(flags *pflag.FlagSet) {
	flags.String("cpus", "", "how many CPUs' worth of time, e.g. 0.5 (--cpu-quota 50000 per --cpu-period 100000)")
	flags.Int64("cpu-period", 0, "the CPU period, in µs (1000 to 1000000; the kernel's default is 100000)")
	flags.Int64("cpu-quota", 0, "the CPU time allowed in each period, in µs (at least 1000)")
	flags.Int64("cpu-shares", 0, "the weight against other cgroups when CPUs are busy (2 to 262144; default 1024)")
	flags.String("cpuset-cpus", "", "the CPUs it may run on, e.g. 0-2,4")
	flags.String("cpuset-mems", "", "the memory (NUMA) nodes it may use, e.g. 0")
	flags.StringP("memory", "m", "", "the memory limit, e.g. 64m (suffix b, k, m or g)")
	flags.String("memory-swap", "", "memory plus swap, e.g. 128m, or -1 for no swap limit (default: twice --memory)")
	flags.Int64("pids-limit", 0, fmt.Sprintf("the most tasks (processes and threads) at once, at least %d; 0 or -1 for no limit", minPidsLimit))
	flags.Int64("blkio-weight", 0, "the weight for block I/O against other cgroups (10 to 1000)")
	addList(flags, "device-read-bps", "", "DEVICE:RATE, reads from a block device per second, e.g. /dev/loop3:1mb")
	addList(flags, "device-write-bps", "", "DEVICE:RATE, writes to a block device per second")
	addList(flags, "device-read-iops", "", "DEVICE:N, read operations on a block device per second")
	addList(flags, "device-write-iops", "", "DEVICE:N, write operations on a block device per second")
}

// parseLimits reads and checks every limit flag, so that nothing is made
// when one of them is wrong. Each error names its flag.
func parseLimits(flags *pflag.FlagSet) (spec.Resources, error) {
	var r spec.Resources
	var err error
	if err := parseCPU(flags, &r); err != nil {
		return r, err
	}
	if r.CpusetCPUs, err = cpuset(flags, "cpuset-cpus", onlineCPUs, "CPUs"); err != nil {
		return r, err
	}
	if r.CpusetMems, err = cpuset(flags, "cpuset-mems", onlineNodes, "memory nodes"); err != nil {
		return r, err
	}
	if err := parseMemory(flags, &r); err != nil {
		return r, err
	}
	if limit, _ := flags.GetInt64("pids-limit"); flags.Changed("pids-limit") {
		if r.PidsLimit, err = checkPidsLimit(limit); err != nil {
			return r, err
		}
	}
	r.BlkioWeight, _ = flags.GetInt64("blkio-weight")
	if flags.Changed("blkio-weight") && (r.BlkioWeight < minBlkioWeight || r.BlkioWeight > maxBlkioWeight) {
		return r, fmt.Errorf("--blkio-weight %d: give %d to %d", r.BlkioWeight, minBlkioWeight, maxBlkioWeight)
	}
	r.Throttles, err = parseThrottles(flags)
	return r, err
}

// parseCPU reads --cpus, --cpu-period, --cpu-quota and --cpu-shares.
// --cpus is the other two in one: 0.5 is 50000 µs per 100000.
func parseCPU(flags *pflag.FlagSet, r *spec.Resources) error {
	var err error
	r.CPUPeriod, _ = flags.GetInt64("cpu-period")
	r.CPUQuota, _ = flags.GetInt64("cpu-quota")
	if cpus, _ := flags.GetString("cpus"); flags.Changed("cpus") {
		if flags.Changed("cpu-period") || flags.Changed("cpu-quota") {
			return errors.New("--cpus sets --cpu-quota and --cpu-period: give one or the others")
		}
		if r.CPUQuota, err = cpusQuota(cpus); err != nil {
			return err
		}
		r.CPUPeriod = defaultCPUPeriod
	}
	switch {
	case flags.Changed("cpu-period") && (r.CPUPeriod < minCPUPeriod || r.CPUPeriod > maxCPUPeriod):
		return fmt.Errorf("--cpu-period %d: give %d to %d µs", r.CPUPeriod, minCPUPeriod, maxCPUPeriod)
	case flags.Changed("cpu-quota") && r.CPUQuota < minCPUPeriod:
		return fmt.Errorf("--cpu-quota %d: give at least %d µs", r.CPUQuota, minCPUPeriod)
	}
	r.CPUShares, _ = flags.GetInt64("cpu-shares")
	if flags.Changed("cpu-shares") && (r.CPUShares < minShares || r.CPUShares > maxShares) {
		return fmt.Errorf("--cpu-shares %d: give %d to %d", r.CPUShares, minShares, maxShares)
	}
	return nil
}

// cpusQuota turns --cpus into a quota per default period: 0.5 CPUs may
// run 50000 µs in every 100000.
func cpusQuota(text string) (int64, error) {
	cpus, err := strconv.ParseFloat(text, 64)
	online, onlineErr := readCPUList(onlineCPUs)
	switch {
	case err != nil:
		return 0, fmt.Errorf("--cpus %q: give a number, e.g. 0.5", text)
	case onlineErr != nil:
		return 0, fmt.Errorf("--cpus: %w", onlineErr)
	case !(cpus*defaultCPUPeriod >= minCPUPeriod): // NaN too
		return 0, fmt.Errorf("--cpus %s: give at least 0.01", text)
	case cpus > float64(len(online)):
		return 0, fmt.Errorf("--cpus %s: this machine has %d CPUs", text, len(online))
	}
	return int64(cpus*defaultCPUPeriod + 0.5), nil
}

// cpuset checks a --cpuset-cpus or --cpuset-mems list ("0-2,4") against
// what the host has, listed in the same form in a file under /sys.
func cpuset(flags *pflag.FlagSet, flag, hostFile, what string) (string, error) {
	text, _ := flags.GetString(flag)
	if !flags.Changed(flag) {
		return "", nil
	}
	asked, err := cgroups.ParseCPUList(text)
	if err != nil || len(asked) == 0 {
		return "", fmt.Errorf("--%s %q: give numbers and ranges, e.g. 0-2,4", flag, text)
	}
	host, err := readCPUList(hostFile)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	for _, n := range asked {
		if !slices.Contains(host, n) {
			return "", fmt.Errorf("--%s %s: this machine has no %d (its %s are %s)", flag, text, n, what, cgroups.FormatCPUList(host))
		}
	}
	return text, nil
}

// readCPUList reads a list such as /sys/devices/system/cpu/online. A
// kernel without NUMA has no node folder: its memory is node 0.
func readCPUList(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && strings.Contains(path, "/node/") {
		return []int{0}, nil
	}
	if err != nil {
		return nil, err
	}
	return cgroups.ParseCPUList(strings.TrimSpace(string(data)))
}

// parseMemory reads -m and --memory-swap. As with docker run, the swap
// limit counts memory plus swap, and without --memory-swap the container
// may swap as much as its memory limit: memory plus swap is twice it.
func parseMemory(flags *pflag.FlagSet, r *spec.Resources) error {
	var err error
	if text, _ := flags.GetString("memory"); flags.Changed("memory") && !zeroSize(text) { // -m 0: no limit, as docker run's
		if r.Memory, err = parseSize("--memory", text); err != nil {
			return err
		}
		if r.Memory < minMemory {
			return fmt.Errorf("--memory %s: give at least %s", text, formatBytes(minMemory))
		}
	}
	text, _ := flags.GetString("memory-swap")
	r.SwapGiven = flags.Changed("memory-swap")
	switch {
	case r.SwapGiven && r.Memory == 0:
		return errors.New("--memory-swap needs --memory: it is the two together")
	case r.SwapGiven && text == "-1":
		r.MemorySwap = spec.Unlimited
	case r.SwapGiven:
		if r.MemorySwap, err = parseSize("--memory-swap", text); err != nil {
			return err
		}
		if r.MemorySwap < r.Memory {
			return fmt.Errorf("--memory-swap %s is less than --memory: it counts memory plus swap", text)
		}
	case r.Memory != 0:
		r.MemorySwap = 2 * r.Memory
	}
	return nil
}

// sizePattern is a size as docker run takes one: a number of bytes, or of
// k, m or g (1024, 1024², 1024³), with an optional b: 64m, 64mb, 512k.
var sizePattern = lazyRegexp(`^([0-9]+)([kKmMgG]?)[bB]?$`)

// zeroSize says whether text is a size of nothing: 0, 0m, …
func zeroSize(text string) bool {
	m := sizePattern().FindStringSubmatch(text)
	return m != nil && strings.Trim(m[1], "0") == ""
}

// parseSize reads a size such as 64m into bytes.
func parseSize(flag, text string) (int64, error) {
	m := sizePattern().FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("%s %q: give a size, e.g. 64m (b, k, m or g)", flag, text)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30}[strings.ToLower(m[2])]
	if err != nil || n == 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%s %q: give a size above zero and below 4 exbibytes", flag, text)
	}
	return n << shift, nil
}

// formatBytes writes a size the way a person would: 64 MiB, 1 GiB.
func formatBytes(n int64) string {
	for _, unit := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<unit.shift && n%(1<<unit.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>unit.shift, unit.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkPidsLimit returns the limit to set: as with docker run, 0 or less
// is no limit. It refuses a limit too low for boxcraft itself: pids.max
// counts tasks, threads as well as processes, and init is a Go program
// that runs several threads until it becomes the command. A limit below
// what it needs would end it before the command starts.
func checkPidsLimit(n int64) (int64, error) {
	switch {
	case n <= 0:
		return spec.Unlimited, nil
	case n < minPidsLimit:
		return 0, fmt.Errorf("--pids-limit %d: give at least %d (boxcraft's init, a Go program, runs several threads before it becomes the command, and each counts), or -1 for no limit", n, minPidsLimit)
	}
	return n, nil
}

// parseThrottles reads the four --device-… flags, each given any number
// of times.
func parseThrottles(flags *pflag.FlagSet) ([]spec.Throttle, error) {
	var throttles []spec.Throttle
	for _, op := range []string{"read", "write"} {
		for _, unit := range []string{"bps", "iops"} {
			flag := "device-" + op + "-" + unit
			values := getList(flags, flag)
			for _, value := range values {
				t, err := parseThrottle(flag, value)
				if err != nil {
					return nil, err
				}
				t.Op, t.Unit = op, unit
				throttles = append(throttles, t)
			}
		}
	}
	return throttles, nil
}

// parseThrottle reads DEVICE:RATE. The device must be a block device:
// the kernel names it by its major and minor numbers, which stat gives.
func parseThrottle(flag, value string) (spec.Throttle, error) {
	var t spec.Throttle
	device, rate, ok := strings.Cut(value, ":")
	if !ok || device == "" {
		return t, fmt.Errorf("--%s %q: want DEVICE:RATE, e.g. /dev/loop3:1mb", flag, value)
	}
	var st unix.Stat_t
	if err := unix.Stat(device, &st); err != nil { // stat(2) gives a device node's numbers
		return t, fmt.Errorf("--%s %s: %w", flag, device, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return t, fmt.Errorf("--%s %s: not a block device", flag, device)
	}
	t.Major, t.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
	var err error
	if strings.HasSuffix(flag, "bps") {
		t.Rate, err = parseSize("--"+flag, rate)
	} else if t.Rate, err = strconv.ParseInt(rate, 10, 64); err != nil || t.Rate <= 0 {
		err = fmt.Errorf("--%s %q: give a number of operations above zero", flag, value)
	}
	return t, err
}
