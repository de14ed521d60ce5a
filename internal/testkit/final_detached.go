package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// detached checks run -d: it returns once CMD has started (the
// container's pid 1 is CMD already, in its cgroup below the test's
// parent); ps, ps -q and ps -a list it as Docker does; inspect's fields;
// and a detached probe's report, read back through logs.
func (s *commandsSuite) detached(t *testing.T) {
	s.enter(t)
	before := time.Now()
	id := s.detach(t, "--name", "det", "busybox", "sleep", "1000")
	c := inspectOne(t, "det")
	require.True(t, c.State.Running, "inspect: State.Running")
	require.Positive(t, c.State.Pid, "inspect: State.Pid")
	assert.Equal(t, "sleep", processName(c.State.Pid), "run -d returns once CMD has started: State.Pid is already CMD (exec'd)")
	assert.True(t, processCgroupHas(t, c.State.Pid, id), "CMD runs in the container's cgroup, named by its ID below the test's parent")
	assert.NotEmpty(t, containerCgroupDirs(t, id), "the container's cgroup is there while it runs")

	assert.Equal(t, id, c.ID)
	assert.Equal(t, "/det", c.Name)
	assert.Equal(t, "running", c.State.Status)
	assert.Equal(t, ShortID(id), c.Config.Hostname)
	assert.Equal(t, []string{"sleep", "1000"}, c.Config.Cmd)
	assert.Equal(t, "busybox", c.Config.Image)
	assert.Equal(t, s.busybox.ID, c.Image)
	assert.Contains(t, c.Config.Env, dockerPath)
	started, err := time.Parse(time.RFC3339Nano, c.State.StartedAt)
	if assert.NoError(t, err, "StartedAt is RFC 3339") {
		assert.WithinRange(t, started, before.Add(-time.Second), time.Now().Add(time.Second), "StartedAt is when it started")
	}
	assert.True(t, strings.HasPrefix(c.LogPath, StateDir(t)+"/"), "the log is below the state folder: %s", c.LogPath)
	assert.FileExists(t, c.LogPath)
	r := Run(t, "inspect", "-f", "{{.State.Pid}} {{.Name}} {{json .Config.Cmd}}", "det")
	assert.Equal(t, fmt.Sprintf("%d /det [\"sleep\",\"1000\"]\n", c.State.Pid), r.Stdout, "inspect -f: a Go template over inspect's fields, as docker inspect -f\n%s", r)
	// Docker's idioms: a number is a number, a list of strings joins,
	// an image's lists are empty rather than null, a field no one has is
	// an error.
	r = Run(t, "inspect", "-f", `{{if .State.ExitCode}}failed{{else}}ok{{end}} {{if eq .State.ExitCode 0}}zero{{end}} `+
		`{{printf "%d" .State.Pid}} {{join .Config.Cmd "+"}} {{len .Config.Labels}} {{json "a && <b>"}}`, "det")
	assert.Equal(t, fmt.Sprintf("ok zero %d sleep+1000 0 \"a && <b>\"\n", c.State.Pid), r.Stdout, "%s", r)
	r = Run(t, "inspect", "-f", "{{len .Config.Env}} {{index .Config.Labels \"x\"}}", "busybox")
	assert.Equal(t, 0, r.Code, "an image's empty lists: %s", r)
	assertFailedOneLine(t, Run(t, "inspect", "-f", "{{.State.Pidd}}", "det"), 125, "Pidd")
	r = Run(t, "inspect", "--format", "{{.Id}} {{.RepoTags}} {{len .RootFS.Layers}}", "busybox")
	assert.Equal(t, s.busybox.ID+" [busybox:latest] 1\n", r.Stdout, "an image's ID, names and layers, as docker inspect names them\n%s", r)
	r = Run(t, "inspect", "-f", "{{.Name}}", "det", "nosuch")
	assert.Equal(t, "/det\n", r.Stdout, "inspect shows what it finds, then fails for what it does not, as docker inspect")
	assert.Equal(t, 125, r.Code, "%s", r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line for what it did not find: %s", r)
	assert.Contains(t, r.Stderr, "nosuch")

	rows := ps(t)
	row := psRowOf(rows, id)
	if assert.NotNil(t, row, "ps lists the running container by 12 digits of its ID:\n%v", rows) {
		assert.Equal(t, "busybox", row["IMAGE"])
		assert.Contains(t, row["COMMAND"], "sleep 1000")
		assert.True(t, strings.HasPrefix(row["STATUS"], "Up "), "STATUS: %q", row["STATUS"])
		assert.Equal(t, "det", row["NAMES"])
	}
	for _, row := range rows {
		assert.Regexp(t, psStatus, row["STATUS"])
	}
	r = Run(t, "ps", "-q")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, strings.Fields(r.Stdout), ShortID(id), "ps -q prints 12 digits of each ID")

	probe := s.detach(t, "--name", "probe-d", "busybox", "/probe")
	assert.Equal(t, 0, waitFor(t, "probe-d"))
	assert.Nil(t, psRowOf(ps(t), probe), "ps lists running containers only")
	if row := psRowOf(ps(t, "-a"), probe); assert.NotNil(t, row, "ps -a lists the ended one") {
		assert.True(t, strings.HasPrefix(row["STATUS"], "Exited (0) "), "STATUS: %q", row["STATUS"])
	}
	r = Run(t, "logs", ShortID(probe)) // by ID prefix
	require.Equal(t, 0, r.Code, r)
	var f facts.Facts
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &f), "logs gives back the probe's stdout as it was:\n%s", r)
	assert.Equal(t, 1, f.Pid)
	assert.Equal(t, ShortID(probe), f.Hostname)
	assert.NotEqual(t, HostNamespaces(t)["pid"], f.Namespaces["pid"])

	c = inspectOne(t, probe[:20])
	assert.False(t, c.State.Running)
	assert.Equal(t, "exited", c.State.Status)
	assert.Equal(t, 0, c.State.ExitCode)
	finished, err := time.Parse(time.RFC3339Nano, c.State.FinishedAt)
	if assert.NoError(t, err, "FinishedAt is RFC 3339") {
		startedProbe, _ := time.Parse(time.RFC3339Nano, c.State.StartedAt)
		assert.False(t, finished.Before(startedProbe), "FinishedAt %s is not before StartedAt %s", finished, startedProbe)
	}
	assertEnded(t, probe)
}

// logs checks logs: stdout and stderr apart, --tail, -t, and -f, which
// follows until the container ends.
func (s *commandsSuite) logs(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sh", "-c", "echo out1; echo err1 >&2; sleep 0.2; echo out2; echo out3")
	require.Equal(t, 0, waitFor(t, id))
	r := Run(t, "logs", id)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "out1\nout2\nout3\n", r.Stdout, "logs prints CMD's stdout on stdout")
	assert.Equal(t, "err1\n", r.Stderr, "and its stderr on stderr")

	r = Run(t, "logs", "--tail", "2", id)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "out2\nout3\n", r.Stdout, "--tail 2: the last two lines")
	assert.Empty(t, r.Stderr, "--tail 2: err1 came before them")

	r = Run(t, "logs", "-t", id)
	require.Equal(t, 0, r.Code, r)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	require.Len(t, lines, 3, r)
	var last time.Time
	for i, line := range lines {
		require.Regexp(t, timestamp, line, "-t: each line begins with its time, RFC 3339")
		stamp, text, _ := strings.Cut(line, " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		require.NoError(t, err)
		assert.False(t, at.Before(last), "the times go forward")
		assert.Equal(t, "out"+strconv.Itoa(i+1), text)
		last = at
	}

	follow := s.detach(t, "busybox", "sh", "-c", "echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second")
	pid := inspectOne(t, follow).State.Pid
	var out lockedBuffer
	cmd := Command(t, "logs", "-f", follow)
	cmd.Stdout = &out
	running := startWithOutput(t, cmd)
	require.True(t, eventually(30*time.Second, func() bool { return out.String() == "first\n" }), "logs -f prints what there is: %q", out.String())
	select {
	case <-running.done:
		t.Fatalf("logs -f ended while the container runs:\n%s", running.Wait(t))
	default:
	}
	require.NoError(t, os.WriteFile(filepath.Join("/proc", strconv.Itoa(pid), "root/tmp/go"), nil, 0o644))
	r = waitBounded(t, running, 30*time.Second)
	assert.Equal(t, 0, r.Code, "logs -f ends when the container ends\n%s", r)
	assert.Equal(t, "first\nsecond\n", out.String(), "logs -f follows the log")
}

// lockedBuffer is a buffer that a command writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startWithOutput starts cmd, whose stdout the caller has set, as Start
// does otherwise.
func startWithOutput(t *testing.T, cmd *exec.Cmd) *Running {
	t.Helper()
	r := &Running{Cmd: cmd, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = &r.stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &r.stderr
	}
	require.NoError(t, cmd.Start())
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.done
	})
	return r
}

// readyFile waits until the container's CMD has made /tmp/ready (seen
// through /proc/PID/root) and returns its pid.
func readyFile(t *testing.T, ref string) int {
	t.Helper()
	pid := inspectOne(t, ref).State.Pid
	require.True(t, eventually(30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid), "root/tmp/ready"))
		return err == nil
	}), "the container %s got ready", ref)
	return pid
}

// stop checks stop: SIGTERM first (a shell that traps it exits with its
// own status, at once), then SIGKILL after -t seconds (a pid 1 without a
// handler ignores SIGTERM: stop takes the -t seconds, and it exits 137).
func (s *commandsSuite) stop(t *testing.T) {
	s.enter(t)
	t.Run("SIGKILL after -t", func(t *testing.T) {
		ShareSandbox(t, s.top)
		id := s.detach(t, "--name", "stubborn", "busybox", "sleep", "1000")
		start := time.Now()
		r := Run(t, "stop", "-t", "2", "stubborn")
		took := time.Since(start)
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, "stubborn\n", r.Stdout, "stop prints each container as it was named")
		assert.GreaterOrEqual(t, took, 2*time.Second, "a pid 1 that ignores SIGTERM is killed after -t seconds, not before")
		assert.Less(t, took, 20*time.Second, "and then at once")
		assert.Equal(t, 137, waitFor(t, id), "it was killed: 128+9")
		c := inspectOne(t, id)
		assert.False(t, c.State.Running)
		assert.Equal(t, 137, c.State.ExitCode)
		assert.Zero(t, c.State.Pid, "an ended container has no pid, as Docker's: the old one may be another process's by now")
		assertEnded(t, id)
	})
	t.Run("SIGTERM first", func(t *testing.T) {
		ShareSandbox(t, s.top)
		id := s.detach(t, "busybox", "sh", "-c", `trap "exit 3" TERM; touch /tmp/ready; while :; do sleep 0.1; done`)
		readyFile(t, id)
		start := time.Now()
		r := Run(t, "stop", "-t", "30", id[:12])
		require.Equal(t, 0, r.Code, r)
		assert.Less(t, time.Since(start), 20*time.Second, "a CMD that ends on SIGTERM is not waited for -t seconds")
		assert.Equal(t, 3, waitFor(t, id), "CMD's trap ran: it got SIGTERM")
		assertEnded(t, id)
	})
	t.Run("-t -1 waits without end", func(t *testing.T) {
		ShareSandbox(t, s.top)
		// The trap takes longer than stop's default 10 s.
		id := s.detach(t, "busybox", "sh", "-c", `trap "sleep 11; exit 4" TERM; touch /tmp/ready; while :; do sleep 0.1; done`)
		readyFile(t, id)
		assertFailedOneLine(t, Run(t, "stop", "-t", "-2", id), 125, "-2")
		r := Run(t, "stop", "-t", "-1", id)
		require.Equal(t, 0, r.Code, r)
		assert.Equal(t, 4, waitFor(t, id), "docker stop -t -1: SIGTERM alone, and its trap's time to end")
	})
}

// killAndWait checks kill -s (a named signal, caught by a trap), kill's
// default SIGKILL, kill of a container that is not running, a bad
// signal, wait for several containers, and wait for a --rm container.
func (s *commandsSuite) killAndWait(t *testing.T) {
	s.enter(t)
	trapper := s.detach(t, "busybox", "sh", "-c", `trap "echo got-usr1; exit 5" USR1; touch /tmp/ready; while :; do sleep 0.1; done`)
	readyFile(t, trapper)
	assertFailedOneLine(t, Run(t, "kill", "-s", "BOGUS", trapper), 125, "BOGUS")
	assert.True(t, inspectOne(t, trapper).State.Running, "a bad signal leaves the container running")
	r := Run(t, "kill", "-s", "USR1", trapper)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, trapper+"\n", r.Stdout, "kill prints each container as it was named")

	sleeper := s.detach(t, "busybox", "sleep", "1000")
	r = Run(t, "kill", sleeper)
	require.Equal(t, 0, r.Code, r)

	r = Run(t, "wait", trapper, sleeper)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "5\n137\n", r.Stdout, "wait prints each exit status, in order: the trap's, then SIGKILL's")
	r = Run(t, "logs", trapper)
	assert.Equal(t, "got-usr1\n", r.Stdout, "the trap got SIGUSR1")
	c := inspectOne(t, sleeper)
	assert.Equal(t, 137, c.State.ExitCode)
	assert.False(t, c.State.OOMKilled)
	assertFailedOneLine(t, Run(t, "kill", sleeper), 125, "running", ShortID(sleeper), sleeper)
	assertEnded(t, trapper)
	assertEnded(t, sleeper)

	// A --rm container's status outlives it until wait has read it: wait
	// prints its own status, as docker wait does, then it is gone.
	removed := s.detach(t, "--rm", "busybox", "sh", "-c", "sleep 2; exit 3")
	assert.Equal(t, 3, waitFor(t, removed), "wait prints a --rm container's exit status")
	assertNoTraces(t, removed, "after a --rm container ended and wait read its status")
}

// rmAndPrune checks rm (refused while the container runs, which stays),
// rm -f (kills it, and leaves nothing), and prune (removes every stopped
// container, prints their IDs, and leaves the running).
func (s *commandsSuite) rmAndPrune(t *testing.T) {
	s.enter(t)
	live := s.detach(t, "busybox", "sleep", "1000")
	pid := inspectOne(t, live).State.Pid
	assertFailedOneLine(t, Run(t, "rm", live), 125, "running", "stop", "-f")
	assert.True(t, processAlive(pid), "a refused rm leaves the container running")
	assert.True(t, inspectOne(t, live).State.Running)
	r := Run(t, "rm", "-f", live[:12])
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, live[:12]+"\n", r.Stdout, "rm prints each container as it was named")
	assert.True(t, eventually(10*time.Second, func() bool { return !processAlive(pid) }), "rm -f killed CMD")
	assertNoTraces(t, live, "after rm -f")

	ended := s.detach(t, "busybox", "true")
	failed := s.detach(t, "--name", "failed", "busybox", "sh", "-c", "exit 2")
	running := s.detach(t, "busybox", "sleep", "1000")
	assert.Equal(t, 0, waitFor(t, ended))
	assert.Equal(t, 2, waitFor(t, failed))
	r = Run(t, "prune", "-f")
	require.Equal(t, 0, r.Code, r)
	printed := strings.Fields(r.Stdout)
	assert.Contains(t, printed, ended, "prune prints the IDs it removed:\n%s", r.Stdout)
	assert.Contains(t, printed, failed, "prune prints the IDs it removed:\n%s", r.Stdout)
	assert.NotContains(t, printed, running)
	all := ps(t, "-a")
	assert.Nil(t, psRowOf(all, ended))
	assert.Nil(t, psRowOf(all, failed))
	assert.NotNil(t, psRowOf(all, running), "prune leaves a running container")
	assertNoTraces(t, ended, "after prune")
	assertNoTraces(t, failed, "after prune")
	assert.NotEmpty(t, containerCgroupDirs(t, running), "the running container keeps its cgroup")
}

// killedFromTheHost kills a detached container's CMD with SIGKILL from
// the host: wait, ps -a and inspect report it exited 137, not by the OOM
// killer, and its monitor tears it down.
func (s *commandsSuite) killedFromTheHost(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sleep", "1000")
	pid := inspectOne(t, id).State.Pid
	require.Equal(t, "sleep", processName(pid))
	require.NoError(t, unix.Kill(pid, unix.SIGKILL))
	assert.Equal(t, 137, waitFor(t, id))
	if row := psRowOf(ps(t, "-a"), id); assert.NotNil(t, row) {
		assert.True(t, strings.HasPrefix(row["STATUS"], "Exited (137) "), "STATUS: %q", row["STATUS"])
	}
	c := inspectOne(t, id)
	assert.False(t, c.State.Running)
	assert.Equal(t, 137, c.State.ExitCode)
	assert.False(t, c.State.OOMKilled, "SIGKILL from the host is no OOM kill")
	assertEnded(t, id)
}
