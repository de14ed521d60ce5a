package procfs

import (
	"fmt"
	"strconv"
	"strings"
)

// memory is what the container's memory cgroup says, in bytes, with
// memory.stat under v2's names.
type memory struct {
	limit, usage         uint64 // limit 0: none
	swapLimit, swapUsage uint64 // swapLimit 0: none
	stat                 map[string]uint64
}

// v1Stat names v2's memory.stat figures in v1's (total_: the cgroup and
// those below it, as v2 counts).
var v1Stat = map[string]string{
	"total_cache": "file", "total_rss": "anon", "total_shmem": "shmem",
	"total_mapped_file": "file_mapped", "total_dirty": "file_dirty", "total_writeback": "file_writeback",
	"total_active_anon": "active_anon", "total_inactive_anon": "inactive_anon",
	"total_active_file": "active_file", "total_inactive_file": "inactive_file",
	"total_unevictable": "unevictable",
}

// noLimitV1 is where v1's limits stop being limits (the largest count
// of pages it holds, where v2 says "max").
const noLimitV1 = 1 << 62

// memory reads the memory cgroup: v2's memory.current, memory.max,
// memory.stat and memory.swap.*; v1's memory.usage_in_bytes and
// memory.stat, which holds the limits too (hierarchical_memory_limit,
// and hierarchical_memsw_limit: memory and swap together, the swap being
// the difference). The swap's files are read only when the host has swap
// (withSwap): each file is a system call or three on every answer.
func (v *View) memory(withSwap bool) memory {
	dir := v.cg.Dir("memory")
	var m memory
	if v.cg.V2() {
		m.usage, _ = readNumber(dir, "memory.current")
		m.limit, _ = readNumber(dir, "memory.max")
		if withSwap {
			m.swapLimit, _ = readNumber(dir, "memory.swap.max")
			m.swapUsage, _ = readNumber(dir, "memory.swap.current")
		}
		m.stat = readKeyed(dir, "memory.stat")
		return m
	}
	m.usage, _ = readNumber(dir, "memory.usage_in_bytes")
	stat := readKeyed(dir, "memory.stat")
	if m.limit = stat["hierarchical_memory_limit"]; m.limit >= noLimitV1 {
		m.limit = 0
	}
	if swLimit := stat["hierarchical_memsw_limit"]; withSwap && swLimit < noLimitV1 && m.limit > 0 && swLimit > m.limit {
		m.swapLimit = swLimit - m.limit
	}
	if swUsage, ok := readNumber(dir, "memory.memsw.usage_in_bytes"); withSwap && ok && swUsage > m.usage {
		m.swapUsage = swUsage - m.usage
	}
	m.stat = map[string]uint64{}
	for k, n := range stat {
		if name, ok := v1Stat[k]; ok {
			m.stat[name] = n
		}
	}
	return m
}

// memoryFigures are the figures meminfo and sysinfo(2) share, in bytes.
type memoryFigures struct {
	total, free, available, shared, cached uint64
	swapTotal, swapFree                    uint64
}

// figures turns the cgroup's figures into the machine-shaped ones: the
// total is the limit (the host's memory when there is none, or when the
// limit is larger), the free memory what the limit leaves, the swap the
// swap limit within the host's swap.
func (m memory) figures(host map[string]uint64) memoryFigures {
	f := memoryFigures{total: host["MemTotal"], swapTotal: host["SwapTotal"]}
	if m.limit > 0 && m.limit < f.total {
		f.total = m.limit
	}
	f.free = f.total - min(m.usage, f.total)
	f.cached = m.stat["file"]
	f.shared = m.stat["shmem"]
	f.available = min(f.total, f.free+m.stat["active_file"]+m.stat["inactive_file"])
	if m.swapLimit > 0 && m.swapLimit < f.swapTotal {
		f.swapTotal = m.swapLimit
	}
	f.swapFree = f.swapTotal - min(m.swapUsage, f.swapTotal)
	return f
}

// parseMeminfo reads /proc/meminfo's "Name:   N kB" lines, in bytes.
func parseMeminfo(text string) map[string]uint64 {
	m := map[string]uint64{}
	for _, line := range strings.Split(text, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if f := strings.Fields(rest); ok && len(f) > 0 {
			n, _ := strconv.ParseUint(f[0], 10, 64)
			if len(f) > 1 && f[1] == "kB" {
				n *= 1024
			}
			m[name] = n
		}
	}
	return m
}

// renderMeminfo is the host's /proc/meminfo, in its order and format,
// with the container's figures where the cgroup has them. Figures no
// cgroup counts (the kernel's slab, page tables, huge pages) stay the
// host's, but the slab's, which would be larger than a small limit and
// which free(1) counts as cache: they read 0 unless v2 counts them.
func renderMeminfo(host string, m memory) string {
	f := m.figures(parseMeminfo(host))
	s := m.stat
	ours := map[string]uint64{
		"MemTotal": f.total, "MemFree": f.free, "MemAvailable": f.available, "Buffers": 0,
		"Cached": f.cached, "SwapCached": 0,
		"Active": s["active_anon"] + s["active_file"], "Inactive": s["inactive_anon"] + s["inactive_file"],
		"Active(anon)": s["active_anon"], "Inactive(anon)": s["inactive_anon"],
		"Active(file)": s["active_file"], "Inactive(file)": s["inactive_file"],
		"Unevictable": s["unevictable"], "SwapTotal": f.swapTotal, "SwapFree": f.swapFree,
		"Dirty": s["file_dirty"], "Writeback": s["file_writeback"], "AnonPages": s["anon"],
		"Mapped": s["file_mapped"], "Shmem": f.shared,
		"Slab": s["slab"], "SReclaimable": s["slab_reclaimable"], "SUnreclaim": s["slab_unreclaimable"],
		"KReclaimable": s["slab_reclaimable"],
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(host, "\n") {
		name, _, ok := strings.Cut(line, ":")
		if n, mine := ours[name]; ok && mine {
			fmt.Fprintf(&b, "%-16s%8d kB\n", name+":", n/1024)
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// renderSwaps is /proc/swaps: its header, and the container's swap as one
// line, as LXCFS shows it, when it may swap.
func renderSwaps(host string, m memory) string {
	f := m.figures(parseMeminfo(host))
	out := "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
	if f.swapTotal > 0 {
		out += fmt.Sprintf("none\t\t\t\t\tvirtual\t\t%d\t\t%d\t\t0\n", f.swapTotal/1024, (f.swapTotal-f.swapFree)/1024)
	}
	return out
}
