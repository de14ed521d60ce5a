package testkit

// run's --ulimit, --sysctl, --group-add and --shm-size, end to end: what
// the command sees inside (its limits, /proc/sys, its groups, /dev/shm's
// mount), what the host keeps, what inspect shows, and what is refused.

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// processFlags checks run's flags for the process's limits, sysctls,
// groups and /dev/shm.
func (s *commandsSuite) processFlags(t *testing.T) {
	s.enter(t)
	t.Run("Ulimit", s.ulimit)
	t.Run("Sysctl", s.sysctl)
	t.Run("GroupAdd", s.groupAdd)
	t.Run("ShmSize", s.shmSize)
	t.Run("KeptAcrossStart", s.processFlagsKept)
}

// lowerNofile is a --ulimit nofile=SOFT:HARD below boxcraft's own hard
// limit (inherited from the test), which root lowers without
// CAP_SYS_RESOURCE: this machine's root may lack it.
func lowerNofile(t *testing.T) (soft, hard uint64) {
	t.Helper()
	var own unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &own))
	hard = min(own.Max, 1024)
	require.Greater(t, hard, uint64(64), "boxcraft's hard limit on open files is too low to lower")
	return hard / 2, hard
}

// limitLine is /proc/PID/limits' line for what (e.g. "Max open files"):
// its soft and hard columns.
func limitLine(t *testing.T, limits, what string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(what) + `\s+(\S+)\s+(\S+)`).FindStringSubmatch(limits)
	require.NotNil(t, m, "%s in /proc/self/limits:\n%s", what, limits)
	return m[1] + " " + m[2]
}

// ulimit: the limits are the command's (and exec's), a bad one is
// refused before anything is made, and a hard limit above boxcraft's is
// refused by the kernel, without CAP_SYS_RESOURCE in the container,
// with one line and status 125.
func (s *commandsSuite) ulimit(t *testing.T) {
	ShareSandbox(t, s.top)
	soft, hard := lowerNofile(t)
	nofile := fmt.Sprintf("nofile=%d:%d", soft, hard)
	r := Run(t, "run", "--rm", "--ulimit", nofile, "--ulimit", "core=0", "busybox",
		"sh", "-c", "ulimit -n; cat /proc/self/limits")
	require.Equal(t, 0, r.Code, r)
	first, limits, _ := strings.Cut(r.Stdout, "\n")
	assert.Equal(t, strconv.FormatUint(soft, 10), first, "ulimit -n is --ulimit's soft limit")
	assert.Equal(t, fmt.Sprintf("%d %d", soft, hard), limitLine(t, limits, "Max open files"), "--ulimit %s", nofile)
	assert.Equal(t, "0 0", limitLine(t, limits, "Max core file size"), "--ulimit core=0: HARD is SOFT")

	id := s.detach(t, "--ulimit", nofile, "busybox", "sleep", "1000")
	r = Run(t, "exec", id, "cat", "/proc/self/limits")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, fmt.Sprintf("%d %d", soft, hard), limitLine(t, r.Stdout, "Max open files"), "exec's command has the container's --ulimit, as Docker's")
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", unix.Getpid()))
	require.NoError(t, err)
	assert.NotEqual(t, fmt.Sprintf("%d %d", soft, hard), limitLine(t, string(data), "Max open files"), "the host's limits are its own")

	for _, bad := range []struct{ value, names string }{
		{"nofile=2048:1024", "soft"},
		{"nosuch=1", "nosuch"},
		{"nofile=many", "many"},
		{"nofile", "nofile"},
		{"as=1", "as"},
	} {
		assertLeavesNothing(t, "--ulimit "+bad.value, func() {
			assertFailedOneLine(t, Run(t, "run", "--rm", "--ulimit", bad.value, "busybox", "true"), 125, bad.names)
		})
	}
	// Above boxcraft's hard limit: the monitor, root on the host, raises
	// init's with prlimit(2) before init sets its limits, as runc does
	// from outside (the container's capabilities leave out
	// CAP_SYS_RESOURCE). The raise takes that capability on the host,
	// which this machine's root lacks, and the kernel's fs.nr_open caps
	// nofile: where either stops it, the run is refused.
	var own unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &own))
	data, err = os.ReadFile("/proc/sys/fs/nr_open")
	require.NoError(t, err)
	nrOpen, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	require.NoError(t, err)
	above := own.Max + 1
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	_, capEff, _ := strings.Cut(string(status), "CapEff:\t")
	capEff, _, _ = strings.Cut(capEff, "\n")
	if hasCapability(t, capEff, unix.CAP_SYS_RESOURCE) && above <= nrOpen {
		r := Run(t, "run", "--rm", "--ulimit", fmt.Sprintf("nofile=%d", above), "busybox", "sh", "-c", "ulimit -Hn")
		require.Equal(t, 0, r.Code, "%s", r)
		assert.Equal(t, strconv.FormatUint(above, 10)+"\n", r.Stdout, "a hard limit above boxcraft's own, raised from outside")
		return
	}
	assertLeavesNothing(t, fmt.Sprintf("--ulimit nofile=%d", above), func() {
		assertFailedOneLine(t, Run(t, "run", "--rm", "--ulimit", fmt.Sprintf("nofile=%d", above), "busybox", "true"), 125, "RLIMIT_NOFILE")
	})
}

// hostSysctl reads a sysctl of the test's own namespaces: the host's, as
// far as the container is concerned.
func hostSysctl(t *testing.T, key string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(key, ".", "/"))
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// otherThan is want, or another value when the host has want already.
func otherThan(host, want, other string) string {
	if host == want {
		return other
	}
	return want
}

// sysctl: namespaced keys are written inside, the host's stay as they
// were, and a key of the host's (or of a namespace shared with it) is
// refused.
func (s *commandsSuite) sysctl(t *testing.T) {
	ShareSandbox(t, s.top)
	shmmax, port := hostSysctl(t, "kernel.shmmax"), hostSysctl(t, "net.ipv4.ip_unprivileged_port_start")
	wantShm, wantPort := otherThan(shmmax, "1048576", "2097152"), otherThan(port, "80", "81")
	r := Run(t, "run", "--rm", "--sysctl", "kernel.shmmax="+wantShm, "--sysctl", "net.ipv4.ip_unprivileged_port_start="+wantPort,
		"busybox", "cat", "/proc/sys/kernel/shmmax", "/proc/sys/net/ipv4/ip_unprivileged_port_start")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, wantShm+"\n"+wantPort+"\n", r.Stdout, "--sysctl: the container's ipc and network namespaces have the values")
	assert.Equal(t, shmmax, hostSysctl(t, "kernel.shmmax"), "the host's kernel.shmmax is unchanged")
	assert.Equal(t, port, hostSysctl(t, "net.ipv4.ip_unprivileged_port_start"), "the host's net.ipv4.ip_unprivileged_port_start is unchanged")

	for _, bad := range []struct {
		args  []string
		names string
	}{
		{[]string{"--sysctl", "vm.swappiness=10"}, "vm.swappiness"},
		{[]string{"--sysctl", "kernel.hostname=x"}, "kernel.hostname"},
		{[]string{"--sysctl", "kernel.shmmax"}, "KEY=VALUE"},
		{[]string{"--network", "host", "--sysctl", "net.ipv4.ip_unprivileged_port_start=" + wantPort}, "host"},
		{[]string{"--ipc", "host", "--sysctl", "kernel.shmmax=" + wantShm}, "host"},
	} {
		assertLeavesNothing(t, fmt.Sprint(bad.args), func() {
			args := append(append([]string{"run", "--rm"}, bad.args...), "busybox", "true")
			assertFailedOneLine(t, Run(t, args...), 125, bad.names)
		})
	}
	assert.Equal(t, shmmax, hostSysctl(t, "kernel.shmmax"), "a refused --sysctl changes nothing")
	assert.Equal(t, port, hostSysctl(t, "net.ipv4.ip_unprivileged_port_start"), "a refused --sysctl changes nothing")
}

// groupAdd: the groups are added to the user's, by name from the
// image's /etc/group or by number; an unknown name is refused.
func (s *commandsSuite) groupAdd(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "--rm", "--group-add", "nogroup", "--group-add", "4242", "busybox", "id", "-G")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "0 4242 65534\n", r.Stdout, "--group-add nogroup (65534 in the image's /etc/group) and 4242: the groups, sorted by the kernel")
	r = Run(t, "run", "--rm", "-u", "65534:65534", "--group-add", "4242", "busybox", "id", "-G")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "65534 4242\n", r.Stdout, "--group-add with -u")
	assertLeavesNothing(t, "an unknown group", func() {
		assertFailedOneLine(t, Run(t, "run", "--rm", "--group-add", "nosuchgroup", "busybox", "true"), 125, "nosuchgroup")
	})
}

// shmMountSize is /dev/shm's size= option in the container's /proc/mounts.
func shmMountSize(t *testing.T, flags ...string) string {
	t.Helper()
	r := Run(t, append(append([]string{"run", "--rm"}, flags...), "busybox", "grep", " /dev/shm ", "/proc/mounts")...)
	require.Equal(t, 0, r.Code, r)
	m := regexp.MustCompile(`[ ,]size=(\d+k)[, ]`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, m, "/dev/shm's line:\n%s", r)
	return m[1]
}

// shmSize: /dev/shm is a tmpfs of --shm-size, Docker's 64 MiB without.
func (s *commandsSuite) shmSize(t *testing.T) {
	ShareSandbox(t, s.top)
	assert.Equal(t, "65536k", shmMountSize(t), "/dev/shm is 64 MiB by default, as Docker's")
	assert.Equal(t, "131072k", shmMountSize(t, "--shm-size", "128m"), "--shm-size 128m")
	assert.Equal(t, "65536k", shmMountSize(t, "--shm-size", "0"), "--shm-size 0 is the default, as Docker's")
	for _, bad := range []string{"12x", "-1", "m"} {
		assertLeavesNothing(t, "--shm-size "+bad, func() {
			assertFailedOneLine(t, Run(t, "run", "--rm", "--shm-size", bad, "busybox", "true"), 125, "shm-size")
		})
	}
}

// processFlagsKept: the flags are in the container's record: start runs
// it with them again, and inspect shows them where Docker does.
func (s *commandsSuite) processFlagsKept(t *testing.T) {
	ShareSandbox(t, s.top)
	soft, hard := lowerNofile(t)
	nofile := fmt.Sprintf("nofile=%d:%d", soft, hard)
	script := "ulimit -n; cat /proc/sys/kernel/shmmax; id -G; grep -o ' /dev/shm .*size=[0-9]*k' /proc/mounts"
	name := "process-flags-kept"
	r := Run(t, "create", "--name", name, "--ulimit", nofile, "--sysctl", "kernel.shmmax=1048576", "--group-add", "4242",
		"--shm-size", "32m", "busybox", "sh", "-c", script)
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", name) })
	want := fmt.Sprintf("%d\n1048576\n0 4242\n /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=32768k\n", soft)
	for _, start := range []string{"the first start", "a start again"} {
		r = Run(t, "start", "-a", name)
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, want, r.Stdout, "%s: the flags hold", start)
	}
	r = Run(t, "inspect", "-f", "{{json .HostConfig.Ulimits}} {{json .HostConfig.Sysctls}} {{json .HostConfig.GroupAdd}} {{.HostConfig.ShmSize}}", name)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, fmt.Sprintf(`[{"Hard":%d,"Name":"nofile","Soft":%d}] {"kernel.shmmax":"1048576"} ["4242"] 33554432`+"\n", hard, soft), r.Stdout,
		"inspect's HostConfig, as Docker's")
}
