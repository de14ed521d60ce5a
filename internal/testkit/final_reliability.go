package testkit

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twentyAtOnce starts 20 detached containers at once, then stops them
// all at once and removes them all at once: each run prints an ID of its
// own, every one is listed and inspected (the state is whole), each is
// stopped and removed, and nothing is left.
func (s *commandsSuite) twentyAtOnce(t *testing.T) {
	s.enter(t)
	const n = 20
	names := make([]string, n)
	var runs []*Running
	for i := range n {
		names[i] = fmt.Sprintf("many-%d", i)
		runs = append(runs, Start(t, Command(t, "run", "-d", "--name", names[i], "busybox", "sleep", "1000")))
	}
	ids := make([]string, n)
	seen := map[string]bool{}
	for i, running := range runs {
		r := running.Wait(t)
		id := strings.TrimSuffix(r.Stdout, "\n")
		if !assert.Equal(t, 0, r.Code, "run -d %d of %d at once:\n%s", i, n, r) || !assert.Regexp(t, containerID, id, r) {
			continue
		}
		removeWhenDone(t, id)
		assert.False(t, seen[id], "every ID is new: %s twice", id)
		seen[id], ids[i] = true, id
	}
	require.Len(t, seen, n, "20 containers started")

	r := Run(t, "ps", "-q")
	require.Equal(t, 0, r.Code, r)
	for _, id := range ids {
		assert.Contains(t, strings.Fields(r.Stdout), ShortID(id), "ps -q lists every one")
	}
	all := inspectContainers(t, names...)
	pids := map[int]bool{}
	for i, c := range all {
		assert.Equal(t, ids[i], c.ID, "the name %s is the container its run printed", names[i])
		assert.True(t, c.State.Running, "%s runs", names[i])
		assert.Equal(t, "sleep", processName(c.State.Pid), "%s's pid is its CMD", names[i])
		assert.False(t, pids[c.State.Pid], "each has its own process")
		pids[c.State.Pid] = true
	}

	stops := make([]*Running, n)
	for i, name := range names {
		stops[i] = Start(t, Command(t, "stop", "-t", "1", name))
	}
	for i, stop := range stops {
		r := stop.Wait(t)
		assert.Equal(t, 0, r.Code, "stop %s, with 19 others at once:\n%s", names[i], r)
		assert.Equal(t, names[i]+"\n", r.Stdout)
	}
	rows := ps(t, "-a")
	for _, id := range ids {
		if row := psRowOf(rows, id); assert.NotNil(t, row, "ps -a lists %s", id) {
			assert.True(t, strings.HasPrefix(row["STATUS"], "Exited (137) "), "stopped after -t 1: %q", row["STATUS"])
		}
	}
	removals := make([]*Running, n)
	for i, id := range ids {
		removals[i] = Start(t, Command(t, "rm", id))
	}
	for i, rm := range removals {
		r := rm.Wait(t)
		assert.Equal(t, 0, r.Code, "rm %s, with 19 others at once:\n%s", names[i], r)
	}
	rows = ps(t, "-a")
	for _, id := range ids {
		assert.Nil(t, psRowOf(rows, id), "rm removed %s", id)
		assertNoTraces(t, id, "after stop and rm")
	}
}

// runKilled kills `boxcraft run` itself with SIGKILL at several points
// of a start, detached and in the foreground: the delays spread over how
// long a start takes here, with a random part. After each, ps -a and
// inspect work and agree with the kernel (a container said to run has
// its CMD alive in its cgroup, one said not to has no process there; a
// foreground container dies with its run); at the end rm -f of every
// container and prune leave nothing: no mount, cgroup, process or
// container folder. It has a sandbox of its own, to see all that is left.
func (s *commandsSuite) runKilled(t *testing.T) {
	loaded(t, Run(t, "load", "-i", s.busybox.layout(t)), "Loaded image: busybox:latest")
	start := time.Now()
	probe := s.detach(t, "busybox", "sleep", "1000")
	took := time.Since(start)
	require.Equal(t, 0, Run(t, "rm", "-f", probe).Code)
	t.Logf("a run -d takes %s here", took)

	for _, mode := range []string{"detached", "foreground"} {
		for i, fraction := range []float64{0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1, 1.5} {
			delay := time.Duration((fraction + rand.Float64()*0.1) * float64(took))
			name := fmt.Sprintf("killed-%s-%d", mode, i)
			args := []string{"run", "--name", name, "busybox", "sleep", "1000"}
			if mode == "detached" {
				args = append([]string{"run", "-d"}, args[1:]...)
			}
			running := Start(t, Command(t, args...))
			time.Sleep(delay)
			_ = running.Cmd.Process.Kill()
			r := running.Wait(t)
			t.Logf("%s: killed after %s: %s", name, delay, strings.TrimSpace(r.Stdout+r.Stderr))
			assertSaneAfterKill(t, name, mode == "foreground")
		}
	}

	rows := ps(t, "-a")
	for _, row := range rows {
		r := Run(t, "rm", "-f", row["CONTAINER ID"])
		assert.Equal(t, 0, r.Code, "rm -f of what a killed run left:\n%s", r)
	}
	r := Run(t, "prune", "-f")
	assert.Equal(t, 0, r.Code, r)
	assert.Empty(t, ps(t, "-a"), "rm -f and prune removed every container")
	assertNoTraces(t, "", "after rm -f and prune of what killed runs left")
}

// cutShortBetweenFolders: a start killed after it made the container's
// folder in LIB and before its folder in RUN (RunKilled meets it now and
// then) leaves that folder alone; rm -f of its ID, and prune, remove it.
func (s *commandsSuite) cutShortBetweenFolders(t *testing.T) {
	require.Equal(t, 0, Run(t, "ps", "-a").Code) // the state folder made
	for _, remove := range [][]string{{"rm", "-f"}, {"prune", "-f"}} {
		id := strings.Repeat("c", 64)
		require.NoError(t, os.MkdirAll(filepath.Join(StateDir(t), "lib", "containers", id), 0o711))
		args := remove
		if remove[0] == "rm" {
			args = append(slices.Clone(remove), id)
		}
		r := Run(t, args...)
		assert.Equal(t, 0, r.Code, "%s", r)
		assert.NoDirExists(t, filepath.Join(StateDir(t), "lib", "containers", id), "%v removes it", remove)
	}
}

// assertSaneAfterKill checks what ps -a and inspect say of the container
// name after its run was killed, against the kernel, once the state has
// settled (a monitor may still be starting or tearing down).
func assertSaneAfterKill(t *testing.T, name string, foreground bool) {
	t.Helper()
	rows := ps(t, "-a")
	for _, row := range rows {
		assert.Regexp(t, psStatus, row["STATUS"], "ps -a's STATUS, after %s was killed", name)
	}
	if psRowByName(rows, name) == nil {
		return // killed before it was recorded
	}
	var c Inspected
	var why string
	settled := eventually(15*time.Second, func() bool {
		var ok bool
		if c, ok = tryInspect(t, name); !ok {
			why = "inspect fails"
			return false
		}
		procs := cgroupProcs(t, c.ID)
		switch {
		case c.State.Running && foreground:
			why = "a foreground container is said to run after its run was killed"
		case c.State.Running && !(processAlive(c.State.Pid) && processCgroupHas(t, c.State.Pid, c.ID)):
			why = fmt.Sprintf("said to run, but its pid %d is not alive in its cgroup", c.State.Pid)
		case !c.State.Running && len(procs) > 0:
			why = fmt.Sprintf("said not to run, but processes %v are in its cgroup", procs)
		default:
			return true
		}
		return false
	})
	assert.True(t, settled, "after its run was killed, %s: %s (%+v)", name, why, c.State)
	if !settled {
		return
	}
	// A detached container's monitor outlives the killed run and may start
	// it between one look and the next: ps -a and inspect must agree once
	// both are read at the same state.
	var status string
	agree := eventually(5*time.Second, func() bool {
		before, ok := tryInspect(t, name)
		row := psRowByName(ps(t, "-a"), name)
		after, ok2 := tryInspect(t, name)
		if row == nil {
			return true // gone from ps -a: nothing to compare
		}
		if !ok || !ok2 || before.State.Running != after.State.Running {
			return false
		}
		status, c = row["STATUS"], after
		return c.State.Running == strings.HasPrefix(status, "Up ")
	})
	assert.True(t, agree, "ps -a and inspect agree: %q, Running %v", status, c.State.Running)
}

// cgroupProcs lists the processes in the container id's cgroups.
func cgroupProcs(t testing.TB, id string) []string {
	t.Helper()
	var procs []string
	for _, dir := range containerCgroupDirs(t, id) {
		data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		procs = append(procs, strings.Fields(string(data))...)
	}
	return procs
}

// runIntoAClosedPipe runs containers whose output outlasts its reader,
// as `boxcraft run --rm busybox sh -c 'seq 1 1000000; exit $?' | head -2`
// does, and again with --trace on the same pipe (2>&1): run is not killed
// by the SIGPIPE of its own write. The container's next write fails
// instead, as a command's in a shell pipeline does: seq ends of SIGPIPE
// (a shell's 141: 128 + 13), run ends with that status and removes the
// container (--rm), leaving nothing. A pid 1 is spared the signal, and
// busybox sh's echo writes on past EPIPE: that container is ended as
// boxcraft stop ends one (SIGTERM, which a pid 1 without a handler
// ignores, then SIGKILL: 137). run -d into a closed pipe ends with 141
// too, and its container runs on, as asked.
func (s *commandsSuite) runIntoAClosedPipe(t *testing.T) {
	s.enter(t)
	for _, tc := range []struct {
		script string
		traced bool
		want   int
	}{
		{"seq 1 1000000; exit $?", false, 141},
		{"seq 1 1000000; exit $?", true, 141},
		{"while :; do echo y; done", false, 137},
	} {
		args := []string{"run", "--rm", "busybox", "sh", "-c", tc.script}
		if tc.traced {
			args = append([]string{"run", "--trace"}, args[1:]...)
		}
		assertLeavesNothing(t, strings.Join(args, " ")+" | head -2", func() {
			code := runIntoHead(t, args, tc.traced, 2)
			assert.Equal(t, tc.want, code, "run %q ends with its container's status", args)
		})
	}
	// Detached, the container was asked to run on, and it does; run -d,
	// whose ID nobody could read, ends as a command in a pipeline does.
	removeWhenDone(t, "closed-pipe")
	code := runIntoHead(t, []string{"run", "-d", "--name", "closed-pipe", "busybox", "sleep", "1000"}, false, 0)
	assert.Equal(t, 141, code, "run -d | (a reader gone): the ID's write failed, as SIGPIPE ends a command")
	assert.Regexp(t, `(?m)Up .*closed-pipe$`, Run(t, "ps").Stdout, "the container runs on")
}

// runIntoHead runs boxcraft with args, its stdout (and its stderr too,
// with both: 2>&1) into a pipe whose reader takes n lines and goes, as
// head -n does, and returns boxcraft's exit status once it has ended by
// itself.
func runIntoHead(t *testing.T, args []string, both bool, n int) int {
	t.Helper()
	cmd := Command(t, args...)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdout = w
	if both {
		cmd.Stderr = w
	}
	require.NoError(t, cmd.Start())
	w.Close()
	lines := bufio.NewScanner(r)
	for range n {
		require.True(t, lines.Scan(), "the first lines")
	}
	r.Close()
	err = cmd.Wait()
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "boxcraft ends by itself")
	return exit.ExitCode()
}
