package testkit

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kernelFields: domainname, sysctl and timeOffsets are the container's:
// a process exec'd into it reads them (so exec joins its time namespace
// too), and the host's stay as they were. The same container has a
// fifo from linux.devices, a shared root (rootfsPropagation), a 1 GiB
// RLIMIT_AS and a umask on init, and a user namespace.
func (s *ociSuite) kernelFields(t *testing.T) {
	const year = 365 * 24 * 3600
	bundle, _ := s.bundle(t, "k1", func(c map[string]any) {
		c["domainname"] = "example.org"
		linux := c["linux"].(map[string]any)
		linux["sysctl"] = map[string]string{"kernel.shmmax": "12345678", "net.ipv4.ip_unprivileged_port_start": "99"}
		// A user namespace too: init, its root another user of the
		// host's, still opens the start fifo.
		// And a cgroup namespace: with a user namespace, cgroup v2's
		// filesystem mounts only in a cgroup namespace that user
		// namespace owns (else EPERM), which the bundle's cgroup mount
		// needs (runc would bind the host's folder instead).
		linux["namespaces"] = append(linux["namespaces"].([]any), map[string]any{"type": "time"}, map[string]any{"type": "user"}, map[string]any{"type": "cgroup"})
		idMap := []any{map[string]any{"containerID": 0, "hostID": 100000, "size": 65536}}
		linux["uidMappings"], linux["gidMappings"] = idMap, idMap
		linux["timeOffsets"] = map[string]any{"boottime": map[string]any{"secs": year}, "monotonic": map[string]any{"secs": year}}
		linux["rootfsPropagation"] = "shared"
		linux["devices"] = []any{map[string]any{"path": "/dev/fifo0", "type": "p"}}
		// 1 GiB of address space: init is a Go program until it
		// executes the command, and must set it last.
		c["process"].(map[string]any)["rlimits"] = []any{map[string]any{"type": "RLIMIT_AS", "hard": 2 << 30, "soft": 1 << 30}}
		c["process"].(map[string]any)["user"].(map[string]any)["umask"] = 0o027
	}, "sleep", "1000")
	hostBefore := readKernelFields(t, "/")
	r := s.runc(t, "run", "--detach", "--bundle", bundle, "k1")
	require.Equal(t, 0, r.Code, "run: %s", r)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "k1") })

	r = s.runc(t, "exec", "k1", "sh", "-c", "cat /proc/sys/kernel/domainname /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/uptime; "+
		`grep "Max address space" /proc/1/limits; test -p /dev/fifo0 && echo fifo; awk '$5 == "/" { print $7 }' /proc/1/mountinfo; grep Umask /proc/1/status`)
	require.Equal(t, 0, r.Code, "exec: %s", r)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 8, r.Stdout)
	assert.Equal(t, []string{"Max", "address", "space", "1073741824", "2147483648", "bytes"}, strings.Fields(lines[4]), "init's rlimit")
	assert.Equal(t, "fifo", lines[5], "linux.devices' fifo")
	assert.Regexp(t, "^shared:", lines[6], "rootfsPropagation: the root is shared")
	assert.Equal(t, "Umask:\t0027", lines[7], "process.user.umask")
	assert.Equal(t, []string{"example.org", "12345678", "99"}, lines[:3], "the container's domainname and sysctls")
	uptime, err := strconv.ParseFloat(strings.Fields(lines[3])[0], 64)
	require.NoError(t, err)
	assert.Greater(t, uptime, float64(year), "its boottime clock is a year ahead: its own time namespace")
	assert.Equal(t, hostBefore, readKernelFields(t, "/"), "the host's are untouched")
}

// readKernelFields reads the host's values of what kernelFields sets,
// and its uptime's whole days.
func readKernelFields(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"proc/sys/kernel/domainname", "proc/sys/kernel/shmmax", "proc/sys/net/ipv4/ip_unprivileged_port_start"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		out = append(out, strings.TrimSpace(string(data)))
	}
	data, err := os.ReadFile("/proc/uptime")
	require.NoError(t, err)
	secs, _ := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	return append(out, strconv.Itoa(int(secs/86400)))
}

// joinByPath: a container whose namespaces name another's by path
// (/proc/PID/ns/…) is in them: the same network, uts and pid
// namespaces, so it sees the first one's hostname and its processes. Its
// bind mount takes an access-time option.
func (s *ociSuite) joinByPath(t *testing.T) {
	first, _ := s.bundle(t, "j1", func(c map[string]any) { c["hostname"] = "first" }, "sleep", "1000")
	require.Equal(t, 0, s.runc(t, "run", "--detach", "--bundle", first, "j1").Code)
	t.Cleanup(func() { s.runc(t, "delete", "--force", "j1") })
	pid := s.state(t, "j1").Pid
	second, _ := s.bundle(t, "j2", func(c map[string]any) {
		delete(c, "hostname")
		// A bind with an access time, as bundles give them.
		c["mounts"] = append(c["mounts"].([]any), map[string]any{"destination": "/mnt", "type": "bind", "source": "rootfs/bin", "options": []string{"rbind", "ro", "noatime"}})
		for _, ns := range c["linux"].(map[string]any)["namespaces"].([]any) {
			ns := ns.(map[string]any)
			if kind := map[string]string{"network": "net", "uts": "uts", "pid": "pid", "ipc": "ipc"}[ns["type"].(string)]; kind != "" {
				ns["path"] = "/proc/" + strconv.Itoa(pid) + "/ns/" + kind
			}
		}
	}, "sh", "-c", `hostname; readlink /proc/self/ns/net; awk '$5 == "/mnt" { print $6 }' /proc/self/mountinfo; cat /proc/1/cmdline`)
	r := s.runc(t, "run", "--bundle", second, "j2")
	require.Equal(t, 0, r.Code, "run: %s", r)
	net, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	require.NoError(t, err)
	lines := strings.SplitN(r.Stdout, "\n", 4)
	require.Len(t, lines, 4, r.Stdout)
	assert.Equal(t, []string{"first", net, "sleep\x001000\x00"}, []string{lines[0], lines[1], lines[3]}, "the first container's hostname, network namespace and pid 1")
	// The bind keeps what its source's mount locks (nosuid and nodev,
	// where the test's folder is on such a mount, as in the v2 VM).
	options := strings.Split(lines[2], ",")
	assert.Subset(t, options, []string{"ro", "noatime"}, "the bind's options: %s", lines[2])
	assert.NotContains(t, options, "relatime", "noatime replaced the access-time default: %s", lines[2])
}

// updateAndEvents: a throttle of blockIO is the cgroup's; update
// changes a running container's limits (the
// cgroup's files say so; with --resources - as containerd sends them
// too); events prints its stats every interval, and an "oom" event when
// a process goes over the memory limit update set, until it stops.
func (s *ociSuite) updateAndEvents(t *testing.T) {
	disk := deviceNumbers(t, LoopDevice(t, 1<<20)) // MAJ:MIN
	major, minor, _ := strings.Cut(disk, ":")
	bundle, cgroups := s.bundle(t, "u1", func(c map[string]any) {
		maj, _ := strconv.Atoi(major)
		mnr, _ := strconv.Atoi(minor)
		c["linux"].(map[string]any)["resources"].(map[string]any)["blockIO"] = map[string]any{
			"throttleReadBpsDevice": []any{map[string]any{"major": maj, "minor": mnr, "rate": 1 << 20}}}
	}, "sleep", "1000")
	r := s.runc(t, "run", "--detach", "--bundle", bundle, "u1")
	require.Equal(t, 0, r.Code, "run: %s", r)
	if dir, ok := cgroups[""]; ok {
		assert.Contains(t, string(readFile(t, filepath.Join(dir, "io.max"))), disk+" rbps=1048576", "blockIO's throttle")
	} else {
		assert.Contains(t, string(readFile(t, filepath.Join(cgroups["blkio"], "blkio.throttle.read_bps_device"))), disk+" 1048576", "blockIO's throttle")
	}
	t.Cleanup(func() { s.runc(t, "delete", "--force", "u1") })

	r = s.runc(t, "update", "--memory", "32m", "--pids-limit", "50", "--cpu-quota", "50000", "--cpu-period", "100000", "u1")
	require.Equal(t, 0, r.Code, "update: %s", r)
	assert.Equal(t, []string{"33554432", "50", "50000"}, ociLimits(t, cgroups))
	cmd := HostCommand(t, RuncBinary(t), "--root", s.root, "update", "--resources", "-", "u1")
	cmd.Stdin = strings.NewReader(`{"memory": {"limit": 16777216}, "pids": {"limit": 40}}`)
	r = RunCmd(t, cmd)
	require.Equal(t, 0, r.Code, "update --resources -: %s", r)
	assert.Equal(t, []string{"16777216", "40", "50000"}, ociLimits(t, cgroups), "only the limits given change")

	events := Start(t, HostCommand(t, RuncBinary(t), "--root", s.root, "events", "--interval", "200ms", "u1"))
	time.Sleep(time.Second)
	s.runc(t, "exec", "u1", "tail", "/dev/zero") // killed by the OOM killer
	require.True(t, eventually(10*time.Second, func() bool { return strings.Contains(events.stdout.String(), `"type":"oom"`) }),
		"events reported the OOM kill: %s", events.stdout.String())
	require.Equal(t, 0, s.runc(t, "kill", "u1", "KILL").Code)
	r = events.Wait(t)
	assert.Equal(t, 0, r.Code, "events ends when the container stops: %s", r)
	stats := 0
	for sc := bufio.NewScanner(strings.NewReader(r.Stdout)); sc.Scan(); {
		var e struct{ Type, ID string }
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), sc.Text())
		assert.Equal(t, "u1", e.ID)
		if e.Type == "stats" {
			stats++
		}
	}
	assert.GreaterOrEqual(t, stats, 3, "a stats event every 200ms: %s", r.Stdout)
}

// ociLimits reads the memory, pids and CPU quota limits from the
// container's cgroup, v1 or v2.
func ociLimits(t *testing.T, cgroups map[string]string) []string {
	t.Helper()
	read := func(dir, file string) string {
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(data))
	}
	if dir, ok := cgroups[""]; ok {
		return []string{read(dir, "memory.max"), read(dir, "pids.max"), strings.Fields(read(dir, "cpu.max"))[0]}
	}
	return []string{read(cgroups["memory"], "memory.limit_in_bytes"), read(cgroups["pids"], "pids.max"), read(cgroups["cpu"], "cpu.cfs_quota_us")}
}
