package testkit

import (
	"debug/buildinfo"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Exec is the end-to-end suite of boxcraft exec: a command started in a
// running container is in every namespace the container has of its own
// (the user namespace too, with --uidmap) and in its cgroup, as the
// probe sees from inside and the host from outside; its exit status is
// boxcraft's; -e, -w, -u, -t and -d do what Docker's do; a container
// that is not running is refused.
func Exec(t *testing.T) {
	RequireRoot(t)
	s := &commandsSuite{top: t, base: BaseLayer(t)}
	s.busybox = newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, s.base)
	loaded(t, Run(t, "load", "-i", s.busybox.layout(t)), "Loaded image: busybox:latest")

	t.Run("SeesWhatRunSees", func(t *testing.T) { s.execSeesWhatRunSees(t) })
	t.Run("SeesWhatRunSeesWithUserNamespace", func(t *testing.T) {
		s.execSeesWhatRunSees(t, "--uidmap", "0:300000:65536", "--gidmap", "0:300000:65536",
			"--cap-add", "SYS_PTRACE", "--security-opt", "no-new-privileges")
	})
	t.Run("ExitStatuses", s.execExitStatuses)
	t.Run("NotRunningRefused", s.execNotRunning)
	t.Run("WithoutExecInitRefused", s.execWithoutExecInit)
	t.Run("EnvWorkdirUser", s.execEnvWorkdirUser)
	t.Run("Terminal", s.execTerminal)
	t.Run("Detached", s.execDetached)
}

// probeBoth runs the probe as a detached container's command, which
// keeps its report and then waits, and returns that report and the one
// of the probe exec runs in the same container.
func (s *commandsSuite) probeBoth(t *testing.T, runFlags ...string) (string, facts.Facts, facts.Facts) {
	t.Helper()
	args := append(append([]string{}, runFlags...), "busybox", "sh", "-c", "/probe >/run.json; exec sleep 1000")
	id := s.detach(t, args...)
	var fromRun facts.Facts
	require.True(t, eventually(30*time.Second, func() bool {
		r := Run(t, "exec", id, "cat", "/run.json")
		return r.Code == 0 && json.Unmarshal([]byte(r.Stdout), &fromRun) == nil
	}), "the container's probe wrote its report")
	return id, fromRun, Probe(t, Run(t, "exec", id, "/probe"))
}

// execSeesWhatRunSees compares the probe that exec starts with the
// probe that run started in the same container: the same namespaces, all
// of them, hostname, root, cgroup and mounts, user, capability sets,
// no_new_privs, seccomp mode and rlimits; and from the host, the
// container's cgroup holds the exec's process.
func (s *commandsSuite) execSeesWhatRunSees(t *testing.T, runFlags ...string) {
	s.enter(t)
	id, run, exec := s.probeBoth(t, runFlags...)
	host := HostNamespaces(t)
	for _, kind := range []string{"user", "mnt", "pid", "uts", "ipc", "net", "cgroup"} {
		assert.Equal(t, run.Namespaces[kind], exec.Namespaces[kind], "exec is in the container's %s namespace", kind)
	}
	if len(runFlags) > 0 {
		assert.NotEqual(t, host["user"], exec.Namespaces["user"], "--uidmap: the container's own user namespace, joined")
		assert.True(t, exec.Caps.NoNewPrivs, "--security-opt no-new-privileges holds for exec too")
		assert.Equal(t, 0, exec.UID, "exec is the user namespace's root, as the container's command is")
	} else {
		assert.Equal(t, 2, exec.Caps.Seccomp, "Docker's default filter holds for exec too")
	}
	assert.Equal(t, run.UID, exec.UID, "the container's user")
	assert.Equal(t, run.GID, exec.GID)
	assert.Equal(t, run.Caps, exec.Caps, "the container's capability sets, no_new_privs and seccomp mode")
	assert.Equal(t, run.Rlimits, exec.Rlimits, "the container's rlimits")
	assert.NotEqual(t, host["mnt"], exec.Namespaces["mnt"])
	assert.Equal(t, run.Hostname, exec.Hostname, "the container's hostname")
	assert.Equal(t, run.Root, exec.Root, "the container's root as /")
	assert.Equal(t, run.Cgroup, exec.Cgroup, "the container's cgroup, seen through its cgroup namespace")
	assert.Equal(t, run.Mounts, exec.Mounts, "the container's mounts")
	assert.Equal(t, run.Cwd, exec.Cwd, "the container's working folder")
	assert.Contains(t, exec.Pids, 1, "the container's pid 1 is in exec's pid namespace")
	assert.NotEqual(t, 1, exec.Pid)
	assert.Equal(t, []int{0, 1, 2}, exec.FDs, "no descriptor beyond stdio")

	r := Run(t, "exec", "-d", id, "tail", "-f", "/dev/null")
	require.Equal(t, 0, r.Code, r)
	pid := execPid(t, id, "tail")
	assert.True(t, processCgroupHas(t, pid, id), "from the host, exec's process is in the container's cgroup")
	for kind, ns := range run.Namespaces {
		assert.Equal(t, ns, namespaceOf(t, pid, kind), "from the host, exec's process is in the container's %s namespace", kind)
	}
}

// execPid waits for a process named comm among container id's (in its
// cgroup, seen from the host) and returns its pid.
func execPid(t *testing.T, id, comm string) int {
	t.Helper()
	var found int
	require.True(t, eventually(30*time.Second, func() bool {
		for _, pid := range containerProcesses(t, id) {
			if processName(pid) == comm {
				found = pid
				return true
			}
		}
		return false
	}), "a process %s runs in container %s's cgroup", comm, id)
	return found
}

// namespaceOf is the inode of process pid's namespace of kind.
func namespaceOf(t *testing.T, pid int, kind string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+kind, &st))
	return st.Ino
}

// execExitStatuses: CMD's own status passes through; 127 when CMD is not
// found, 126 when it cannot run, each one line; 125 for an unknown
// container.
func (s *commandsSuite) execExitStatuses(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sleep", "1000")
	r := Run(t, "exec", id, "sh", "-c", "echo out; echo err >&2; exit 42")
	assert.Equal(t, 42, r.Code, r)
	assert.Equal(t, "out\n", r.Stdout)
	assert.Equal(t, "err\n", r.Stderr)
	assert.Equal(t, 137, Run(t, "exec", id, "sh", "-c", "kill -9 $$").Code, "killed by SIGKILL: 128+9")
	assertFailedOneLine(t, Run(t, "exec", id, "no-such-command"), 127, "no-such-command")
	assertFailedOneLine(t, Run(t, "exec", id, "/etc"), 126, "/etc")
	assertFailedOneLine(t, Run(t, "exec", "no-such-container", "true"), 125, "no-such-container")
	assertFailedOneLine(t, Run(t, "exec", id), 125, "command")
	assert.Equal(t, "running", inspectOne(t, id).State.Status, "exec's failures leave the container running")
}

// execNotRunning: a container that has exited is refused in one line.
func (s *commandsSuite) execNotRunning(t *testing.T) {
	s.enter(t)
	r := Run(t, "run", "--name", "exited", "busybox", "true")
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", "exited") })
	assertFailedOneLine(t, Run(t, "exec", "exited", "true"), 125, "not running")
}

// execWithoutExecInit: boxcraft exec's process in the container is
// boxcraft-exec-init, from beside boxcraft (it alone is built with cgo,
// to join namespaces in C; boxcraft is not). A boxcraft copied without
// it refuses exec in one line naming it, exit status 125, and leaves the
// container as it was: no process added to its cgroup, still running.
func (s *commandsSuite) execWithoutExecInit(t *testing.T) {
	s.enter(t)
	info, err := buildinfo.ReadFile(Binary(t))
	require.NoError(t, err)
	assertWithoutCgo(t, info)
	id := s.detach(t, "busybox", "sleep", "1000")
	before := processesInCgroup(t, id)
	alone := filepath.Join(t.TempDir(), "boxcraft")
	_, err = copyExecutable(Binary(t), alone)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(filepath.Dir(alone), 0o755))
	assertFailedOneLine(t, RunCmd(t, HostCommand(t, alone, "exec", id, "true")), 125, "boxcraft-exec-init")
	assert.Equal(t, before, processesInCgroup(t, id), "no process left in the container's cgroup")
	assert.True(t, inspectOne(t, id).State.Running, "the container still runs")
	r := Run(t, "exec", id, "true")
	assert.Equal(t, 0, r.Code, "control: the boxcraft under test, with its helpers, execs: %s", r)
}

// execEnvWorkdirUser: exec's environment is the container's with -e
// over it; -w and the container's working folder; -u UID:GID.
func (s *commandsSuite) execEnvWorkdirUser(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "-e", "FROM_RUN=run", "-e", "OVER=run", "-w", "/srv", "busybox", "sleep", "1000")
	r := Run(t, "exec", "-e", "OVER=exec", "-e", "NEW=1", id, "sh", "-c", "env; echo cwd=$(pwd)")
	require.Equal(t, 0, r.Code, r)
	env := envOf(r.Stdout)
	assert.Equal(t, "run", env["FROM_RUN"], "the container's environment:\n%s", r.Stdout)
	assert.Equal(t, "exec", env["OVER"], "-e replaces the container's value:\n%s", r.Stdout)
	assert.Equal(t, 1, strings.Count(r.Stdout, "OVER="), "once:\n%s", r.Stdout)
	assert.Equal(t, "1", env["NEW"], "-e adds:\n%s", r.Stdout)
	assert.Equal(t, "/srv", env["cwd"], "the container's working folder by default")

	r = Run(t, "exec", "-w", "/tmp", "-u", "1000:1001", id, "sh", "-c", "pwd; id -u; id -g")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/tmp\n1000\n1001\n", r.Stdout, "-w and -u")
}

// execTerminal: exec -it on a terminal the test owns gets a terminal of
// its own, of the container's devpts, of the caller's size; the
// caller's is raw meanwhile (a Ctrl-C byte reaches the command's
// terminal, whose SIGINT the command gets), and as it was afterwards.
func (s *commandsSuite) execTerminal(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sleep", "1000")
	master, term := openPty(t)
	require.NoError(t, unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 29, Col: 97}))
	before, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)

	script := `[ -t 0 ] && echo stdin-is-a-terminal; echo "size=$(stty size)"; echo "term=$TERM"; echo "tty=$(tty)"; ` +
		`trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 1; done`
	cmd := Command(t, "exec", "-it", id, "sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	running := startWithOutput(t, cmd)
	var out lockedBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	require.True(t, eventually(30*time.Second, func() bool { return strings.Contains(out.String(), "ready") }),
		"the command's shell started on the terminal:\n%q", out.String())
	assert.Contains(t, out.String(), "stdin-is-a-terminal")
	assert.Contains(t, out.String(), "size=29 97", "the caller's window size")
	assert.Contains(t, out.String(), "term=xterm", "-t sets TERM=xterm, as Docker")
	assert.Contains(t, out.String(), "tty=/dev/pts/0", "a terminal of the container's own devpts, its first (not the host's, which tty cannot name)")
	raw, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Zero(t, raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG), "the caller's terminal is raw while the command runs")

	_, err = master.Write([]byte{3}) // Ctrl-C
	require.NoError(t, err)
	r := waitBounded(t, running, 30*time.Second)
	assert.Equal(t, 9, r.Code, "the Ctrl-C byte became the command's SIGINT\n%s\n%q", r, out.String())
	after, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Equal(t, before.Lflag, after.Lflag, "the caller's terminal is as it was afterwards")
	assert.Equal(t, before.Oflag, after.Oflag, "the caller's terminal is as it was afterwards")
}

// execDetached: exec -d returns while its command runs on, in the
// container's cgroup, and the command does its work.
func (s *commandsSuite) execDetached(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sleep", "1000")
	start := time.Now()
	r := Run(t, "exec", "-d", id, "sh", "-c", "echo $$ >/started; sleep 3; echo done >/finished; exec tail -f /dev/null")
	took := time.Since(start)
	require.Equal(t, 0, r.Code, r)
	assert.Empty(t, r.Stdout+r.Stderr, "exec -d prints nothing")
	assert.Less(t, took, 3*time.Second, "exec -d returns while its command runs")
	assert.True(t, eventually(30*time.Second, func() bool {
		return Run(t, "exec", id, "cat", "/finished").Stdout == "done\n"
	}), "the detached command ran")
	pid := execPid(t, id, "tail")
	assert.True(t, processCgroupHas(t, pid, id), "in the container's cgroup")
	inside := Run(t, "exec", id, "cat", "/started")
	_, err := strconv.Atoi(strings.TrimSpace(inside.Stdout))
	assert.NoError(t, err, "its pid inside:\n%s", inside)

	// -d -i -t: accepted, as Docker does; the command runs, detached.
	r = Run(t, "exec", "-d", "-i", "-t", id, "touch", "/detached-tty")
	require.Equal(t, 0, r.Code, "exec -d -i -t: %s", r)
	assert.True(t, eventually(30*time.Second, func() bool { return Run(t, "exec", id, "test", "-e", "/detached-tty").Code == 0 }),
		"exec -d -i -t ran its command")
}
