package cgroups_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

// childEnv makes the test binary, started again, a child for the tests:
// "wait" waits until its stdin closes, "hog" takes memory it may not
// give back until the OOM killer ends it. Each first reads one byte, the
// sign that it is in its cgroup.
const childEnv = "CGROUPS_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "wait":
		_, _ = io.ReadAll(os.Stdin)
		os.Exit(0)
	case "hog":
		hog()
	}
	testkit.Main(m)
}

// hog takes memory, 1 MiB at a time, touching each page, until it is
// killed. mlockall keeps every page in memory, so that swap, where the
// host has some, cannot save it.
func hog() {
	_, _ = os.Stdin.Read(make([]byte, 1))
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE); err != nil {
		fmt.Fprintln(os.Stderr, "mlockall:", err)
		os.Exit(3)
	}
	var kept [][]byte
	for i := 0; i < 4096; i++ {
		chunk := make([]byte, 1<<20)
		for j := range chunk {
			chunk[j] = 1
		}
		kept = append(kept, chunk)
	}
	fmt.Fprintln(os.Stderr, "hog: 4 GiB taken and not killed", len(kept))
	os.Exit(4)
}

// testParent is a cgroup parent of the test's own, below the workshop's,
// removed (with anything below it) when the test ends.
func testParent(t *testing.T) string {
	testkit.RequireRoot(t)
	parent := fmt.Sprintf("%s/unit-%d-%s", cgroups.Workshop, os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() {
		hierarchies, _ := filepath.Glob(filepath.Join(cgroups.Root, "*", parent))
		for _, dir := range append(hierarchies, filepath.Join(cgroups.Root, parent)) {
			children, _ := filepath.Glob(filepath.Join(dir, "*", "cgroup.procs"))
			for _, child := range children {
				assert.NoError(t, ignoreMissing(unix.Rmdir(filepath.Dir(child))), "a cgroup the test left")
			}
			assert.NoError(t, ignoreMissing(unix.Rmdir(dir)), "the test's parent")
		}
	})
	return parent
}

func ignoreMissing(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// started is a child of the test in a cgroup.
type started struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// start starts the test binary as a child of the given kind in c, as the
// runtime does: born in it on v2 (CLONE_INTO_CGROUP), moved in on v1. It
// releases the child once it is in.
func start(t *testing.T, c *cgroups.Cgroup, kind string) *started {
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), childEnv+"="+kind)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	fd, err := c.IntoFD()
	require.NoError(t, err)
	if fd != nil {
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	require.NoError(t, cmd.Start())
	s := &started{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }() // reaped at once, so that its cgroup can go
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	if fd == nil {
		require.NoError(t, c.Add(cmd.Process.Pid))
	}
	_, err = stdin.Write([]byte{1})
	require.NoError(t, err)
	return s
}

// read reads one cgroup file of c's, as the kernel shows it.
func read(t *testing.T, c *cgroups.Cgroup, hierarchy, file string) string {
	data, err := os.ReadFile(filepath.Join(c.Paths()[hierarchy], file))
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

func newCgroup(t *testing.T, parent, id string, r spec.Resources) *cgroups.Cgroup {
	c, err := cgroups.New(parent, id, r, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Remove() })
	return c
}

func isV2(t *testing.T) bool {
	v2, err := cgroups.IsV2()
	require.NoError(t, err)
	return v2
}

func TestNewWritesLimitsAndRemoveKillsWhatIsLeft(t *testing.T) {
	parent := testParent(t)
	r := spec.Resources{CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512, CpusetCPUs: "0",
		Memory: 64 << 20, MemorySwap: 128 << 20, PidsLimit: 32}
	c := newCgroup(t, parent, "c1", r)

	// The kernel shows each limit back in its file.
	if isV2(t) {
		assert.Equal(t, map[string]string{"": filepath.Join(cgroups.Root, parent, "c1")}, c.Paths())
		assert.Equal(t, "50000 100000", read(t, c, "", "cpu.max"))
		assert.Equal(t, "59", read(t, c, "", "cpu.weight"), "512 shares, by runc's curve")
		assert.Equal(t, "67108864", read(t, c, "", "memory.max"))
		assert.Equal(t, "32", read(t, c, "", "pids.max"))
		assert.Equal(t, "0", read(t, c, "", "cpuset.cpus"))
	} else {
		for _, h := range []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio"} {
			dir := c.Paths()[h]
			assert.True(t, strings.HasPrefix(dir, cgroups.Root+"/") && strings.HasSuffix(dir, "/"+parent+"/c1"), "%s: %s", h, dir)
		}
		assert.Equal(t, "50000", read(t, c, "cpu", "cpu.cfs_quota_us"))
		assert.Equal(t, "100000", read(t, c, "cpu", "cpu.cfs_period_us"))
		assert.Equal(t, "512", read(t, c, "cpu", "cpu.shares"))
		assert.Equal(t, "67108864", read(t, c, "memory", "memory.limit_in_bytes"))
		assert.Equal(t, "32", read(t, c, "pids", "pids.max"))
		assert.Equal(t, "0", read(t, c, "cpuset", "cpuset.cpus"))
		assert.NotEmpty(t, read(t, c, "cpuset", "cpuset.mems"), "inherited, or no process could go in")
	}

	// Open finds the same folders.
	opened, err := cgroups.Open(parent, "c1")
	require.NoError(t, err)
	assert.Equal(t, c.Paths(), opened.Paths())

	// A process started in it is in it, as the kernel sees it.
	s := start(t, c, "wait")
	own, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", s.cmd.Process.Pid))
	require.NoError(t, err)
	assert.Contains(t, string(own), "/"+parent+"/c1\n")

	// Remove ends it (its stdin is still open: it would wait forever)
	// and leaves no folder.
	require.NoError(t, opened.Remove())
	err = <-s.done
	s.done <- err
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, unix.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
	for _, dir := range c.Paths() {
		assert.NoDirExists(t, dir)
	}
	_, err = cgroups.Open(parent, "c1")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestOOMKillsCountsWhatTheKernelKilled(t *testing.T) {
	parent := testParent(t)
	c := newCgroup(t, parent, "oom", spec.Resources{Memory: 32 << 20, MemorySwap: 64 << 20})
	assert.Equal(t, 0, c.OOMKills(), "nothing killed yet")
	s := start(t, c, "hog")
	err := <-s.done
	s.done <- err
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the hog ended by itself")
	assert.Equal(t, unix.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "the hog: %v", err)
	assert.GreaterOrEqual(t, c.OOMKills(), 1)
}

func TestNewRefusesALimitNamingItsFlagAndLeavesNothing(t *testing.T) {
	parent := testParent(t)
	// No machine has CPU 60000: the kernel refuses the value.
	_, err := cgroups.New(parent, "bad", spec.Resources{Memory: 64 << 20, CpusetCPUs: "60000"}, nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "--cpuset-cpus: "), err.Error())
	_, err = cgroups.Open(parent, "bad")
	assert.ErrorIs(t, err, os.ErrNotExist, "the folders New made are gone")

	// A weight needs BFQ's file on v1; this machine may have none.
	if !isV2(t) {
		if _, statErr := os.Stat(filepath.Join(cgroups.Root, "blkio", "blkio.bfq.weight")); statErr == nil {
			t.Skip("this kernel has BFQ: nothing to refuse")
		}
		_, err = cgroups.New(parent, "weight", spec.Resources{BlkioWeight: 500}, nil)
		assert.EqualError(t, err, "--blkio-weight: this kernel has no blkio.bfq.weight in its blkio controller")
		_, err = cgroups.Open(parent, "weight")
		assert.ErrorIs(t, err, os.ErrNotExist)
	}
}

func TestNewWritesThrottles(t *testing.T) {
	parent := testParent(t)
	device := testkit.LoopDevice(t, 1<<20)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(device, &st))
	major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	c := newCgroup(t, parent, "io", spec.Resources{Throttles: []spec.Throttle{
		{Major: major, Minor: minor, Op: "read", Unit: "bps", Rate: 1 << 20},
		{Major: major, Minor: minor, Op: "write", Unit: "iops", Rate: 100},
	}})
	if isV2(t) {
		assert.Contains(t, read(t, c, "", "io.max"), fmt.Sprintf("%d:%d rbps=1048576 wbps=max riops=max wiops=100", major, minor))
	} else {
		assert.Equal(t, fmt.Sprintf("%d:%d 1048576", major, minor), read(t, c, "blkio", "blkio.throttle.read_bps_device"))
		assert.Equal(t, fmt.Sprintf("%d:%d 100", major, minor), read(t, c, "blkio", "blkio.throttle.write_iops_device"))
	}
}

func TestRemoveLeftoversRemovesWhatIsGoneAndEmpty(t *testing.T) {
	parent := testParent(t)
	gone := newCgroup(t, parent, "gone", spec.Resources{})
	kept := newCgroup(t, parent, "kept", spec.Resources{})
	busy := newCgroup(t, parent, "busy", spec.Resources{})
	start(t, busy, "wait")
	var asked []string
	cgroups.RemoveLeftovers(parent, func(id string) bool {
		asked = append(asked, id)
		return id != "kept"
	})
	assert.Contains(t, asked, "gone")
	for _, dir := range gone.Paths() {
		assert.NoDirExists(t, dir)
	}
	for _, dir := range kept.Paths() {
		assert.DirExists(t, dir)
	}
	for _, dir := range busy.Paths() {
		assert.DirExists(t, dir, "a process is in it")
	}
}

func TestCheckParent(t *testing.T) {
	for parent, ok := range map[string]bool{
		"boxcraft": true, "boxcraft/t-1": true, "boxcraft/a/b": true,
		"": false, "/boxcraft": false, "boxcraft/../system.slice": false, "boxcraftx": false, "system.slice": false, "../boxcraft": false,
	} {
		err := cgroups.CheckParent(parent)
		assert.Equal(t, ok, err == nil, "%q: %v", parent, err)
	}
}

func TestNewRefusesANameThatIsNotOneFolder(t *testing.T) {
	parent := testParent(t)
	for _, id := range []string{"", ".", "..", "a/b"} {
		_, err := cgroups.New(parent, id, spec.Resources{}, nil)
		assert.Error(t, err, "%q", id)
	}
}
