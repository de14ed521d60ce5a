package cgroups

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Samples as the kernel writes them (6.1 and 6.8), cut short.
const (
	v1MemoryStat = "cache 4096\nrss 1048576\ninactive_file 8192\ntotal_cache 2101248\ntotal_rss 3145728\n" +
		"total_inactive_file 1048576\ntotal_active_file 4096\n"
	v1Blkio = "8:16 Read 4096\n8:16 Write 8192\n8:16 Sync 12288\n8:16 Async 0\n8:16 Discard 0\n8:16 Total 12288\n" +
		"8:0 Read 1000\n8:0 Write 24\n8:0 Sync 0\n8:0 Async 1024\n8:0 Discard 0\n8:0 Total 1024\nTotal 13312\n"
	v2CPUStat    = "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
	v2MemoryStat = "anon 3145728\nfile 2101248\nkernel 180224\nactive_file 4096\ninactive_file 2097152\nslab 100000\n"
	v2IOStat     = "8:16 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n" +
		"8:0 rbytes=1000 wbytes=24 rios=3 wios=1 dbytes=512 dios=1\n"
)

// writeFiles writes a cgroup's files (name → content) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
}

func TestV1Stats(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]map[string]string // hierarchy → file → content
		want  Stats
	}{
		{"every hierarchy", map[string]map[string]string{
			"cpuacct": {"cpuacct.usage": "2500000000\n"},
			"memory":  {"memory.usage_in_bytes": "5246976\n", "memory.limit_in_bytes": "67108864\n", "memory.stat": v1MemoryStat},
			"pids":    {"pids.current": "3\n"},
			"blkio":   {"blkio.throttle.io_service_bytes": v1Blkio},
		}, Stats{CPU: 2500000000, MemoryUsage: 5246976 - 1048576, MemoryLimit: 64 << 20, Pids: 3, BlockRead: 5096, BlockWrite: 8216}},
		{"no memory limit", map[string]map[string]string{
			"memory": {"memory.usage_in_bytes": "4096\n", "memory.limit_in_bytes": "9223372036854771712\n", "memory.stat": "total_inactive_file 0\n"},
		}, Stats{MemoryUsage: 4096}},
		{"more inactive than used (read at another moment)", map[string]map[string]string{
			"memory": {"memory.usage_in_bytes": "4096\n", "memory.stat": "total_inactive_file 8192\n"},
		}, Stats{MemoryUsage: 4096}},
		{"no device read yet", map[string]map[string]string{
			"blkio": {"blkio.throttle.io_service_bytes": "Total 0\n"},
		}, Stats{}},
		{"no hierarchy mounted", nil, Stats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dirs := map[string]string{}
			for hierarchy, files := range tc.files {
				dirs[hierarchy] = t.TempDir()
				writeFiles(t, dirs[hierarchy], files)
			}
			got, err := v1Stats(func(c string) string { return dirs[c] })
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestV2Stats(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  Stats
	}{
		{"every controller", map[string]string{
			"cpu.stat": v2CPUStat, "memory.current": "5427200\n", "memory.max": "67108864\n", "memory.stat": v2MemoryStat,
			"pids.current": "2\n", "io.stat": v2IOStat,
		}, Stats{CPU: 2500000000, MemoryUsage: 5427200 - 2097152, MemoryLimit: 64 << 20, Pids: 2, BlockRead: 5096, BlockWrite: 8216}},
		{"no memory limit, no I/O yet", map[string]string{
			"cpu.stat": v2CPUStat, "memory.current": "4096\n", "memory.max": "max\n", "memory.stat": "inactive_file 0\n", "io.stat": "",
		}, Stats{CPU: 2500000000, MemoryUsage: 4096}},
		{"only cpu.stat (no controller handed down)", map[string]string{"cpu.stat": "usage_usec 7\n"}, Stats{CPU: 7000}},
		{"the cgroup is gone", nil, Stats{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			if tc.files == nil {
				dir = filepath.Join(dir, "gone")
			}
			got, err := v2Stats(dir)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestStatsRefuseWhatIsNotTheKernelsFormat(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"a word for a number":       {"memory.current": "lots\n"},
		"a keyed line of three":     {"cpu.stat": "usage_usec 1 2\n"},
		"io.stat without key=value": {"io.stat": "8:0 rbytes 12\n"},
		"io.stat with a word":       {"io.stat": "8:0 rbytes=x\n"},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, files)
		_, err := v2Stats(dir)
		assert.ErrorContains(t, err, dir, name)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"blkio.throttle.io_service_bytes": "8:0 Read many\n"})
	_, err := v1Stats(func(string) string { return dir })
	assert.ErrorContains(t, err, "blkio.throttle.io_service_bytes")
}

func TestParsers(t *testing.T) {
	for text, want := range map[string]uint64{"": 0, "max\n": 0, "0\n": 0, "67108864\n": 64 << 20} {
		got, err := parseNumber(text)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%q", text)
	}
	read, written, err := parseIOStat(v2IOStat)
	require.NoError(t, err)
	assert.Equal(t, []uint64{5096, 8216}, []uint64{read, written}, "io.stat summed over devices, discards aside")
	read, written, err = parseBlkioBytes(v1Blkio)
	require.NoError(t, err)
	assert.Equal(t, []uint64{5096, 8216}, []uint64{read, written}, "Read and Write summed over devices, Total aside")
	keyed, err := parseKeyed(v2CPUStat)
	require.NoError(t, err)
	assert.Equal(t, uint64(2500000), keyed["usage_usec"])
}
