package testkit

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pauseAndTop checks pause, unpause and top, as Docker's. A paused
// container's processes stop where they stand: a counter it writes into
// a bind mount stands still, seen from the host; ps and inspect say
// paused; exec is refused. top lists its processes by the host's pids,
// the ones in its cgroup and no others (paused, the set holds still).
// unpause lets the counter go on; kill reaches a paused container, which
// a frozen process would take only once thawed. Each refusal (paused
// twice, unpaused when running, a stopped container, started or removed
// while paused) is one line and 125.
func (s *commandsSuite) pauseAndTop(t *testing.T) {
	s.enter(t)
	out := t.TempDir()
	id := s.detach(t, "--name", "frozen", "-v", out+":/out", "busybox", "sh", "-c",
		"i=0; while :; do i=$((i+1)); echo $i > /out/n; usleep 10000; done")
	count := func() string { data, _ := os.ReadFile(filepath.Join(out, "n")); return string(data) }
	moves := func() bool { // within 10 s, on a busy machine
		first := count()
		return eventually(10*time.Second, func() bool { return count() != first })
	}
	require.True(t, moves(), "the container counts")

	r := Run(t, "pause", "frozen")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "frozen\n", r.Stdout, "pause prints each container as it was named")
	held := count()
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, held, count(), "a paused container's processes stop: its counter stands still")
	c := inspectOne(t, id)
	assert.Equal(t, "paused", c.State.Status, "inspect: State.Status")
	assert.True(t, c.State.Paused && c.State.Running, "inspect: State.Paused and State.Running, as Docker's")
	r = Run(t, "ps", "--filter", "status=paused", "--format", "{{.Names}} {{.State}} {{.Status}}")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Regexp(t, `^frozen paused Up .* \(Paused\)\n$`, r.Stdout, "ps: the paused container, paused")
	assertFailedOneLine(t, Run(t, "exec", "frozen", "true"), 125, "paused") // its process would wait, frozen
	assertFailedOneLine(t, Run(t, "pause", "frozen"), 125, "already paused")
	assertFailedOneLine(t, Run(t, "start", "frozen"), 125, "unpause") // as Docker
	assertFailedOneLine(t, Run(t, "rm", "frozen"), 125, "paused")

	procs, err := os.ReadFile(filepath.Join(containerCgroupDirs(t, id)[0], "cgroup.procs"))
	require.NoError(t, err)
	want := strings.Fields(string(procs))
	r = Run(t, "top", "frozen")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.ElementsMatch(t, want, topPids(t, r.Stdout), "top: a line for each process in the container's cgroup, by its host pid, and no other:\n%s", r.Stdout)
	assert.Contains(t, topPids(t, r.Stdout), strconv.Itoa(c.State.Pid), "top lists the container's first process")
	r = Run(t, "top", "frozen", "-o", "pid,comm")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.ElementsMatch(t, want, topPids(t, r.Stdout), "top passes ps's options on:\n%s", r.Stdout)
	assertFailedOneLine(t, Run(t, "top", "frozen", "-o", "comm"), 125, "PID")
	assertFailedOneLine(t, Run(t, "top", "frozen", "-o", "args,pid"), 125, "pid") // args hold spaces: no line is left out unseen

	r = Run(t, "unpause", "frozen")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "frozen\n", r.Stdout)
	assert.True(t, moves(), "unpaused, the counter goes on")
	assert.Equal(t, "running", inspectOne(t, id).State.Status)
	assertFailedOneLine(t, Run(t, "unpause", "frozen"), 125, "not paused")

	require.Equal(t, 0, Run(t, "pause", "frozen").Code)
	r = Run(t, "kill", "frozen")
	require.Equal(t, 0, r.Code, "%s", r)
	require.True(t, eventually(10*time.Second, func() bool { return !processAlive(c.State.Pid) }),
		"kill ends a paused container: boxcraft thaws it after the signal") // else wait would wait for ever (on v1)
	r = Run(t, "wait", "frozen")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "137\n", r.Stdout, "SIGKILL")
	assertFailedOneLine(t, Run(t, "pause", "frozen"), 125, "not running")
	assertFailedOneLine(t, Run(t, "top", "frozen"), 125, "not running")
}

// topPids are the PID column of top's output, below its header.
func topPids(t *testing.T, out string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	column := slices.Index(strings.Fields(lines[0]), "PID")
	require.GreaterOrEqual(t, column, 0, "top's header has a PID column: %q", lines[0])
	var pids []string
	for _, line := range lines[1:] {
		if fields := strings.Fields(line); len(fields) > column {
			pids = append(pids, fields[column])
		}
	}
	return pids
}
