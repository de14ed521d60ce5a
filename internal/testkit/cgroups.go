package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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
	t.Run("LimitsAreWritten", func(t *testing.T) {
		disk := LoopDevice(t, 8<<20)
		dev := deviceNumbers(t, disk)
		// Each row: the flags, then the files they set, as v1 names them
		// (HIERARCHY/FILE) and as v2 does, with what each must read.
		for _, tc := range []struct {
			flags  []string
			v1, v2 map[string]string
		}{
			{[]string{"--cpus", "0.5"},
				map[string]string{"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000"},
				map[string]string{"cpu.max": "50000 100000"}},
			{[]string{"--cpu-period", "50000", "--cpu-quota", "25000"},
				map[string]string{"cpu/cpu.cfs_quota_us": "25000", "cpu/cpu.cfs_period_us": "50000"},
				map[string]string{"cpu.max": "25000 50000"}},
			{[]string{"--cpu-period", "200000"},
				map[string]string{"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "200000"},
				map[string]string{"cpu.max": "max 200000"}},
			{[]string{"--cpu-shares", "512"},
				map[string]string{"cpu/cpu.shares": "512"},
				map[string]string{"cpu.weight": "59"}}, // ⌈10^((l²+125l)/612 − 7/34)⌉, l = log2(512)
			{[]string{"--cpuset-cpus", "0", "--cpuset-mems", "0"},
				map[string]string{"cpuset/cpuset.cpus": "0", "cpuset/cpuset.mems": "0"},
				map[string]string{"cpuset.cpus": "0", "cpuset.mems": "0"}},
			{[]string{"-m", "64m"}, // swap as much as memory, as docker run's default
				map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "134217728"},
				map[string]string{"memory.max": "67108864", "memory.swap.max": "67108864"}},
			{[]string{"--memory", "65536k", "--memory-swap", "96mb"},
				map[string]string{"memory/memory.limit_in_bytes": "67108864", "memory/memory.memsw.limit_in_bytes": "100663296"},
				map[string]string{"memory.max": "67108864", "memory.swap.max": "33554432"}},
			{[]string{"-m", "1g", "--memory-swap", "-1"},
				map[string]string{"memory/memory.limit_in_bytes": "1073741824", "memory/memory.memsw.limit_in_bytes": "9223372036854771712"},
				map[string]string{"memory.max": "1073741824", "memory.swap.max": "max"}},
			{[]string{"--pids-limit", "100"},
				map[string]string{"pids/pids.max": "100"},
				map[string]string{"pids.max": "100"}},
			{[]string{"--blkio-weight", "300"}, // BFQ's weight; on v2 without BFQ, io.weight's
				map[string]string{"blkio/blkio.bfq.weight": "300"},
				map[string]string{"io.weight": "default 2930"}}, // 1 + (300-10)*9999/990
			{[]string{"--device-read-bps", disk + ":1mb", "--device-write-iops", disk + ":50"},
				map[string]string{"blkio/blkio.throttle.read_bps_device": dev + " 1048576", "blkio/blkio.throttle.write_iops_device": dev + " 50"},
				map[string]string{"io.max": dev + " rbps=1048576 wbps=max riops=max wiops=50"}},
			{[]string{"--device-write-bps", disk + ":2m", "--device-read-iops", disk + ":100"},
				map[string]string{"blkio/blkio.throttle.write_bps_device": dev + " 2097152", "blkio/blkio.throttle.read_iops_device": dev + " 100"},
				map[string]string{"io.max": dev + " rbps=max wbps=2097152 riops=100 wiops=max"}},
		} {
			t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
				want := tc.v1
				if CgroupV2(t) {
					want = tc.v2
				}
				c := startWaiting(t, s, FreshRootfs(t), tc.flags, "")
				if _, err := os.Stat(filepath.Join(c.dirs[""], "io.bfq.weight")); err == nil && want["io.weight"] != "" {
					want = map[string]string{"io.bfq.weight": "default 300"} // BFQ is loaded here: its weight, as on v1
				}
				got := map[string]string{}
				for key := range want {
					got[key] = c.file(t, key)
				}
				assert.Equal(t, want, got)
				c.finish(t)
			})
		}
	})

	t.Run("MemoryLimitEndsWithOOMKill", func(t *testing.T) {
		rootfs := FreshRootfs(t)
		f := runProbe(t, s, rootfs, []string{"-m", "32m"}, "alloc=8")
		require.NotNil(t, f.Experiments.Alloc)
		assert.True(t, f.Experiments.Alloc.OK, "8 MiB fits in 32 MiB: %s", f.Experiments.Alloc.Error)

		r := Run(t, s.Args([]string{"-m", "32m"}, rootfs, "/probe", "alloc=256")...)
		assert.Equal(t, 137, r.Code, "killed by SIGKILL: 128+9\n%s", r)
		assert.Equal(t, s.Name+": killed: out of memory (limit 32 MiB)\n", r.Stderr)
		assert.Empty(t, r.Stdout, "the probe never got to report")
	})

	// The shell spins, and the test reads the cgroup's CPU time at the
	// start and the end of 1.5 s of its own clock: what the container used
	// in that time, without what it took to start.
	t.Run("CPUQuota", func(t *testing.T) {
		c := startWaiting(t, s, FreshRootfs(t), []string{"--cpus", "0.5"}, "")
		c.then = "while :; do :; done"
		c.release(t)
		time.Sleep(200 * time.Millisecond) // into the loop
		startUsage, start := c.cpuSeconds(t), time.Now()
		time.Sleep(1500 * time.Millisecond)
		usage, wall := c.cpuSeconds(t)-startUsage, time.Since(start).Seconds()
		throttled := c.statField(t, "cpu/cpu.stat", "nr_throttled")
		require.NoError(t, unix.Kill(c.pid, unix.SIGKILL))
		c.running.Wait(t)
		t.Logf("%.3f s of CPU in %.3f s, throttled in %d periods", usage, wall, throttled)
		assert.InDelta(t, 0.5, usage/wall, 0.15, "CPU seconds per second of wall time, by the cgroup's count: %.3f s in %.3f s", usage, wall)
		assert.Positive(t, throttled, "the kernel held the container back (nr_throttled)")
	})

	t.Run("Cpuset", func(t *testing.T) {
		cpus, err := readCPUs()
		require.NoError(t, err)
		for _, cpu := range []int{0, cpus[len(cpus)-1]} {
			f := runProbe(t, s, FreshRootfs(t), []string{"--cpuset-cpus", strconv.Itoa(cpu)})
			assert.Equal(t, []int{cpu}, f.CPUs, "the CPUs the probe may run on")
		}
	})

	t.Run("PidsLimit", func(t *testing.T) {
		c := startWaiting(t, s, FreshRootfs(t), []string{"--pids-limit", "16"}, "/probe forks=64 > /tmp/forks.json")
		refused := c.statField(t, "pids/pids.events", "max")
		f := c.finishReport(t, "/tmp/forks.json")
		forks := f.Experiments.Forks
		require.NotNil(t, forks)
		assert.Positive(t, forks.Started, "some children started")
		assert.LessOrEqual(t, forks.Tasks, 16, "tasks at the peak, the probe's threads and its children")
		assert.Contains(t, forks.Error, "resource temporarily unavailable", "fork failed with EAGAIN")
		assert.Positive(t, refused, "the kernel counted the refused forks (pids.events max)")
	})

	t.Run("BlockIO", func(t *testing.T) {
		disk := LoopDevice(t, 8<<20)
		for _, op := range []string{"read", "write"} {
			t.Run(op, func(t *testing.T) {
				rootfs := FreshRootfs(t)
				// Not in /dev, which is the container's own from step04 on.
				addDevice(t, rootfs, "disk/loop", unix.S_IFBLK, deviceOf(t, disk))
				f := runProbe(t, s, rootfs, []string{"--device-" + op + "-bps", disk + ":1mb"}, op+"=/disk/loop:3")
				timed := f.Experiments.Read
				if op == "write" {
					timed = f.Experiments.Write
				}
				require.NotNil(t, timed)
				require.Empty(t, timed.Error)
				assert.GreaterOrEqual(t, timed.Seconds, 2.0, "3 MiB at 1 MiB/s")
			})
		}
	})

	t.Run("CgroupIsRemoved", func(t *testing.T) {
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
			assert.Empty(t, r.Stderr, "no word of memory: it was not the OOM killer")
			assertRemoved(t, c.dirs)
		})
		// Without a PID namespace, nothing ends a process CMD left in the
		// background when CMD ends: the runtime must, to remove the cgroup.
		t.Run("with a process left behind, without a PID namespace", func(t *testing.T) {
			rootfs := FreshRootfs(t)
			devNull(t, rootfs)
			c := startWaiting(t, s, rootfs, []string{without("pid")}, "sleep 1000 &")
			require.Len(t, ProcessesRootedIn(rootfs), 2, "sh, and the sleep it left running")
			assert.Equal(t, 0, c.finish(t).Code)
			assertRemoved(t, c.dirs)
			assert.Empty(t, ProcessesRootedIn(rootfs), "the sleep was ended")
		})
		t.Run("by the next run, after the runtime is killed", func(t *testing.T) {
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
		})
	})

	// Many v1 systems mount cpu and cpuacct as one hierarchy, cpu,cpuacct,
	// with cpu and cpuacct as links to it; this machine mounts them
	// apart. So the test lays /sys/fs/cgroup out that way, from the real
	// hierarchies, in a mount namespace of its own, and runs the runtime
	// there.
	t.Run("CoMountedHierarchies", func(t *testing.T) {
		if CgroupV2(t) {
			t.Log("cgroup v2 has a single hierarchy: nothing is mounted together")
			return
		}
		rootfs := FreshRootfs(t)
		const layout = `set -e
			stage=$1; shift
			mount -t tmpfs boxcraft-cgroups "$stage"
			for c in cpuset memory pids blkio; do mkdir "$stage/$c"; mount --bind "/sys/fs/cgroup/$c" "$stage/$c"; done
			mkdir "$stage/cpu,cpuacct"; mount --bind /sys/fs/cgroup/cpu "$stage/cpu,cpuacct"
			ln -s cpu,cpuacct "$stage/cpu"; ln -s cpu,cpuacct "$stage/cpuacct"
			mount --rbind "$stage" /sys/fs/cgroup
			exec "$@"`
		// Without a cgroup namespace, the container sees its cgroups' paths.
		unshare := []string{"--mount", "--propagation", "private", "sh", "-c", layout, "sh", t.TempDir(), Binary(t)}
		r := RunCmd(t, HostCommand(t, "unshare", append(unshare, s.Args([]string{without("cgroup"), "--cpus", "0.5"}, rootfs, "cat", "/proc/self/cgroup")...)...))
		require.Equal(t, 0, r.Code, r)
		cgroup := regexp.MustCompile(`(?m)^[0-9]+:cpu:(/` + Parent + `/run-[0-9]+)$`).FindStringSubmatch(r.Stdout)
		require.NotNil(t, cgroup, "in a cgroup of its own in cpu,cpuacct:\n%s", r.Stdout)
		assert.NoDirExists(t, filepath.Join("/sys/fs/cgroup/cpu", cgroup[1]), "and it is gone")
	})

	t.Run("BadLimitsAreRefused", func(t *testing.T) {
		cpus, err := readCPUs()
		require.NoError(t, err)
		tooMany := strconv.Itoa(len(cpus) + 1)
		notCPU := strconv.Itoa(cpus[len(cpus)-1] + 1)
		disk := LoopDevice(t, 1<<20)
		notBlock := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(notBlock, nil, 0o644))
		for name, tc := range map[string]struct {
			args []string
			says string
		}{
			"size with an unknown suffix": {[]string{"-m", "12x"}, `--memory "12x": give a size`},
			"negative size":               {[]string{"--memory", "-1m"}, `--memory "-1m": give a size`},
			"memory below the floor":      {[]string{"-m", "1m"}, "give at least 6 MiB"},
			"swap without memory":         {[]string{"--memory-swap", "64m"}, "--memory-swap needs --memory"},
			"swap below memory":           {[]string{"-m", "64m", "--memory-swap", "32m"}, "less than --memory"},
			"zero CPUs":                   {[]string{"--cpus", "0"}, "give at least 0.01"},
			"more CPUs than the host's":   {[]string{"--cpus", tooMany}, "this machine has"},
			"CPUs not a number":           {[]string{"--cpus", "half"}, `--cpus "half": give a number`},
			"cpus and a quota":            {[]string{"--cpus", "1", "--cpu-quota", "50000"}, "give one or the others"},
			"period too short":            {[]string{"--cpu-period", "10"}, "--cpu-period 10: give 1000 to 1000000"},
			"shares out of range":         {[]string{"--cpu-shares", "1"}, "--cpu-shares 1: give 2 to 262144"},
			"cpuset outside the host's":   {[]string{"--cpuset-cpus", notCPU}, "this machine has no " + notCPU},
			"cpuset not a list":           {[]string{"--cpuset-cpus", "1-0"}, "give numbers and ranges"},
			"mems outside the host's":     {[]string{"--cpuset-mems", "63"}, "this machine has no 63"},
			"pids limit too low":          {[]string{"--pids-limit", "3"}, "give at least 16"},
			"CPUs not a number at all":    {[]string{"--cpus", "NaN"}, "give at least 0.01"},
			"cpuset past any machine's":   {[]string{"--cpuset-cpus", "0-4000000000"}, "give numbers and ranges"},
			"quota the kernel refuses":    {[]string{"--cpu-quota", "9223372036854775807"}, "--cpu-quota: the kernel refused 9223372036854775807"},
			"blkio weight out of range":   {[]string{"--blkio-weight", "5"}, "--blkio-weight 5: give 10 to 1000"},
			"device that does not exist":  {[]string{"--device-read-bps", "/dev/boxcraft-none:1mb"}, "no such file or directory"},
			"device not a block device":   {[]string{"--device-write-bps", notBlock + ":1mb"}, "not a block device"},
			"character device":            {[]string{"--device-read-iops", "/dev/null:10"}, "/dev/null: not a block device"},
			"rate that is not a size":     {[]string{"--device-read-bps", disk + ":fast"}, `--device-read-bps "fast": give a size`},
			"no operations":               {[]string{"--device-write-iops", disk + ":0"}, "give a number of operations above zero"},
			"device without a rate":       {[]string{"--device-read-bps", disk}, "want DEVICE:RATE"},
		} {
			t.Run(name, func(t *testing.T) {
				rootfs := FreshRootfs(t)
				before := workshopCgroups(t)
				AssertRefused(t, Run(t, s.Args(tc.args, rootfs, "/probe")...), s.Name, tc.says)
				assert.Equal(t, before, workshopCgroups(t), "no cgroup was made")
			})
		}
	})
}

// CgroupV2 reports whether the host runs cgroup v2 alone: the cgroup2
// filesystem itself is mounted at /sys/fs/cgroup. On v1, a tmpfs there
// holds a mount for each hierarchy.
func CgroupV2(t testing.TB) bool {
	t.Helper()
	var fs unix.Statfs_t
	require.NoError(t, unix.Statfs("/sys/fs/cgroup", &fs))
	return fs.Type == unix.CGROUP2_SUPER_MAGIC
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
	children := ChildrenOf(c.running.Cmd.Process.Pid)
	require.Len(t, children, 1, "the runtime has one child: the container's command")
	c.pid = children[0]
	c.dirs = containerCgroups(t, c.pid)
	require.NotEmpty(t, c.dirs, "the container is in a cgroup under /%s", Parent)
	return c
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

// containerCgroups finds the cgroup folders of process pid that lie
// under the workshop's parent, from /proc/PID/cgroup as the host sees it:
// "4:memory:/boxcraft/run-42" on v1 (co-mounted hierarchies share a
// folder named cpu,cpuacct), "0::/boxcraft/run-42" on v2.
func containerCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	require.NoError(t, err)
	dirs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/"+Parent+"/") {
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

// workshopCgroups lists every cgroup folder under the workshop's parent,
// in every hierarchy.
func workshopCgroups(t *testing.T) []string {
	t.Helper()
	v1, err := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", Parent, "*", "cgroup.procs"))
	require.NoError(t, err)
	v2, err := filepath.Glob(filepath.Join("/sys/fs/cgroup", Parent, "*", "cgroup.procs"))
	require.NoError(t, err)
	return append(v1, v2...)
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
