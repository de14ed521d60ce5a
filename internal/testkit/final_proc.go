package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Proc is the end-to-end suite of the container's own /proc (issue 21):
// meminfo, cpuinfo, stat, cpu/online, uptime, loadavg and swaps answered
// from the container's limits by its monitor (FUSE), and sysinfo(2)
// with them (seccomp user notification), read inside by busybox's cat,
// free, nproc, uptime and top, and compared with the limits set. The
// same reads with --proc=host show the host's, so that a runtime without
// the view fails.
func Proc(t *testing.T) {
	RequireRoot(t)
	s := &commandsSuite{top: t, base: BaseLayer(t)}
	s.busybox = newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, s.base)
	loaded(t, Run(t, "load", "-i", s.busybox.layout(t)), "Loaded image: busybox:latest")

	host := readHostProc(t)
	last := host.cpus[len(host.cpus)-1]
	for _, c := range []procCase{
		{"NoLimits", nil, host.memKB, host.cpus, len(host.cpus)},
		{"Memory64m", []string{"-m", "64m"}, 64 << 10, host.cpus, len(host.cpus)},
		{"HalfACPU", []string{"--cpus", "0.5"}, host.memKB, host.cpus[:1], len(host.cpus)},
		{"CpusetLastCPU", []string{"--cpuset-cpus", strconv.Itoa(last)}, host.memKB, []int{last}, 1},
		{"AllTogether", []string{"-m", "64m", "--cpus", "0.5", "--cpuset-cpus", strconv.Itoa(last)}, 64 << 10, []int{last}, 1},
	} {
		t.Run(c.name, func(t *testing.T) { s.enter(t); c.check(t, host) })
	}
	t.Run("HostWithProcHost", func(t *testing.T) { s.enter(t); procHost(t, host, last) })
	t.Run("FreeFollowsAnAllocation", func(t *testing.T) { s.enter(t); procAllocation(t) })
	t.Run("StatFollowsAHog", func(t *testing.T) { s.enter(t); procHog(t) })
	t.Run("UserNamespace", func(t *testing.T) { s.enter(t); procUserNamespace(t) })
	t.Run("ServerGoneReadFails", func(t *testing.T) { s.enter(t); s.procServerGone(t) })
	t.Run("BadValueRefused", func(t *testing.T) {
		s.enter(t)
		assertFailedOneLine(t, Run(t, "run", "--rm", "--proc", "lxcfs", "busybox", "true"), 125, "--proc")
	})
}

// hostProc is what the host's own /proc says.
type hostProc struct {
	memKB  int
	cpus   []int // online
	uptime float64
}

func readHostProc(t *testing.T) hostProc {
	mem, err := os.ReadFile("/proc/meminfo")
	require.NoError(t, err)
	online, err := os.ReadFile("/sys/devices/system/cpu/online")
	require.NoError(t, err)
	up, err := os.ReadFile("/proc/uptime")
	require.NoError(t, err)
	h := hostProc{memKB: meminfoKB(t, string(mem), "MemTotal"), cpus: cpuList(t, string(online))}
	h.uptime, err = strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	require.NoError(t, err)
	require.NotEmpty(t, h.cpus, "the host has CPUs online")
	return h
}

// procScript prints, in sections, what the container's programs see.
const procScript = `echo "== meminfo"; cat /proc/meminfo
echo "== free"; free
echo "== nproc"; nproc
echo "== online"; cat /sys/devices/system/cpu/online
echo "== cpuinfo"; grep ^processor /proc/cpuinfo
echo "== stat"; grep ^cpu /proc/stat
echo "== uptime"; cat /proc/uptime
echo "== busybox uptime"; uptime
echo "== loadavg"; cat /proc/loadavg
echo "== top"; top -b -n1 | head -1
echo "== swaps"; cat /proc/swaps`

// procSections runs procScript in a container with flags, and returns
// its sections by name.
func procSections(t *testing.T, flags ...string) map[string]string {
	t.Helper()
	r := Run(t, append(append([]string{"run", "--rm"}, flags...), "busybox", "sh", "-c", procScript)...)
	require.Equal(t, 0, r.Code, "run %v:\n%s", flags, r)
	t.Logf("run %v:\n%s", flags, r.Stdout)
	sections := map[string]string{}
	for _, part := range strings.Split(r.Stdout, "== ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		sections[name] = body
	}
	return sections
}

// procCase is a container's limits and what its /proc must say of them.
type procCase struct {
	name  string
	flags []string
	memKB int   // MemTotal, free's total
	cpus  []int // cpu/online, cpuinfo, stat
	nproc int   // sched_getaffinity: the cpuset's CPUs
}

func (c procCase) check(t *testing.T, host hostProc) {
	s := procSections(t, c.flags...)
	meminfo := s["meminfo"]
	assert.Equal(t, c.memKB, meminfoKB(t, meminfo, "MemTotal"), "MemTotal is the limit, or the host's memory without one")
	assert.Greater(t, meminfoKB(t, meminfo, "MemFree"), c.memKB/2, "a shell uses little of it: MemFree is most of MemTotal")
	assert.LessOrEqual(t, meminfoKB(t, meminfo, "MemAvailable"), c.memKB, "MemAvailable is within MemTotal")
	assert.Equal(t, c.memKB, freeTotal(t, s["free"]), "free's total (sysinfo(2)'s totalram) is the limit too")
	assert.Equal(t, c.memKB, topMemKB(t, s["top"]), "top's used and free memory add up to the limit")
	assert.Equal(t, c.cpus, cpuList(t, s["online"]), "/sys/devices/system/cpu/online: the cpuset's CPUs, as many as the quota needs")
	assert.Equal(t, c.cpus, numbered(t, s["cpuinfo"], `(?m)^processor\s*:\s*(\d+)$`), "/proc/cpuinfo: a block for each of those CPUs")
	assert.Equal(t, c.cpus, numbered(t, s["stat"], `(?m)^cpu(\d+) `), "/proc/stat: a line for each of those CPUs")
	assert.Equal(t, strconv.Itoa(c.nproc)+"\n", s["nproc"], "nproc counts the CPUs of the affinity, which the cpuset sets")
	up, err := strconv.ParseFloat(strings.Fields(s["uptime"])[0], 64)
	require.NoError(t, err)
	assert.Less(t, up, 60.0, "/proc/uptime is the container's: it started a moment ago")
	assert.Less(t, up, host.uptime, "and the host's started before the test")
	assert.Contains(t, s["busybox uptime"], "up 0 min", "busybox uptime (sysinfo(2)) says the container's")
	load := strings.Fields(s["loadavg"])
	require.Len(t, load, 5, "/proc/loadavg: %q", s["loadavg"])
	_, tasks, _ := strings.Cut(load[3], "/")
	n, err := strconv.Atoi(tasks)
	require.NoError(t, err)
	assert.Less(t, n, 10, "/proc/loadavg counts the container's few tasks")
	assert.True(t, strings.HasPrefix(s["swaps"], "Filename"), "/proc/swaps has its header: %q", s["swaps"])
}

// procHost: with --proc=host, the same limits leave the host's /proc as
// it is: the files and sysinfo(2) say the host's memory and CPUs.
func procHost(t *testing.T, host hostProc, last int) {
	s := procSections(t, "--proc=host", "-m", "64m", "--cpus", "0.5", "--cpuset-cpus", strconv.Itoa(last))
	assert.Equal(t, host.memKB, meminfoKB(t, s["meminfo"], "MemTotal"), "MemTotal is the host's")
	assert.Equal(t, host.memKB, freeTotal(t, s["free"]), "free's total is the host's")
	assert.Equal(t, host.cpus, cpuList(t, s["online"]), "every CPU of the host is online")
	assert.Equal(t, host.cpus, numbered(t, s["cpuinfo"], `(?m)^processor\s*:\s*(\d+)$`), "cpuinfo lists the host's CPUs")
	assert.Equal(t, "1\n", s["nproc"], "nproc still counts the cpuset's one CPU: the affinity is the kernel's")
	up, err := strconv.ParseFloat(strings.Fields(s["uptime"])[0], 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, up, host.uptime, "/proc/uptime is the host's")
}

// procAllocation: 20 MiB written to the container's /dev/shm (a tmpfs,
// whose pages the memory cgroup charges to the container) make MemFree,
// and free's free memory (sysinfo(2)), drop by about that, and Shmem
// grow by it.
func procAllocation(t *testing.T) {
	script := `grep -E 'MemFree|Shmem:' /proc/meminfo; free | grep Mem:
dd if=/dev/zero of=/dev/shm/x bs=1048576 count=20 2>/dev/null
grep -E 'MemFree|Shmem:' /proc/meminfo; free | grep Mem:; grep MemTotal /proc/meminfo`
	r := Run(t, "run", "--rm", "-m", "256m", "busybox", "sh", "-c", script)
	require.Equal(t, 0, r.Code, "%s", r)
	t.Logf("%s", r.Stdout)
	lines := strings.Split(r.Stdout, "\n")
	require.Len(t, lines, 8, "MemFree and Shmem, free's line, twice, then MemTotal:\n%s", r.Stdout)
	assert.Equal(t, 256<<10, meminfoKB(t, lines[6], "MemTotal"), "the container's memory: its limit")
	const mib = 1 << 10 // in kB
	meminfoDrop := meminfoKB(t, lines[0], "MemFree") - meminfoKB(t, lines[3], "MemFree")
	freeDrop := freeColumn(t, lines[2], 3) - freeColumn(t, lines[5], 3)
	for what, drop := range map[string]int{"MemFree": meminfoDrop, "free's free memory": freeDrop} {
		assert.GreaterOrEqual(t, drop, 19*mib, "%s drops by the 20 MiB written to /dev/shm", what)
		assert.LessOrEqual(t, drop, 24*mib, "%s drops by about 20 MiB", what)
	}
	assert.InDelta(t, 20*mib, meminfoKB(t, lines[4], "Shmem")-meminfoKB(t, lines[1], "Shmem"), mib, "Shmem grows by the 20 MiB")
}

// procHog: /proc/stat's busy time (user and system) barely grows while
// the container sleeps, and grows while a busy loop runs in it: by a
// part of the 2 s it ran however busy the machine (the same /proc/stat
// of the host grows with every process of the machine).
func procHog(t *testing.T) {
	script := `head -1 /proc/stat; sleep 2; head -1 /proc/stat; (while :; do :; done) & sleep 2; head -1 /proc/stat; kill $!`
	r := Run(t, "run", "--rm", "--cpus", "1", "busybox", "sh", "-c", script)
	require.Equal(t, 0, r.Code, "%s", r)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 3, "%s", r.Stdout)
	busy := func(line string) int {
		f := strings.Fields(line)
		require.GreaterOrEqual(t, len(f), 4, "a cpu line: %q", line)
		user, _ := strconv.Atoi(f[1])
		system, _ := strconv.Atoi(f[3])
		return user + system
	}
	asleep, hog := busy(lines[1])-busy(lines[0]), busy(lines[2])-busy(lines[1])
	t.Logf("%s\nbusy time grew by %d ticks (10 ms each) asleep, %d with the loop", r.Stdout, asleep, hog)
	assert.LessOrEqual(t, asleep, 10, "asleep, the container uses next to no CPU time")
	assert.GreaterOrEqual(t, hog, asleep+10, "the loop's CPU time shows, even on a busy machine")
	assert.LessOrEqual(t, hog, 250, "at most one CPU (--cpus 1) for 2 s, and a little more for the shells around")
}

// procUserNamespace: in a user namespace, root inside is another user
// outside: the FUSE files let it in (allow_other), and sysinfo(2) is
// answered the same.
func procUserNamespace(t *testing.T) {
	r := Run(t, "run", "--rm", "--uidmap", "0:100000:65536", "-m", "64m", "busybox", "sh", "-c", "head -1 /proc/meminfo; free | grep Mem:")
	require.Equal(t, 0, r.Code, "%s", r)
	lines := strings.Split(r.Stdout, "\n")
	assert.Equal(t, 64<<10, meminfoKB(t, lines[0], "MemTotal"), "MemTotal is the limit:\n%s", r.Stdout)
	assert.Equal(t, 64<<10, freeColumn(t, lines[1], 1), "free's total is the limit:\n%s", r.Stdout)
}

// procServerGone: a command exec starts sees the view, sysinfo(2)
// included. When the view's FUSE connection ends under a running
// container (aborted from the host, through the fusectl filesystem, in
// a mount namespace of the test's own), a read of /proc/meminfo fails at
// once rather than waiting; the container still runs; the next
// container gets a view of its own. Nothing of it is mounted on the
// host meanwhile.
func (s *commandsSuite) procServerGone(t *testing.T) {
	id := s.detach(t, "-m", "64m", "busybox", "sleep", "1000")
	pid := inspectOne(t, id).State.Pid
	mountinfo, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\d+ \d+ 0:(\d+) \S+ /proc/meminfo .* - fuse\.boxcraft `).FindSubmatch(mountinfo)
	require.NotNil(t, m, "a FUSE mount over the container's /proc/meminfo:\n%s", mountinfo)
	r := Run(t, "exec", id, "free")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, 64<<10, freeTotal(t, r.Stdout), "a command exec starts gets its sysinfo(2) from the monitor too:\n%s", r.Stdout)
	own, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(own), " 0:"+string(m[1])+" ", "the view is mounted in the container alone, not on the host")

	dir := t.TempDir()
	abort := fmt.Sprintf("mount --make-rprivate / && mount -t fusectl fusectl %s && echo 1 > %s/%s/abort", dir, dir, m[1])
	r = RunCmd(t, HostCommand(t, "unshare", "-m", "sh", "-c", abort))
	require.Equal(t, 0, r.Code, "abort connection %s:\n%s", m[1], r)

	r = Run(t, "exec", id, "cat", "/proc/meminfo")
	assert.NotEqual(t, 0, r.Code, "the read fails:\n%s", r)
	assert.Contains(t, r.Stderr, "not connected", "with ENOTCONN, FUSE's error for a connection gone:\n%s", r)
	assert.Equal(t, 0, Run(t, "exec", id, "true").Code, "the container still runs")
	r = Run(t, "run", "--rm", "-m", "32m", "busybox", "head", "-1", "/proc/meminfo")
	assert.Equal(t, 32<<10, meminfoKB(t, r.Stdout, "MemTotal"), "the next container has a view of its own:\n%s", r)
	entries, _ := filepath.Glob(filepath.Join(StateDir(t), "run", "containers", "*", "proc"))
	assert.Empty(t, entries, "no mount point is left in the state folder")
}

// meminfoKB reads "Name:   N kB" from meminfo's text.
func meminfoKB(t *testing.T, text, name string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s+(\d+) kB$`).FindStringSubmatch(text)
	require.NotNil(t, m, "%s in %q", name, text)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// freeTotal is the total of free's "Mem:" line, in kB.
func freeTotal(t *testing.T, text string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Mem:.*$`).FindString(text)
	return freeColumn(t, m, 1)
}

// freeColumn is the n-th column of free's "Mem:" line (1: total, 3:
// free), in kB.
func freeColumn(t *testing.T, line string, n int) int {
	t.Helper()
	f := strings.Fields(line)
	require.Greater(t, len(f), n, "free's Mem: line: %q", line)
	v, err := strconv.Atoi(f[n])
	require.NoError(t, err)
	return v
}

// topMemKB adds top's used and free memory ("Mem: 1568K used, 63968K free, …").
func topMemKB(t *testing.T, text string) int {
	t.Helper()
	m := regexp.MustCompile(`Mem: (\d+)K used, (\d+)K free`).FindStringSubmatch(text)
	require.NotNil(t, m, "top's Mem: line in %q", text)
	used, _ := strconv.Atoi(m[1])
	free, _ := strconv.Atoi(m[2])
	return used + free
}

// cpuList reads the kernel's CPU lists ("0-1,3").
func cpuList(t *testing.T, text string) []int {
	t.Helper()
	var list []int
	for _, part := range strings.Split(strings.TrimSpace(text), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		require.NoError(t, err, "a CPU list: %q", text)
		b := a
		if isRange {
			b, err = strconv.Atoi(hi)
			require.NoError(t, err, "a CPU list: %q", text)
		}
		for c := a; c <= b; c++ {
			list = append(list, c)
		}
	}
	return list
}

// numbered lists the numbers pattern's first group finds in text.
func numbered(t *testing.T, text, pattern string) []int {
	t.Helper()
	var list []int
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		list = append(list, n)
	}
	return list
}
