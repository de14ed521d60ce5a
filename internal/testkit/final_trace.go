package testkit

// Trace is the end-to-end suite of `boxcraft run --trace` (issue 25,
// final/trace): a traced start narrates each kernel step, from the
// process that does it, in the order it happens, and what it prints is
// what the kernel then shows (the probe inside, the host outside). The
// trace goes to boxcraft's stderr alone: never to the container's
// output, nor its log. A failing start's last trace line is its failing
// step, with the kernel's errno.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/trace"
	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// traceSuite is what the subtests share: the top test, whose sandbox
// holds the loaded image.
type traceSuite struct {
	top *testing.T
}

// Trace checks boxcraft's --trace, end to end.
func Trace(t *testing.T) {
	RequireRoot(t)
	s := &traceSuite{top: t}
	base := BaseLayer(t)
	busybox := newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, base)
	loaded(t, Run(t, "load", "-i", busybox.layout(t)), "Loaded image: busybox:latest")

	t.Run("TracedStart", s.tracedStart)
	t.Run("ProcIsAFile", s.procIsAFile)
	t.Run("CmdNotExecutable", s.cmdNotExecutable)
}

// traced is one traced start: its events, and the container.
type traced struct {
	id     string
	events []trace.Event
}

// tracedStart runs a default container (bridge network) detached with
// --trace=json, -m 64m and --cpus 1, the probe its command, and checks
// its trace against what the probe and the host see while it runs.
func (s *traceSuite) tracedStart(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "-d", "--trace=json", "-m", "64m", "--cpus", "1", "busybox", "sh", "-c", "/probe; exec sleep 1000")
	require.Equal(t, 0, r.Code, "run -d --trace=json:\n%s", r)
	id := strings.TrimSuffix(r.Stdout, "\n")
	require.Regexp(t, containerID, id, "run -d --trace prints the ID alone on stdout, the trace on stderr:\n%s", r)
	removeWhenDone(t, id)
	tr := traced{id: id, events: parseTrace(t, r.Stderr)}
	logs := waitForLogs(t, id)
	assert.NotContains(t, logs, `"at_ms"`, "the trace never reaches the container's output or its log")
	f := Probe(t, Result{Stdout: logs})

	t.Run("InOrder", func(t *testing.T) { tr.inOrder(t) })
	t.Run("Namespaces", func(t *testing.T) { tr.namespaces(t, f) })
	t.Run("CgroupFiles", func(t *testing.T) { tr.cgroupFiles(t) })
	t.Run("Mounts", func(t *testing.T) { tr.mounts(t, f) })
	t.Run("SecurityAndExec", func(t *testing.T) { tr.securityAndExec(t) })
	started := t
	t.Run("Exec", func(t *testing.T) { ShareSandbox(t, started); tr.exec(t) })
}

// exec checks boxcraft exec --trace into the running container: its
// namespaces joined, then exec-init's steps relayed, the exec last; the
// command's output alone on stdout.
func (tr traced) exec(t *testing.T) {
	r := Run(t, "exec", "--trace=json", tr.id, "echo", "from exec")
	require.Equal(t, 0, r.Code, "exec --trace:\n%s", r)
	assert.Equal(t, "from exec\n", r.Stdout, "the trace never reaches the command's output")
	ex := traced{id: tr.id, events: parseTrace(t, r.Stderr)}
	setns, exec := ex.first(call("setns", "mnt|uts|pid|ipc|net|cgroup")), ex.first(call("execve", "/bin/echo"))
	assert.GreaterOrEqual(t, setns, 0, "exec --trace reports the namespaces it joins:\n%s", r.Stderr)
	assert.Greater(t, exec, setns, "then the exec, last:\n%s", r.Stderr)
	assert.Equal(t, len(ex.events)-1, exec, "the exec is the last line:\n%s", r.Stderr)

	// A command that cannot run: the trace's last line is its exec,
	// failed, by init (exec-init's child), and the error line follows.
	r = Run(t, "exec", "--trace=json", tr.id, "/etc/passwd")
	assert.Equal(t, 126, r.Code, "a file without the execute bit:\n%s", r)
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "a trace, then the error line:\n%s", r)
	assert.Equal(t, `boxcraft: exec "/etc/passwd": permission denied`, lines[len(lines)-1], "the error line")
	failed := parseTrace(t, strings.Join(lines[:len(lines)-1], "\n"))
	last := failed[len(failed)-1]
	assert.Equal(t, trace.Init, last.Proc, "the failing step is init's:\n%s", r.Stderr)
	assert.True(t, call("execve", `"/etc/passwd"`)(last), "the failing step is the exec:\n%s", r.Stderr)
	assert.Contains(t, last.Error, "permission denied", "with its error:\n%s", r.Stderr)
}

// parseTrace reads --trace=json's output: every line is one JSON event.
func parseTrace(t *testing.T, stderr string) []trace.Event {
	t.Helper()
	var events []trace.Event
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		e, err := trace.Parse([]byte(line))
		require.NoError(t, err, "every line of --trace=json is one JSON event: %q", line)
		require.NotEmpty(t, e.Call, "an event names its call: %q", line)
		require.NotEmpty(t, e.Lesson, "an event names its lesson: %q", line)
		require.Contains(t, []string{trace.CLI, trace.Monitor, trace.Init}, e.Proc, "an event names its process: %q", line)
		events = append(events, e)
	}
	return events
}

// waitForLogs is the container's log once the probe has written its
// facts (a line ending in "}").
func waitForLogs(t *testing.T, id string) string {
	t.Helper()
	var logs string
	require.Eventually(t, func() bool {
		logs = Run(t, "logs", id).Stdout
		return strings.HasSuffix(strings.TrimSpace(logs), "}")
	}, Timeout, 50*time.Millisecond, "the probe's facts reach the log")
	return logs
}

// first is the index of the first event that matches, or -1.
func (tr traced) first(match func(trace.Event) bool) int { return slices.IndexFunc(tr.events, match) }

// call matches an event of call whose arguments contain args.
func call(name, args string) func(trace.Event) bool {
	return func(e trace.Event) bool { return e.Call == name && strings.Contains(e.Args, args) }
}

// inOrder checks that the steps come in the order a start takes them,
// each at or after the one before, and that none failed. The monitor
// sets the network up and (on v1) moves init into its cgroup while init
// sets its root up (issue 26), so the two run side by side: each chain is
// in order, and they meet where one waits for the other (init starts
// after clone; init enters its cgroup namespace once it is in its cgroup,
// which the monitor says after the network is up, and mounts the cgroups
// in it).
func (tr traced) inOrder(t *testing.T) {
	type step struct {
		what  string
		match func(trace.Event) bool
	}
	limit := step{"the cgroup's memory limit", func(e trace.Event) bool { return e.Call == "write" && strings.HasPrefix(e.Args, "memory.") }}
	overlay, clone := step{"the overlay mount", call("mount", "overlay on ")}, step{"clone", call("clone", "CLONE_NEWNS")}
	veth, cgroupNS := step{"the veth pair", call("netlink: veth pair", "")}, step{"the cgroup namespace", call("enter a new cgroup namespace", "")}
	proc := step{"/proc", call("mount", "proc on /proc ")}
	chains := [][]step{
		{limit, overlay, clone, veth, cgroupNS},
		{clone, proc, {"/dev", call("mount", "tmpfs on /dev ")}, {"/sys", call("mount", "sysfs on /sys ")},
			{"pivot_root", call("pivot_root", "")}, cgroupNS, {"the cgroup mount", call("mount the cgroups on /sys/fs/cgroup", "")},
			{"the bounding set", call("prctl(PR_CAPBSET_DROP)", "")},
			{"the capabilities", call("capset", "")}, {"seccomp", call("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)", "")},
			{"the exec", call("execve", "/bin/sh")}},
	}
	for _, chain := range chains {
		var last *trace.Event
		for _, step := range chain {
			i := tr.first(step.match)
			if !assert.GreaterOrEqual(t, i, 0, "the trace reports %s", step.what) {
				continue
			}
			e := tr.events[i]
			if last != nil {
				assert.GreaterOrEqual(t, e.AtMs, last.AtMs, "%s begins after %s", step.what, last.Call)
			}
			last = &e
		}
	}
	lastOf := map[string]float64{}
	for _, e := range tr.events {
		if !missingSwapFile(e) {
			assert.Empty(t, e.Errno+e.Error, "a start that succeeds traces no failure: %+v", e)
		}
		assert.GreaterOrEqual(t, e.AtMs, lastOf[e.Proc], "each process's lines come in the order its steps began: %+v", e)
		lastOf[e.Proc] = e.AtMs
	}
}

// namespaces checks that the namespaces the trace says were made are
// exactly those in which the probe's inodes differ from the host's.
func (tr traced) namespaces(t *testing.T, f facts.Facts) {
	clone := tr.first(call("clone", ""))
	require.GreaterOrEqual(t, clone, 0, "the trace reports clone")
	flags := map[string][]string{"CLONE_NEWNS": {"mnt"}, "CLONE_NEWUTS": {"uts"}, "CLONE_NEWPID": {"pid", "pid_for_children"},
		"CLONE_NEWIPC": {"ipc"}, "CLONE_NEWNET": {"net"}, "CLONE_NEWUSER": {"user"}}
	var made []string
	for flag, names := range flags {
		if strings.Contains(tr.events[clone].Args, flag) {
			made = append(made, names...)
		}
	}
	if tr.first(call("enter a new cgroup namespace", "")) >= 0 {
		made = append(made, "cgroup")
	}
	host, err := facts.ReadNamespaces()
	require.NoError(t, err)
	var differ []string
	for name, inode := range f.Namespaces {
		if hostInode, ok := host[name]; ok && hostInode != inode {
			differ = append(differ, name)
		}
	}
	slices.Sort(made)
	slices.Sort(differ)
	assert.Equal(t, differ, made, "the namespaces traced as new are exactly those whose inodes differ from the host's")
}

// cgroupWrite is "FILE = VALUE  (cgroup vN[, H hierarchy], DIR)  --FLAG".
var cgroupWrite = regexp.MustCompile(`^(\S+) = (.+)  \(cgroup v[12](?:, \S+ hierarchy)?, (/[^)]+)\)  (--\S+)$`)

// missingSwapFile tells a write of the swap limit that failed with
// ENOENT: a kernel that does not account swap has no such file, and a
// start without --memory-swap goes on without it.
func missingSwapFile(e trace.Event) bool {
	return e.Call == "write" && e.Errno == "ENOENT" && (strings.HasPrefix(e.Args, "memory.swap.max ") || strings.HasPrefix(e.Args, "memory.memsw."))
}

// cgroupFiles checks each limit file the trace says was written: the
// host reads back the value written, in the folder named, while the
// container runs; the memory limit is -m's 64 MiB.
func (tr traced) cgroupFiles(t *testing.T) {
	memory := 0
	for _, e := range tr.events {
		if e.Call != "write" || e.Proc != trace.CLI {
			continue
		}
		m := cgroupWrite.FindStringSubmatch(e.Args)
		require.NotNil(t, m, "a cgroup write names its file, value, version and folder: %q", e.Args)
		file, value, dir := m[1], m[2], m[3]
		assert.Contains(t, dir, tr.id, "the folder written is the container's cgroup")
		if missingSwapFile(e) {
			assert.NoFileExists(t, filepath.Join(dir, file), "a write traced as ENOENT: the kernel has no such file")
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, file))
		require.NoError(t, err, "the host reads back %s", file)
		assert.Equal(t, value, strings.TrimSpace(string(data)), "the host reads back the value traced in %s", file)
		if file == "memory.max" || file == "memory.limit_in_bytes" {
			assert.Equal(t, "67108864", value, "-m 64m is written as 64 MiB")
			memory++
		}
	}
	assert.Equal(t, 1, memory, "the memory limit's write is traced once")
	procs := tr.first(call("write", "cgroup.procs = "))
	assert.GreaterOrEqual(t, procs, 0, "the monitor's move of init into the cgroup is traced")
}

// mounts checks the root's mounts: the overlay the host sees on the
// target traced, and /proc, /dev and /sys as the probe sees them.
func (tr traced) mounts(t *testing.T, f facts.Facts) {
	overlay := tr.first(call("mount", "overlay on "))
	require.GreaterOrEqual(t, overlay, 0, "the overlay mount is traced")
	target := strings.Fields(strings.TrimPrefix(tr.events[overlay].Args, "overlay on "))[0]
	host, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.Contains(t, string(host), " "+target+" ", "the host sees a mount on the overlay's target")
	assert.Contains(t, string(host), " - overlay overlay ", "the host sees an overlay mount")
	for _, m := range []struct{ fstype, point string }{{"proc", "/proc"}, {"tmpfs", "/dev"}, {"sysfs", "/sys"}} {
		assert.GreaterOrEqual(t, tr.first(call("mount", " on "+m.point+" type "+m.fstype+" ")), 0, "the %s mount on %s is traced", m.fstype, m.point)
		seen := slices.ContainsFunc(f.Mounts, func(line string) bool {
			fields := strings.Fields(line)
			return len(fields) > 4 && fields[4] == m.point && strings.Contains(line, " - "+m.fstype+" ")
		})
		assert.True(t, seen, "the probe sees %s on %s", m.fstype, m.point)
	}
	assert.GreaterOrEqual(t, tr.first(call("pivot_root", "")), 0, "pivot_root is traced")
	assert.GreaterOrEqual(t, tr.first(call("netlink: the bridge", "")), 0, "the bridge's set-up is traced")
	assert.GreaterOrEqual(t, tr.first(call("nftables: NAT table", "")), 0, "the NAT table's set-up is traced")
}

// securityAndExec checks the last steps: the capabilities, seccomp with
// its filter's size, and the exec, by init, just before the command.
func (tr traced) securityAndExec(t *testing.T) {
	caps := tr.first(call("capset", "effective="))
	require.GreaterOrEqual(t, caps, 0, "the capability sets are traced")
	assert.NotContains(t, tr.events[caps].Args, "sys_admin", "CAP_SYS_ADMIN is not among the container's capabilities")
	filter := tr.first(call("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)", " instructions"))
	require.GreaterOrEqual(t, filter, 0, "the seccomp filter is traced with its size")
	assert.Regexp(t, `a BPF program of [1-9][0-9]* instructions`, tr.events[filter].Args)
	exec := tr.first(call("execve", "/bin/sh"))
	require.GreaterOrEqual(t, exec, 0, "the exec is traced")
	for _, i := range []int{caps, filter, exec} {
		assert.Equal(t, trace.Init, tr.events[i].Proc, "init does %s", tr.events[i].Call)
	}
}

// failedStart runs image traced (text) and untraced, and checks the
// failure: status, the untraced line's pointer to --trace, and the
// traced run's last line, the failing step with errno.
func failedStart(t *testing.T, image string, status int, errno, step string) {
	t.Helper()
	plain := Run(t, "run", "--rm", image)
	assert.Equal(t, status, plain.Code, "a start that fails:\n%s", plain)
	assert.Regexp(t, `^boxcraft: .*; run with --trace to see each step\n$`, plain.Stderr, "its one line says that --trace shows each step")
	r := Run(t, "run", "--rm", "--trace", image)
	assert.Equal(t, status, r.Code, "a traced start that fails:\n%s", r)
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "a trace, then the error line:\n%s", r)
	assert.NotContains(t, lines[len(lines)-1], "run with --trace", "a traced start does not point at --trace:\n%s", r)
	last := lines[len(lines)-2]
	assert.Contains(t, last, "init ", "the failing step is init's:\n%s", r)
	assert.Contains(t, last, step, "the trace's last line is the failing step:\n%s", r)
	assert.Contains(t, last, "  "+errno+": ", "the failing step's line names the errno and says what it means:\n%s", r)
}

// procIsAFile: an image whose /proc is a file fails where init opens
// /proc to mount on it (ENOTDIR).
func (s *traceSuite) procIsAFile(t *testing.T) {
	ShareSandbox(t, s.top)
	layer := Tar(t, TarEntry{Name: "etc/", Type: '5'}, TarEntry{Name: "proc", Body: "not a folder\n", Mode: 0o644})
	img := newNamedImage(t, "docker.io/boxcraft/procfile:v1", imageSettings{Cmd: []string{"/bin/true"}}, layer)
	loaded(t, Run(t, "load", "-i", img.layout(t)), "Loaded image: boxcraft/procfile:v1")
	failedStart(t, "boxcraft/procfile:v1", 125, "ENOTDIR", "set up the root and pivot into it")
}

// cmdNotExecutable: an image whose CMD lacks the execute bit fails at
// the exec (126, EACCES).
func (s *traceSuite) cmdNotExecutable(t *testing.T) {
	ShareSandbox(t, s.top)
	layer := Tar(t, TarEntry{Name: "etc/", Type: '5'}, TarEntry{Name: "bin/", Type: '5'},
		TarEntry{Name: "bin/tool", Body: "#!/bin/sh\necho never\n", Mode: 0o644})
	img := newNamedImage(t, "docker.io/boxcraft/noexec:v1", imageSettings{Cmd: []string{"/bin/tool"}}, BaseLayer(t), layer)
	loaded(t, Run(t, "load", "-i", img.layout(t)), "Loaded image: boxcraft/noexec:v1")
	failedStart(t, "boxcraft/noexec:v1", 126, "EACCES", "execve")
}
