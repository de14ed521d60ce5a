package procfs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
)

// cpus are the CPUs the container may use, by the host's numbers: its
// cpuset's, the fewest that its CPU quota (quota/period, rounded up)
// needs, as LXCFS's --enable-cfs counts them. The numbers are kept, not
// renumbered from 0: they are the ones sched_getaffinity(2) and taskset
// report inside.
func (v *View) cpus() []int {
	online := parseCPUList(readValue("/sys/devices/system/cpu", "online"))
	dir, file := v.cg.Dir("cpuset"), "cpuset.effective_cpus"
	if v.cg.V2() {
		file = "cpuset.cpus.effective"
	}
	list := online
	if set := parseCPUList(readValue(dir, file)); len(set) > 0 {
		list = slices.DeleteFunc(set, func(c int) bool { return len(online) > 0 && !slices.Contains(online, c) })
	}
	if n := v.quotaCPUs(); n > 0 && n < len(list) {
		list = list[:n]
	}
	return list
}

// quotaCPUs is ⌈quota/period⌉, or 0 with no quota: v2's cpu.max
// ("max 100000" or "50000 100000"), v1's cpu.cfs_quota_us (-1: none) and
// cpu.cfs_period_us.
func (v *View) quotaCPUs() int {
	dir := v.cg.Dir("cpu")
	var quota, period string
	if v.cg.V2() {
		quota, period, _ = strings.Cut(readValue(dir, "cpu.max"), " ")
	} else {
		quota, period = readValue(dir, "cpu.cfs_quota_us"), readValue(dir, "cpu.cfs_period_us")
	}
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return int((q + p - 1) / p)
}

// parseCPUList reads a list the kernel wrote ("0-3,6\n"); nothing where
// it cannot.
func parseCPUList(text string) []int {
	list, _ := cgroups.ParseCPUList(strings.TrimSpace(text))
	return list
}

// renderCPUInfo keeps the host's /proc/cpuinfo blocks of the CPUs in
// list ("processor : N" begins each), and whatever is not a CPU's block.
func renderCPUInfo(host string, list []int) string {
	var b strings.Builder
	for _, block := range strings.SplitAfter(host, "\n\n") {
		first, _, _ := strings.Cut(block, "\n")
		name, num, ok := strings.Cut(first, ":")
		if ok && strings.TrimSpace(name) == "processor" {
			n, err := strconv.Atoi(strings.TrimSpace(num))
			if err == nil && !slices.Contains(list, n) {
				continue
			}
		}
		b.WriteString(block)
	}
	return b.String()
}

// usage is the container's CPU time, in nanoseconds, by CPU where the
// kernel counts it so (v1's cpuacct.usage_all); else in total.
type usage struct {
	user, system map[int]uint64 // by CPU; nil: only the totals are known
	totalUser    uint64
	totalSystem  uint64
}

// cpuUsage reads v2's cpu.stat (user_usec, system_usec) or v1's
// cpuacct.usage_all ("cpu user system" lines, in nanoseconds).
func (v *View) cpuUsage() usage {
	if v.cg.V2() {
		s := readKeyed(v.cg.Dir("cpu"), "cpu.stat")
		return usage{totalUser: s["user_usec"] * 1000, totalSystem: s["system_usec"] * 1000}
	}
	u := usage{user: map[int]uint64{}, system: map[int]uint64{}}
	for _, line := range strings.Split(readValue(v.cg.Dir("cpuacct"), "cpuacct.usage_all"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		c, err := strconv.Atoi(f[0])
		if err != nil {
			continue // the header
		}
		user, _ := strconv.ParseUint(f[1], 10, 64)
		system, _ := strconv.ParseUint(f[2], 10, 64)
		u.user[c], u.system[c] = user, system
		u.totalUser += user
		u.totalSystem += system
	}
	return u
}

// busy is the container's user and system time on each CPU of list, in
// clock ticks (USER_HZ, 100 a second: 10 ms): its own time on that CPU,
// plus an equal share of what it ran on CPUs not in list (all of it where
// the kernel does not count by CPU).
func (u usage) busy(list []int) (user, system map[int]uint64) {
	user, system = map[int]uint64{}, map[int]uint64{}
	if len(list) == 0 {
		return user, system
	}
	restUser, restSystem := u.totalUser, u.totalSystem
	for _, c := range list {
		user[c], system[c] = u.user[c], u.system[c]
		restUser -= u.user[c]
		restSystem -= u.system[c]
	}
	n := uint64(len(list))
	const nsPerTick = 10_000_000
	for _, c := range list {
		user[c] = (user[c] + restUser/n) / nsPerTick
		system[c] = (system[c] + restSystem/n) / nsPerTick
	}
	return user, system
}

// renderStat is the host's /proc/stat with the CPU lines the
// container's: a "cpuN" line for each CPU in list, its user and system
// time the container's, its idle time what is left of the host's time
// on that CPU (so that top's busy share is the container's), and the
// "cpu" line their sum. The other lines (interrupts, context switches,
// btime, which ps needs to date processes) stay the host's.
func renderStat(host string, list []int, u usage) string {
	user, system := u.busy(list)
	var lines []string
	var sum [3]uint64
	for _, line := range strings.Split(strings.TrimSuffix(host, "\n"), "\n") {
		name, _, _ := strings.Cut(line, " ")
		c, err := strconv.Atoi(strings.TrimPrefix(name, "cpu"))
		switch {
		case name == "cpu":
			lines = append(lines, "") // filled in below
		case strings.HasPrefix(name, "cpu") && err == nil:
			if slices.Contains(list, c) {
				idle := hostTicks(line) - min(hostTicks(line), user[c]+system[c])
				lines = append(lines, cpuLine(name, user[c], system[c], idle))
				sum[0], sum[1], sum[2] = sum[0]+user[c], sum[1]+system[c], sum[2]+idle
			}
		default:
			lines = append(lines, line)
		}
	}
	if i := slices.Index(lines, ""); i >= 0 {
		lines[i] = strings.Replace(cpuLine("cpu", sum[0], sum[1], sum[2]), "cpu ", "cpu  ", 1)
	}
	return strings.Join(lines, "\n") + "\n"
}

// cpuLine is a /proc/stat CPU line: user nice system idle iowait irq
// softirq steal guest guest_nice.
func cpuLine(name string, user, system, idle uint64) string {
	return fmt.Sprintf("%s %d 0 %d %d 0 0 0 0 0 0", name, user, system, idle)
}

// hostTicks is the host's whole time on a CPU line: its first eight
// figures (guest time is counted in user time already).
func hostTicks(line string) uint64 {
	var sum uint64
	for i, f := range strings.Fields(line)[1:] {
		if i == 8 {
			break
		}
		n, _ := strconv.ParseUint(f, 10, 64)
		sum += n
	}
	return sum
}
