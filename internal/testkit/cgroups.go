package testkit

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// Cgroups checks what every step from step03 on does with cgroups: each
// limit flag writes the value the kernel then holds, and the kernel
// enforces it on the container (memory, CPU, cpuset, pids, block I/O);
// the container's cgroup goes when the container does, however it ends;
// bad limits are refused with nothing made.
//
// The cgroup files are read from the host while the container runs (its
// cgroup goes when it ends), under v1's names on a v1 host and v2's on a
// v2 host.
func Cgroups(t *testing.T, s Step) {
	t.Run("LimitsAreWritten", func(t *testing.T) { limitsAreWritten(t, s) })
	t.Run("MemoryLimitEndsWithOOMKill", func(t *testing.T) { memoryLimitEndsWithOOMKill(t, s) })
	t.Run("CPUQuota", func(t *testing.T) { cpuQuota(t, s) })
	t.Run("Cpuset", func(t *testing.T) { cpuset(t, s) })
	t.Run("PidsLimit", func(t *testing.T) { pidsLimit(t, s) })
	t.Run("BlockIO", func(t *testing.T) { blockIO(t, s) })
	t.Run("CgroupIsRemoved", func(t *testing.T) { cgroupIsRemoved(t, s) })
	t.Run("CoMountedHierarchies", func(t *testing.T) { coMountedHierarchies(t, s) })
	t.Run("BadLimitsAreRefused", func(t *testing.T) { badLimits(t, s) })
}

// limitFiles is a row of LimitsAreWritten: the flags, then the files
// they set, as v1 names them (HIERARCHY/FILE) and as v2 does, with what
// each must read.
type limitFiles struct {
	flags   []string
	v1, v2  map[string]string
	mayLack []string // files a kernel may not have, which the runtime then leaves out
}

// limitsAreWritten checks that each limit flag writes the value that
// the kernel then holds in the container's cgroup.
func limitsAreWritten(t *testing.T, s Step) {
	disk := LoopDevice(t, 8<<20)
	for _, tc := range limitRows(disk, deviceNumbers(t, disk)) {
		if !s.Docker && slices.ContainsFunc(tc.flags, stepsLack) {
			continue
		}
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) { limitIsWritten(t, s, tc) })
	}
}

// limitRows are LimitsAreWritten's rows, for the block device disk,
// whose numbers are dev (MAJOR:MINOR).
func limitRows(disk, dev string) []limitFiles {
	return []limitFiles{
		{[]string{"--cpus", "0.5"},
			map[string]string{"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"},
			map[string]string{"cpu.max": "50000 100000"}, nil},
		{[]string{"--cpu-period", "50000", "--cpu-quota", "25000"},
			map[string]string{"cpu/cpu.cfs_quota_us": "25000", "cpu/cpu.cfs_period_us": "50000"},
			map[string]string{"cpu.max": "25000 50000"}, nil},
		{[]string{"--cpu-period", "200000"},
			map[string]string{"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "200000"},
			map[string]string{"cpu.max": "max 200000"}, nil},
		{[]string{"--cpuset-cpus", "0"},
			map[string]string{"cpuset/cpuset.cpus": "0"},
			map[string]string{"cpuset.cpus": "0"}, nil},
		{[]string{"-m", "64m"}, // swap as much as memory, as docker run's default, where the kernel counts swap
			map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "134217728"},
			map[string]string{"memory.max": "67108864", "memory.swap.max": "67108864"},
			[]string{"memory/memory.memsw.limit_in_bytes", "memory.swap.max"}},
		{[]string{"--memory", "65536k"},
			map[string]string{"memory/memory.limit_in_bytes": "67108864"},
			map[string]string{"memory.max": "67108864"}, nil},
		{[]string{"--pids-limit", "100"},
			map[string]string{"pids/pids.max": "100"},
			map[string]string{"pids.max": "100"}, nil},
		{[]string{"--device-read-bps", disk + ":1mb", "--device-write-bps", disk + ":2m"},
			map[string]string{"blkio/blkio.throttle.read_bps_device": dev + " 1048576", "blkio/blkio.throttle.write_bps_device": dev + " 2097152"},
			map[string]string{"io.max": dev + " rbps=1048576 wbps=2097152 riops=max wiops=max"}, nil},
		// The rows from here are boxcraft's alone (see stepsLack).
		{[]string{"--cpu-shares", "512"},
			map[string]string{"cpu/cpu.shares": "512"},
			map[string]string{"cpu.weight": "59"}, nil}, // ⌈10^((l²+125l)/612 − 7/34)⌉, l = log2(512)
		{[]string{"--cpuset-mems", "0"},
			map[string]string{"cpuset/cpuset.mems": "0"},
			map[string]string{"cpuset.mems": "0"}, nil},
		{[]string{"--memory", "65536k", "--memory-swap", "96mb"},
			map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "100663296"},
			map[string]string{"memory.max": "67108864", "memory.swap.max": "33554432"}, nil},
		{[]string{"-m", "1g", "--memory-swap", "-1"},
			map[string]string{"memory/memory.limit_in_bytes": "1073741824", "memory/memory.memsw.limit_in_bytes": "9223372036854771712"},
			map[string]string{"memory.max": "1073741824", "memory.swap.max": "max"}, nil},
		{[]string{"--blkio-weight", "300"}, // BFQ's weight; on v2 without BFQ, io.cost's io.weight
			map[string]string{"blkio/blkio.bfq.weight": "300"},
			map[string]string{"io.weight": "default 2930"}, nil}, // 1 + (300-10)*9999/990
		{[]string{"--device-read-bps", disk + ":1mb", "--device-write-iops", disk + ":50"},
			map[string]string{"blkio/blkio.throttle.read_bps_device": dev + " 1048576", "blkio/blkio.throttle.write_iops_device": dev + " 50"},
			map[string]string{"io.max": dev + " rbps=1048576 wbps=max riops=max wiops=50"}, nil},
		{[]string{"--device-write-bps", disk + ":2m", "--device-read-iops", disk + ":100"},
			map[string]string{"blkio/blkio.throttle.write_bps_device": dev + " 2097152", "blkio/blkio.throttle.read_iops_device": dev + " 100"},
			map[string]string{"io.max": dev + " rbps=max wbps=2097152 riops=100 wiops=max"}, nil},
	}
}

// limitIsWritten runs a container with one row's flags and reads its
// cgroup's files from the host; where this kernel lacks a file, the
// runtime must refuse the flags instead.
func limitIsWritten(t *testing.T, s Step, tc limitFiles) {
	want := maps.Clone(tc.v1)
	if CgroupV2(t) {
		want = maps.Clone(tc.v2)
	}
	if want["io.weight"] != "" && kernelHas(t, "io.bfq.weight") {
		want = map[string]string{"io.bfq.weight": "default 300"} // BFQ is loaded here: its weight, as on v1
	}
	rootfs := FreshRootfs(t)
	if lacking := lackingFiles(t, want, tc.mayLack); len(lacking) > 0 {
		t.Logf("this kernel has no %s: the runtime must refuse %s", strings.Join(lacking, ", "), strings.Join(tc.flags, " "))
		s.AssertRefused(t, Run(t, s.Args(tc.flags, rootfs, "/probe")...), tc.flags...)
		assert.Empty(t, testCgroups(t), "no cgroup was made")
		return
	}
	t.Logf("this kernel has each file: %v", want)
	c := startWaiting(t, s, rootfs, tc.flags, "")
	got := map[string]string{}
	for key := range want {
		got[key] = c.file(t, key)
	}
	assert.Equal(t, want, got)
	c.finish(t)
}

// memoryLimitEndsWithOOMKill checks that -m bounds what the container may
// allocate, and that a run past it ends with status 137 and one line that
// names the OOM killer.
func memoryLimitEndsWithOOMKill(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	f := runProbe(t, s, rootfs, []string{"-m", "32m"}, "alloc=8")
	require.NotNil(t, f.Experiments.Alloc)
	assert.True(t, f.Experiments.Alloc.OK, "8 MiB fits in 32 MiB: %s", f.Experiments.Alloc.Error)

	r := Run(t, s.Args([]string{"-m", "32m"}, rootfs, "/probe", "alloc=256")...)
	assert.Equal(t, 137, r.Code, "killed by SIGKILL: 128+9\n%s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr:\n%s", r)
	assert.Contains(t, r.Stderr, "out of memory", "the line says the OOM killer ended it")
	assert.Empty(t, r.Stdout, "the probe never got to report")
}

// cpuQuota checks that --cpus holds the container to its share of CPU
// time.
//
// Two loops spin, wanting two CPUs against a quota of half of one, so
// that the quota binds even on a machine busy with other work; the
// test reads the cgroup's CPU time at the start and the end of 1.5 s
// of its own clock: what the container used in that time, without
// what it took to start.
func cpuQuota(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	devNull(t, rootfs) // the background loop's stdin
	c := startWaiting(t, s, rootfs, []string{"--cpus", "0.5"}, "")
	c.then = "while :; do :; done & while :; do :; done"
	c.release(t)
	time.Sleep(200 * time.Millisecond) // into the loops
	startUsage, start := c.cpuSeconds(t), time.Now()
	time.Sleep(1500 * time.Millisecond)
	usage, wall := c.cpuSeconds(t)-startUsage, time.Since(start).Seconds()
	throttled := c.statField(t, "cpu/cpu.stat", "nr_throttled")
	require.NoError(t, unix.Kill(c.pid, unix.SIGKILL)) // pid 1: its namespace's other loop goes with it
	c.running.Wait(t)
	t.Logf("%.3f s of CPU in %.3f s, throttled in %d periods", usage, wall, throttled)
	// The bound is the test: the loops may get less than the quota on
	// a busy machine, never more.
	assert.LessOrEqual(t, usage/wall, 0.65, "the container used more than its half CPU (%.3f s of CPU in %.3f s): is cpu.cfs_quota_us / cpu.max written, and is the container's process in that cgroup?", usage, wall)
	if throttled == 0 && usage/wall < 0.4 {
		t.Log("the machine was too busy for the loops to reach the quota: there was no throttling to see")
		return
	}
	assert.Positive(t, throttled, "the kernel never held the container back (nr_throttled is 0)")
}

// cpuset checks that --cpuset-cpus gives the container the CPUs named, and
// no other.
func cpuset(t *testing.T, s Step) {
	cpus, err := readCPUs()
	require.NoError(t, err)
	for _, cpu := range []int{0, cpus[len(cpus)-1]} {
		f := runProbe(t, s, FreshRootfs(t), []string{"--cpuset-cpus", strconv.Itoa(cpu)})
		assert.Equal(t, []int{cpu}, f.CPUs, "the CPUs the probe may run on")
	}
}

// pidsLimit checks that --pids-limit bounds the container's tasks: the
// kernel refuses its forks past the limit.
func pidsLimit(t *testing.T, s Step) {
	c := startWaiting(t, s, FreshRootfs(t), []string{"--pids-limit", "16"}, "/probe forks=64 > /tmp/forks.json")
	refused := c.statField(t, "pids/pids.events", "max")
	f := c.finishReport(t, "/tmp/forks.json")
	forks := f.Experiments.Forks
	require.NotNil(t, forks)
	assert.Positive(t, forks.Started, "some children started")
	assert.LessOrEqual(t, forks.Tasks, 16, "tasks at the peak, the probe's threads and its children")
	assert.Contains(t, forks.Error, "resource temporarily unavailable", "fork failed with EAGAIN")
	assert.Positive(t, refused, "the kernel counted the refused forks (pids.events max)")
}

// blockIO checks that --device-read-bps and --device-write-bps slow the
// container's reads and writes of a block device to the rate given.
func blockIO(t *testing.T, s Step) {
	disk := LoopDevice(t, 8<<20)
	for _, op := range []string{"read", "write"} {
		t.Run(op, func(t *testing.T) {
			rootfs := FreshRootfs(t)
			flags := []string{"--device-" + op + "-bps", disk + ":1mb"}
			throttle := "blkio/blkio.throttle." + op + "_bps_device"
			if CgroupV2(t) {
				throttle = "io.max"
			}
			if !kernelHas(t, throttle) {
				t.Logf("this kernel has no %s (no block I/O throttling): the runtime must refuse %s", throttle, flags[0])
				s.AssertRefused(t, Run(t, s.Args(flags, rootfs, "/probe")...), flags[0])
				return
			}
			// Not in /dev, which is the container's own from step04 on.
			// boxcraft's device cgroup refuses a device it was not
			// given (--device), as Docker's does; and with a user
			// namespace, the node it binds from the host is the host
			// root's, which the container's root may not open.
			node := "/disk/loop"
			if s.Docker {
				node = "/dev/xdisk"
				flags = append(flags, "--device", disk+":"+node, "--ns", "uts,pid,mnt,ipc,net,cgroup")
			} else {
				addDevice(t, rootfs, "disk/loop", unix.S_IFBLK, deviceOf(t, disk))
			}
			f := runProbe(t, s, rootfs, flags, op+"="+node+":3")
			timed := f.Experiments.Read
			if op == "write" {
				timed = f.Experiments.Write
			}
			require.NotNil(t, timed)
			require.Empty(t, timed.Error)
			assert.GreaterOrEqual(t, timed.Seconds, 2.0, "3 MiB at 1 MiB/s")
		})
	}
}

// cgroupIsRemoved checks that the container's cgroup goes when the
// container does, however it ends.
func cgroupIsRemoved(t *testing.T, s Step) {
	t.Run("after a normal exit", func(t *testing.T) {
		c := startWaiting(t, s, FreshRootfs(t), nil, "")
		assert.Equal(t, 0, c.finish(t).Code)
		assertRemoved(t, c.dirs)
	})
	t.Run("after an OOM kill", func(t *testing.T) {
		c := startWaiting(t, s, FreshRootfs(t), []string{"-m", "32m"}, "")
		c.then = "exec /probe alloc=256"
		assert.Equal(t, 137, c.finish(t).Code)
		assertRemoved(t, c.dirs)
	})
	t.Run("after CMD is killed", func(t *testing.T) {
		c := startWaiting(t, s, FreshRootfs(t), nil, "")
		require.NoError(t, unix.Kill(c.pid, unix.SIGKILL))
		r := c.running.Wait(t)
		assert.Equal(t, 137, r.Code)
		assert.NotContains(t, r.Stderr, "out of memory", "it was not the OOM killer")
		assertRemoved(t, c.dirs)
	})
	t.Run("with a process left behind, without a PID namespace", func(t *testing.T) { removedWithAProcessLeftBehind(t, s) })
	// boxcraft, as Docker, keeps what a killed run left for rm or prune.
	if !s.Docker {
		t.Run("by the next run, after the runtime is killed", func(t *testing.T) { removedByTheNextRun(t, s) })
	}
}

// removedWithAProcessLeftBehind checks that the runtime ends what CMD left
// running, so as to remove the cgroup.
//
// Without a PID namespace, nothing ends a process CMD left in the
// background when CMD ends: the runtime must, to remove the cgroup.
func removedWithAProcessLeftBehind(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	devNull(t, rootfs)
	c := startWaiting(t, s, rootfs, []string{s.without("pid")}, "sleep 1000 &")
	// The shell's touch may not be reaped yet: wait for the two
	// that stay.
	require.Eventually(t, func() bool { return len(ProcessesRootedIn(rootfs)) == 2 }, 5*time.Second, 10*time.Millisecond,
		"sh, and the sleep it left running: %v", ProcessesRootedIn(rootfs))
	assert.Equal(t, 0, c.finish(t).Code)
	assertRemoved(t, c.dirs)
	assert.Empty(t, ProcessesRootedIn(rootfs), "the sleep was ended")
}

// removedByTheNextRun checks that a cgroup a killed runtime could not
// remove goes with the next run.
func removedByTheNextRun(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	c := startWaiting(t, s, rootfs, nil, "")
	require.NoError(t, c.running.Cmd.Process.Kill())
	c.running.Wait(t)
	require.Eventually(t, func() bool { return len(ProcessesRootedIn(rootfs)) == 0 },
		5*time.Second, 10*time.Millisecond, "the kernel ended the container with its runtime")
	for _, dir := range c.dirs {
		assert.DirExists(t, dir, "nothing could remove it yet")
	}
	require.Equal(t, 0, Run(t, s.Args(nil, FreshRootfs(t), "/bin/true")...).Code)
	assertRemoved(t, c.dirs)
}

// coMountedHierarchies checks that the runtime finds cgroup v1's cpu
// controller where cpu and cpuacct are mounted together.
//
// Many v1 systems mount cpu and cpuacct as one hierarchy, cpu,cpuacct,
// with cpu and cpuacct as links to it; this machine mounts them
// apart. So the test lays /sys/fs/cgroup out that way, from the real
// hierarchies, in a mount namespace of its own, and runs the runtime
// there.
func coMountedHierarchies(t *testing.T, s Step) {
	if CgroupV2(t) {
		t.Log("cgroup v2 has a single hierarchy: nothing is mounted together")
		return
	}
	rootfs := FreshRootfs(t)
	const layout = `set -e
		stage=$1; shift
		mount -t tmpfs boxcraft-cgroups "$stage"
		for c in cpuset memory pids blkio devices; do mkdir "$stage/$c"; mount --bind "/sys/fs/cgroup/$c" "$stage/$c"; done
		mkdir "$stage/cpu,cpuacct"; mount --bind /sys/fs/cgroup/cpu "$stage/cpu,cpuacct"
		ln -s cpu,cpuacct "$stage/cpu"; ln -s cpu,cpuacct "$stage/cpuacct"
		mount --rbind "$stage" /sys/fs/cgroup
		exec "$@"`
	// Without a cgroup namespace, the container sees its cgroups' paths.
	unshare := []string{"--mount", "--propagation", "private", "sh", "-c", layout, "sh", t.TempDir(), Binary(t)}
	r := RunCmd(t, HostCommand(t, "unshare", append(unshare, s.Args([]string{s.without("cgroup"), "--cpus", "0.5"}, rootfs, "cat", "/proc/self/cgroup")...)...))
	require.Equal(t, 0, r.Code, r)
	parent, _ := CgroupParent(t)
	cgroup := regexp.MustCompile(`(?m)^[0-9]+:(?:cpu|cpu,cpuacct|cpuacct,cpu):(/` + regexp.QuoteMeta(parent) + `/[^/\n]+)$`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, cgroup, "in a cgroup of its own in cpu,cpuacct:\n%s", r.Stdout)
	assert.NoDirExists(t, filepath.Join("/sys/fs/cgroup/cpu", cgroup[1]), "and it is gone")
}

// badLimits checks that bad limits are refused in one line, and that no
// cgroup is made.
func badLimits(t *testing.T, s Step) {
	cpus, err := readCPUs()
	require.NoError(t, err)
	tooMany := strconv.Itoa(len(cpus) + 1)
	notCPU := strconv.Itoa(cpus[len(cpus)-1] + 1)
	disk := LoopDevice(t, 1<<20)
	notBlock := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notBlock, nil, 0o644))
	// Each row: the flags, then what the line must name (any one of
	// them): the flag, or the value or file refused.
	for name, tc := range map[string]struct {
		args  []string
		names []string
	}{
		"size with an unknown suffix": {[]string{"-m", "12x"}, []string{"--memory", "-m", "12x"}},
		"negative size":               {[]string{"--memory", "-1m"}, []string{"--memory", "-1m"}},
		"memory below the floor":      {[]string{"-m", "1m"}, []string{"--memory", "-m", "1m"}},
		"swap without memory":         {[]string{"--memory-swap", "64m"}, []string{"--memory-swap"}},
		"swap below memory":           {[]string{"-m", "64m", "--memory-swap", "32m"}, []string{"--memory-swap", "32m"}},
		"zero CPUs":                   {[]string{"--cpus", "0"}, []string{"--cpus"}},
		"more CPUs than the host's":   {[]string{"--cpus", tooMany}, []string{"--cpus"}},
		"CPUs not a number":           {[]string{"--cpus", "half"}, []string{"--cpus", "half"}},
		"cpus and a quota":            {[]string{"--cpus", "1", "--cpu-quota", "50000"}, []string{"--cpus", "--cpu-quota"}},
		"period too short":            {[]string{"--cpu-period", "10"}, []string{"--cpu-period"}},
		"shares out of range":         {[]string{"--cpu-shares", "1"}, []string{"--cpu-shares"}},
		"cpuset outside the host's":   {[]string{"--cpuset-cpus", notCPU}, []string{"--cpuset-cpus"}},
		"cpuset not a list":           {[]string{"--cpuset-cpus", "1-0"}, []string{"--cpuset-cpus", "1-0"}},
		"mems outside the host's":     {[]string{"--cpuset-mems", "63"}, []string{"--cpuset-mems"}},
		"pids limit too low":          {[]string{"--pids-limit", "3"}, []string{"--pids-limit"}},
		"CPUs not a number at all":    {[]string{"--cpus", "NaN"}, []string{"--cpus", "NaN"}},
		"cpuset past any machine's":   {[]string{"--cpuset-cpus", "0-4000000000"}, []string{"--cpuset-cpus"}},
		"quota the kernel refuses":    {[]string{"--cpu-quota", "9223372036854775807"}, []string{"--cpu-quota"}},
		"blkio weight out of range":   {[]string{"--blkio-weight", "5"}, []string{"--blkio-weight"}},
		"device that does not exist":  {[]string{"--device-read-bps", "/dev/boxcraft-none:1mb"}, []string{"/dev/boxcraft-none"}},
		"device not a block device":   {[]string{"--device-write-bps", notBlock + ":1mb"}, []string{notBlock}},
		"character device":            {[]string{"--device-read-bps", "/dev/null:1mb"}, []string{"/dev/null"}},
		"rate that is not a size":     {[]string{"--device-read-bps", disk + ":fast"}, []string{"--device-read-bps", "fast"}},
		"no operations":               {[]string{"--device-write-iops", disk + ":0"}, []string{"--device-write-iops"}},
		"device without a rate":       {[]string{"--device-read-bps", disk}, []string{"--device-read-bps"}},
	} {
		if !s.Docker && slices.ContainsFunc(tc.args, stepsLack) {
			continue
		}
		t.Run(name, func(t *testing.T) {
			rootfs := FreshRootfs(t)
			s.AssertRefused(t, Run(t, s.Args(tc.args, rootfs, "/probe")...), tc.names...)
			assert.Empty(t, testCgroups(t), "no cgroup was made")
		})
	}
}

// stepsLack tells the limit flags that boxcraft has (final/cgroups) and
// the steps do not: --cpu-shares, --cpuset-mems, --memory-swap, the BFQ
// weight and the IOPS limits. step03 keeps one limit of each kind its
// lesson names (CPU time, CPUs, memory, tasks, and block I/O in bytes per
// second); the rows with these flags run against boxcraft alone
// (final/e2e/lessons).
func stepsLack(flag string) bool {
	return slices.Contains([]string{"--cpu-shares", "--cpuset-mems", "--memory-swap", "--blkio-weight"}, flag) ||
		strings.HasSuffix(flag, "-iops")
}

// CgroupV2 reports whether the host runs cgroup v2 alone.
func CgroupV2(t testing.TB) bool {
	t.Helper()
	v2, err := isCgroupV2()
	require.NoError(t, err)
	return v2
}

// waiting is a container whose command waits, after its first part, for
// the test to read its cgroup from the host. It waits on a FIFO, which
// uses no CPU: the test's CPU figures count the first part alone.
type waiting struct {
	running *Running
	rootfs  string
	pid     int               // the host pid of the container's command
	dirs    map[string]string // its cgroup: a v1 hierarchy (or "" on v2) → folder
	then    string            // what the command runs after the wait
}

// startWaiting starts a container with flags that runs first, says it is
// ready and waits for finish, and returns once it waits.
func startWaiting(t *testing.T, s Step, rootfs string, flags []string, first string) *waiting {
	t.Helper()
	if first == "" {
		first = ":"
	}
	// The shell opens the FIFO (read and write, which does not wait for a
	// writer) before it says it is ready, so that the test's write finds a
	// reader.
	script := first + "\n" + `exec 3<>/tmp/go; touch /tmp/ready; read -r then <&3; exec 3<&-; eval "$then"`
	require.NoError(t, unix.Mkfifo(filepath.Join(rootfs, "tmp/go"), 0o666))
	require.NoError(t, os.Chmod(filepath.Join(rootfs, "tmp/go"), 0o666)) // past the umask: container root is nobody here
	c := &waiting{rootfs: rootfs}
	c.running = Start(t, Command(t, s.Args(flags, rootfs, "/bin/sh", "-c", script)...))
	c.running.WaitForFile(t, filepath.Join(rootfs, "tmp/ready"))
	parent, _ := CgroupParent(t)
	for _, pid := range descendantsOf(c.running.Cmd.Process.Pid) {
		if c.dirs = containerCgroups(t, pid); len(c.dirs) > 0 {
			c.pid = pid
			return c
		}
	}
	t.Fatalf("no process of the run is in a cgroup below /%s, the cgroup parent the test gave it: did the runtime make a cgroup there and put the container's process in it (cgroup.procs on v1, CLONE_INTO_CGROUP on v2)?", parent)
	return nil
}

// finish lets the command go on to c.then and end, and returns what it
// left.
func (c *waiting) finish(t *testing.T) Result {
	t.Helper()
	c.release(t)
	return c.running.Wait(t)
}

// release lets the command go on to c.then.
func (c *waiting) release(t *testing.T) {
	t.Helper()
	// The command is reading the FIFO: opening it to write does not wait.
	fifo, err := os.OpenFile(filepath.Join(c.rootfs, "tmp/go"), os.O_WRONLY|unix.O_NONBLOCK, 0)
	require.NoError(t, err, "the command waits on the FIFO")
	_, err = fifo.WriteString(c.then + "\n")
	require.NoError(t, err)
	require.NoError(t, fifo.Close())
}

// finishReport finishes the container and decodes the probe's report,
// which the command wrote to a file in the container.
func (c *waiting) finishReport(t *testing.T, report string) facts.Facts {
	t.Helper()
	r := c.finish(t)
	require.Equal(t, 0, r.Code, r)
	data, err := os.ReadFile(filepath.Join(c.rootfs, report))
	require.NoError(t, err)
	var f facts.Facts
	require.NoError(t, json.Unmarshal(data, &f), "%s", data)
	return f
}

// file reads a file of the container's cgroup: "HIERARCHY/FILE" on v1,
// "FILE" on v2.
func (c *waiting) file(t *testing.T, key string) string {
	t.Helper()
	hierarchy, file := filepath.Split(key)
	dir, ok := c.dirs[strings.TrimSuffix(hierarchy, "/")]
	require.True(t, ok, "the container has a cgroup for %s: %v", key, c.dirs)
	data, err := os.ReadFile(filepath.Join(dir, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// statField reads a number from a flat-keyed file such as cpu.stat,
// named as v1 names it ("cpu/cpu.stat"); on v2 the hierarchy is left
// out.
func (c *waiting) statField(t *testing.T, key, field string) int64 {
	t.Helper()
	if CgroupV2(t) {
		key = filepath.Base(key)
	}
	for _, line := range strings.Split(c.file(t, key), "\n") {
		if value, ok := strings.CutPrefix(line, field+" "); ok {
			n, err := strconv.ParseInt(value, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("%s has no %s", key, field)
	return 0
}

// cpuSeconds is the CPU time the container used, by its cgroup's count:
// cpuacct.usage (ns) on v1, usage_usec in cpu.stat on v2.
func (c *waiting) cpuSeconds(t *testing.T) float64 {
	t.Helper()
	if CgroupV2(t) {
		return float64(c.statField(t, "cpu.stat", "usage_usec")) / 1e6
	}
	ns, err := strconv.ParseInt(c.file(t, "cpuacct/cpuacct.usage"), 10, 64)
	require.NoError(t, err)
	return float64(ns) / 1e9
}

// containerCgroups finds the cgroup folders of process pid that lie below
// the test's cgroup parent, from /proc/PID/cgroup as the host sees it:
// "4:memory:/boxcraft/t-…/NAME" on v1 (co-mounted hierarchies share a
// folder named cpu,cpuacct), "0::/boxcraft/t-…/NAME" on v2. A process
// that is gone is in none.
func containerCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	parent, _ := CgroupParent(t)

	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/"+parent+"/") {
			continue
		}
		if parts[1] == "" {
			dirs[""] = filepath.Join("/sys/fs/cgroup", parts[2])
			continue
		}
		for _, controller := range strings.Split(parts[1], ",") {
			dirs[controller] = filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
		}
	}
	return dirs
}

// assertRemoved checks that a container's cgroup folders are gone.
func assertRemoved(t *testing.T, dirs map[string]string) {
	t.Helper()
	for _, dir := range dirs {
		assert.NoDirExists(t, dir, "the container's cgroup is removed")
	}
}

// testCgroups lists the cgroups that the test's runs made, and left,
// below the test's own parent, in every hierarchy.
func testCgroups(t *testing.T) []string {
	t.Helper()
	_, dirs := CgroupParent(t)
	var found []string
	for _, dir := range dirs {
		found = append(found, childCgroups(dir)...)
	}
	return found
}

// kernelHas reports whether the kernel gives a cgroup the file key
// ("HIERARCHY/FILE" on v1, "FILE" on v2): the test's own parent, which
// is a cgroup like the container's, shows it.
func kernelHas(t *testing.T, key string) bool {
	t.Helper()
	hierarchy, file := filepath.Split(key)
	_, dirs := CgroupParent(t)
	dir, ok := dirs[strings.TrimSuffix(hierarchy, "/")]
	if !ok {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// lackingFiles returns the files of want that this kernel does not have,
// after leaving out of want those that it may lack.
func lackingFiles(t *testing.T, want map[string]string, mayLack []string) []string {
	t.Helper()
	var lacking []string
	for key := range want {
		if kernelHas(t, key) {
			continue
		}
		if slices.Contains(mayLack, key) {
			t.Logf("this kernel has no %s: the runtime leaves it out", key)
			delete(want, key)
			continue
		}
		lacking = append(lacking, key)
	}
	sort.Strings(lacking)
	return lacking
}

// readCPUs lists the host's online CPUs.
func readCPUs() ([]int, error) {
	data, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(string(data)), ",") {
		first, last, _ := strings.Cut(part, "-")
		lo, err := strconv.Atoi(first)
		if err != nil {
			return nil, err
		}
		hi := lo
		if last != "" {
			if hi, err = strconv.Atoi(last); err != nil {
				return nil, err
			}
		}
		for cpu := lo; cpu <= hi; cpu++ {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}
