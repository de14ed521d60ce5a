package procfs

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

const hostMeminfo = `MemTotal:       24683744 kB
MemFree:        22343736 kB
MemAvailable:   23926156 kB
Buffers:          103420 kB
Cached:          1800000 kB
SwapTotal:       1048576 kB
SwapFree:        1048576 kB
Slab:             400000 kB
HugePages_Total:       0
`

func TestMeminfoFromTheCgroup(t *testing.T) {
	m := memory{limit: 64 << 20, usage: 10 << 20, swapLimit: 64 << 20, swapUsage: 1 << 20,
		stat: map[string]uint64{"file": 4 << 20, "active_file": 1 << 20, "inactive_file": 2 << 20, "shmem": 1 << 20}}
	out := renderMeminfo(hostMeminfo, m)
	for _, line := range []string{"MemTotal:          65536 kB", "MemFree:           55296 kB", "MemAvailable:      58368 kB",
		"Buffers:               0 kB", "Cached:             4096 kB", "SwapTotal:         65536 kB", "SwapFree:          64512 kB",
		"Slab:                  0 kB", "HugePages_Total:       0"} {
		assert.Contains(t, out, line+"\n")
	}
	assert.Equal(t, strings.Count(hostMeminfo, "\n"), strings.Count(out, "\n"), "the host's lines, in its order")
	noLimit := renderMeminfo(hostMeminfo, memory{usage: 10 << 20, stat: map[string]uint64{}})
	assert.Contains(t, noLimit, "MemTotal:       24683744 kB\n", "without a limit, the host's memory")
	assert.Contains(t, renderSwaps(hostMeminfo, m), "none\t\t\t\t\tvirtual\t\t65536\t\t1024\t\t0\n")
}

func TestCPUListsAndTheFilesOfThoseCPUs(t *testing.T) {
	assert.Equal(t, []int{0, 1, 2, 5, 7, 8}, parseCPUList("0-2,5,7-8\n"))
	cpuinfo := "processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n\n"
	assert.Equal(t, "processor\t: 1\nmodel name\t: X\n\n", renderCPUInfo(cpuinfo, []int{1}))
	stat := "cpu  300 0 300 1400 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\ncpu1 200 0 200 600 0 0 0 0 0 0\nbtime 1\n"
	// 1 s of user and 0.5 s of system time on CPU 0, 1 s of user on CPU 1.
	u := usage{user: map[int]uint64{0: 1e9, 1: 1e9}, system: map[int]uint64{0: 5e8}, totalUser: 2e9, totalSystem: 5e8}
	assert.Equal(t, "cpu  200 0 50 750 0 0 0 0 0 0\ncpu0 200 0 50 750 0 0 0 0 0 0\nbtime 1\n", renderStat(stat, []int{0}, u),
		"CPU 1's time counted on CPU 0, the one shown; idle is the host's time on it less the container's")
}
