package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBinarySizeAsDocker(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1023: "1023B", 1024: "1KiB", 1536: "1.5KiB",
		64 << 20: "64MiB", 8232525824: "7.667GiB", 3<<20 + 12345: "3.012MiB"} {
		assert.Equal(t, want, binarySize(n), "%d", n)
	}
}

func TestCPUPercentAsDocker(t *testing.T) {
	second := uint64(1e9)
	assert.InDelta(t, 100.0, cpuPercent(0, second, 2*second, 2), 1e-9, "one CPU busy of two, for a second: 100%")
	assert.InDelta(t, 50.0, cpuPercent(second, 2*second, 4*second, 2), 1e-9)
	assert.Zero(t, cpuPercent(2*second, second, 2*second, 2), "a counter that went back (a new cgroup): 0")
	assert.Zero(t, cpuPercent(0, second, 0, 2), "no time went by")
}

func TestParseHostFigures(t *testing.T) {
	ns, err := parseSystemCPU("cpu  100 1 50 800 20 4 5 7 0 0\ncpu0 50 1 25 400 10 2 3 3 0 0\n")
	require.NoError(t, err)
	assert.Equal(t, uint64(980)*10_000_000, ns, "user to softirq, a hundredth of a second each; steal and guest aside")
	for _, bad := range []string{"", "intr 1 2 3\n", "cpu 1 2 3\n", "cpu 1 2 3 x 5 6 7\n"} {
		_, err := parseSystemCPU(bad)
		assert.Error(t, err, "%q", bad)
	}
	memory, err := parseMemTotal("MemTotal:        8039472 kB\nMemFree:         1024 kB\n")
	require.NoError(t, err)
	assert.Equal(t, uint64(8039472)<<10, memory)
	_, err = parseMemTotal("MemFree: 1024 kB\n")
	assert.Error(t, err)
}

func TestStatsScreenDrawsInPlaceOnATerminal(t *testing.T) {
	row := []string{"0123456789ab", "web", "1.00%", "1MiB / 2MiB", "50.00%", "0B / 0B", "0B / 0B", "1"}
	var out strings.Builder
	s := &statsScreen{out: &out, inPlace: true}
	require.NoError(t, s.draw([][]string{row}))
	require.NoError(t, s.draw([][]string{row}))
	frames := strings.Split(out.String(), "\x1b[H")
	require.Len(t, frames, 3, "the cursor home before each table")
	assert.Equal(t, "\x1b[2J", frames[0], "the screen cleared once, first")
	assert.True(t, strings.HasSuffix(frames[2], "\x1b[K\n\x1b[J"), "each line cleared to its end, and the rest of the screen after: %q", frames[2])
	assert.Contains(t, frames[1], "CONTAINER ID   NAME   CPU %   MEM USAGE / LIMIT   MEM %    NET I/O   BLOCK I/O   PIDS\x1b[K\n")

	out.Reset()
	plain := &statsScreen{out: &out}
	require.NoError(t, plain.draw([][]string{row}))
	assert.Equal(t, "CONTAINER ID   NAME   CPU %   MEM USAGE / LIMIT   MEM %    NET I/O   BLOCK I/O   PIDS\n"+
		"0123456789ab   web    1.00%   1MiB / 2MiB         50.00%   0B / 0B   0B / 0B     1\n", out.String())
}
