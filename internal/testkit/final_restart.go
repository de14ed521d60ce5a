package testkit

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startAgain checks start and restart, as Docker's: a container that
// has ended runs its command again, detached, on its root as it left it
// (its upper layer kept), with a new first process, its cgroup made
// again, and its output added to its log. start of a running container
// changes nothing; two starts at once start it once; a name that is no
// container's is refused in one line.
func (s *commandsSuite) startAgain(t *testing.T) {
	s.enter(t)
	// Each run counts itself in /count, which the next run shows.
	id := s.detach(t, "--name", "again", "busybox", "sh", "-c", "echo started; cat /count 2>/dev/null; echo x >> /count; exec sleep 1000")
	first := inspectOne(t, id).State.Pid
	stopped := func() {
		t.Helper()
		require.Equal(t, 0, Run(t, "stop", "-t", "0", "again").Code)
		assertEnded(t, id)
	}
	stopped()

	r := Run(t, "start", "again")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "again\n", r.Stdout, "start prints each container as it was named")
	c := inspectOne(t, id)
	second := c.State.Pid
	assert.True(t, c.State.Running, "the container runs again")
	assert.NotZero(t, second)
	assert.NotEqual(t, first, second, "a new first process")
	assert.True(t, processAlive(second), "its first process runs")
	assert.NotEmpty(t, containerCgroupDirs(t, id), "its cgroup is made again")
	assertLog(t, id, "started\nstarted\nx\n", "the second run saw the first run's /count: the root is as the container left it")

	r = Run(t, "start", "again")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, second, inspectOne(t, id).State.Pid, "start of a running container leaves it as it is")

	r = Run(t, "restart", "-t", "0", "again")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "again\n", r.Stdout)
	third := inspectOne(t, id).State.Pid
	assert.NotEqual(t, second, third, "restart stops the container, then starts it")
	assertLog(t, id, "started\nstarted\nx\nstarted\nx\nx\n", "three runs")

	stopped()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() { codes[i] = Run(t, "start", "again").Code })
	}
	wg.Wait()
	assert.Equal(t, []int{0, 0}, codes, "two starts at once both succeed")
	stopped()
	assert.Equal(t, 4, strings.Count(Run(t, "logs", "again").Stdout, "started\n"), "two starts at once ran the command once")

	assertFailedOneLine(t, Run(t, "start", "no-such-container"), 125, "no-such-container")
	require.Equal(t, 0, Run(t, "rm", "again").Code)
	assertEnded(t, id)
}

// startAttached checks start -a and -i, as Docker's: the container runs
// again in the foreground, its output on start's own, its exit status
// start's; with -i, stdin reaches a container made with -i. start -a of a
// running container, or of two, is refused in one line.
func (s *commandsSuite) startAttached(t *testing.T) {
	s.enter(t)
	r := Run(t, "run", "--name", "attached", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	require.Equal(t, 3, r.Code, "%s", r)
	removeWhenDone(t, "attached")
	r = Run(t, "start", "-a", "attached")
	assert.Equal(t, 3, r.Code, "start -a exits with the container's status: %s", r)
	assert.Equal(t, "out\n", r.Stdout)
	assert.Equal(t, "err\n", r.Stderr)
	assertLog(t, "attached", "out\nout\n", "both runs' output is in the log")

	cmd := Command(t, "run", "-i", "--name", "reader", "busybox", "sh", "-c", "read x; echo got $x")
	cmd.Stdin = strings.NewReader("one\n")
	r = RunCmd(t, cmd)
	require.Equal(t, 0, r.Code, "%s", r)
	removeWhenDone(t, "reader")
	cmd = Command(t, "start", "-a", "-i", "reader")
	cmd.Stdin = strings.NewReader("two\n")
	r = RunCmd(t, cmd)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "got two\n", r.Stdout, "start -i hands the container this stdin")

	id := s.detach(t, "--name", "busy", "busybox", "sleep", "1000")
	pid := inspectOne(t, id).State.Pid
	assertFailedOneLine(t, Run(t, "start", "-a", "busy"), 125, "busy")
	assertFailedOneLine(t, Run(t, "start", "-a", "attached", "reader"), 125, "one container")
	assert.Equal(t, pid, inspectOne(t, id).State.Pid, "a refused start -a leaves the running container as it is")
}

// created checks create, as docker create: the container's record alone,
// listed as Created, holding nothing of the host (no cgroup, mount or
// process) until start runs it, with run's settings. create -d is
// refused, as Docker's create has no -d.
func (s *commandsSuite) created(t *testing.T) {
	s.enter(t)
	r := Run(t, "create", "--name", "made", "-e", "GREETING=hi", "--hostname", "box", "busybox", "sh", "-c", "echo $GREETING from $(hostname); exit 4")
	require.Equal(t, 0, r.Code, "%s", r)
	id := strings.TrimSuffix(r.Stdout, "\n")
	require.Regexp(t, containerID, id, "create prints the container's ID")
	removeWhenDone(t, id)
	row := psRowByName(ps(t, "-a"), "made")
	if assert.NotNil(t, row, "ps -a lists it") {
		assert.Equal(t, "Created", row["STATUS"])
	}
	assert.Empty(t, containerTraces(t, id, false), "a created container holds nothing of the host")

	r = Run(t, "start", "-a", "made")
	assert.Equal(t, 4, r.Code, "%s", r)
	assert.Equal(t, "hi from box\n", r.Stdout, "create's settings hold at start")
	assertEnded(t, id)
	assertFailedOneLine(t, Run(t, "create", "-d", "busybox", "true"), 125, "-d")
}

// startAgainEdges: a container whose monitor was killed starts again
// (with its /proc view, whose socket the monitor left); restart of a --rm
// container keeps it, as Docker's does: it runs again on its root as it
// left it (its volatile upper layer mounted again), and its --rm holds
// for the run after, which ends it at once; a --rm container whose start
// fails is removed, as Docker removes it.
func (s *commandsSuite) startAgainEdges(t *testing.T) {
	s.enter(t)
	id := orphan{name: "orphan-again", detached: true}.kill(t)
	r := Run(t, "start", "orphan-again")
	require.Equal(t, 0, r.Code, "%s", r)
	c := inspectOne(t, id)
	assert.True(t, c.State.Running, "a container whose monitor was killed starts again")
	assert.True(t, processAlive(c.State.Pid))

	// Each run adds an x to /runs, and the third ends at once.
	rm := s.detach(t, "--rm", "--name", "kept-once", "busybox", "sh", "-c",
		"echo x >> /runs; [ $(wc -l < /runs) -ge 3 ] && exit 0; exec sleep 1000")
	pid := inspectOne(t, rm).State.Pid
	r = Run(t, "restart", "-t", "0", "kept-once")
	require.Equal(t, 0, r.Code, "restart of a --rm container:\n%s", r)
	assert.Equal(t, "kept-once\n", r.Stdout)
	c = inspectOne(t, rm)
	assert.True(t, c.State.Running, "it runs again")
	assert.NotEqual(t, pid, c.State.Pid, "a new first process")
	r = Run(t, "exec", rm, "cat", "/runs")
	assert.Equal(t, "x\nx\n", r.Stdout, "its root as it left it: %s", r)
	require.Equal(t, 0, Run(t, "restart", "-t", "0", "kept-once").Code)
	assert.True(t, eventually(10*time.Second, func() bool { return psRowByName(ps(t, "-a"), "kept-once") == nil }),
		"the third run ended at once, and its --rm removed it")
	assert.Empty(t, containerTraces(t, rm, true), "nothing of it is left")

	r = Run(t, "create", "--rm", "--name", "doomed", "busybox", "/no-such-command")
	require.Equal(t, 0, r.Code, "%s", r)
	made := strings.TrimSuffix(r.Stdout, "\n")
	removeWhenDone(t, made)
	assert.NotEqual(t, 0, Run(t, "start", "doomed").Code)
	assert.Nil(t, psRowByName(ps(t, "-a"), "doomed"), "a --rm container whose start failed is removed")
	assert.Empty(t, containerTraces(t, made, true), "nothing of it is left")
}

// assertLog waits until container id's log is want (its lines reach the
// log a little after start returns).
func assertLog(t *testing.T, id, want, msg string) {
	t.Helper()
	var got string
	eventually(10*time.Second, func() bool {
		got = Run(t, "logs", id).Stdout
		return got == want
	})
	assert.Equal(t, want, got, msg)
}
