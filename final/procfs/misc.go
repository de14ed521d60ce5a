package procfs

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/cgroups"
)

// renderUptime is /proc/uptime: the container's time since it started,
// and the idle time of its CPUs over that time (each CPU's time less
// what the container ran), both in seconds.
func renderUptime(up float64, cpus int, u usage) string {
	idle := up*float64(cpus) - float64(u.totalUser+u.totalSystem)/1e9
	return fmt.Sprintf("%.2f %.2f\n", up, max(idle, 0))
}

// renderLoadavg is /proc/loadavg: the container's load averages, its
// runnable tasks over all of them, and its newest pid.
func renderLoadavg(loads [3]float64, running, all, last int) string {
	return fmt.Sprintf("%.2f %.2f %.2f %d/%d %d\n", loads[0], loads[1], loads[2], running, all, last)
}

// io is one block device's counts, from the cgroup.
type io struct {
	reads, writes, readBytes, writeBytes uint64
}

// blockIO reads the cgroup's I/O by device ("MAJOR:MINOR"): v2's io.stat
// ("8:0 rbytes=… wbytes=… rios=… wios=…"), v1's
// blkio.throttle.io_serviced and io_service_bytes ("8:0 Read N").
func (v *View) blockIO() map[string]*io {
	devs := map[string]*io{}
	get := func(dev string) *io {
		if devs[dev] == nil {
			devs[dev] = &io{}
		}
		return devs[dev]
	}
	if v.cg.V2() {
		for _, line := range strings.Split(readValue(v.cg.Dir("io"), "io.stat"), "\n") {
			f := strings.Fields(line)
			for _, kv := range f[min(1, len(f)):] {
				key, value, _ := strings.Cut(kv, "=")
				n, _ := strconv.ParseUint(value, 10, 64)
				d := get(f[0])
				switch key {
				case "rbytes":
					d.readBytes = n
				case "wbytes":
					d.writeBytes = n
				case "rios":
					d.reads = n
				case "wios":
					d.writes = n
				}
			}
		}
		return devs
	}
	for file, fields := range map[string][2]func(*io) *uint64{
		"blkio.throttle.io_serviced":      {func(d *io) *uint64 { return &d.reads }, func(d *io) *uint64 { return &d.writes }},
		"blkio.throttle.io_service_bytes": {func(d *io) *uint64 { return &d.readBytes }, func(d *io) *uint64 { return &d.writeBytes }},
	} {
		for _, line := range strings.Split(readValue(v.cg.Dir("blkio"), file), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || (f[1] != "Read" && f[1] != "Write") {
				continue
			}
			n, _ := strconv.ParseUint(f[2], 10, 64)
			if f[1] == "Read" {
				*fields[0](get(f[0])) = n
			} else {
				*fields[1](get(f[0])) = n
			}
		}
	}
	return devs
}

// renderDiskstats is /proc/diskstats for the devices the container read
// or wrote, named as the host names them: its reads and writes, and the
// sectors (512 bytes) they moved; the kernel's times are not counted by
// cgroup and read 0.
func renderDiskstats(host string, devs map[string]*io) string {
	var b strings.Builder
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		d := devs[f[0]+":"+f[1]]
		if d == nil || d.reads+d.writes == 0 {
			continue
		}
		fmt.Fprintf(&b, "%4s %7s %s %d 0 %d 0 %d 0 %d 0 0 0 0 0 0 0 0 0 0\n",
			f[0], f[1], f[2], d.reads, d.readBytes/512, d.writes, d.writeBytes/512)
	}
	return b.String()
}

// Sysinfo is sysinfo(2)'s answer for the container: its uptime, load,
// memory, swap and task count, in bytes (mem_unit 1).
func (v *View) Sysinfo() unix.Sysinfo_t {
	// The host's totals from its own sysinfo(2), which reads the counters
	// meminfo's MemTotal and SwapTotal are made of, where /proc/meminfo
	// renders some fifty figures first: 40 µs of an answer (issue 26).
	var host unix.Sysinfo_t
	if err := unix.Sysinfo(&host); err != nil {
		host.Totalram, host.Unit = 1<<62, 1 // the limit alone, then
	}
	totals := map[string]uint64{"MemTotal": host.Totalram * uint64(host.Unit), "SwapTotal": host.Totalswap * uint64(host.Unit)}
	f := v.memory(totals["SwapTotal"] > 0).figures(totals)
	var info unix.Sysinfo_t
	info.Uptime = int64(v.uptime().Seconds())
	for i, l := range v.loads() {
		info.Loads[i] = uint64(l * 65536) // fixed point, 16 bits of fraction (SI_LOAD_SHIFT)
	}
	info.Totalram, info.Freeram, info.Sharedram = f.total, f.free, f.shared
	info.Bufferram = 0
	info.Totalswap, info.Freeswap = f.swapTotal, f.swapFree
	info.Procs = uint16(min(v.taskCount(), 65535))
	info.Unit = 1
	return info
}

// Files are the files a View answers: their names in the FUSE
// filesystem, and where init binds each in the container.
var Files = []struct{ Name, Target string }{
	{"meminfo", "/proc/meminfo"}, {"cpuinfo", "/proc/cpuinfo"}, {"stat", "/proc/stat"},
	{"uptime", "/proc/uptime"}, {"loadavg", "/proc/loadavg"}, {"swaps", "/proc/swaps"},
	{"diskstats", "/proc/diskstats"}, {"online", "/sys/devices/system/cpu/online"},
}

// Render is the text of the file named name (one of Files), now; "" for
// a name not among them.
func (v *View) Render(name string) string {
	switch name {
	case "meminfo", "swaps":
		host := v.hostFile("meminfo")
		m := v.memory(parseMeminfo(host)["SwapTotal"] > 0)
		if name == "swaps" {
			return renderSwaps(host, m)
		}
		return renderMeminfo(host, m)
	case "cpuinfo":
		return renderCPUInfo(v.hostFile("cpuinfo"), v.cpus())
	case "stat":
		return renderStat(v.hostFile("stat"), v.cpus(), v.cpuUsage())
	case "online":
		return cgroups.FormatCPUList(v.cpus()) + "\n"
	case "uptime":
		return renderUptime(v.uptime().Seconds(), len(v.cpus()), v.cpuUsage())
	case "loadavg":
		running, all, last := v.tasks()
		return renderLoadavg(v.loads(), running, all, last)
	case "diskstats":
		return renderDiskstats(v.hostFile("diskstats"), v.blockIO())
	}
	return ""
}
