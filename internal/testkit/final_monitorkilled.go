package testkit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// monitorKilled kills a container's monitor with SIGKILL, by its pid:
// `boxcraft run` itself, which the test started, in the foreground;
// boxcraft-monitor, which state.json names, for a detached container.
// The container dies with it (Pdeathsig), and nothing tears it down: its
// cgroup, overlay and lease are left. The next boxcraft command that
// looks at it finishes what the monitor left, as the monitor would have,
// as Docker's daemon does for a container whatever happens to its
// client: a --rm container is removed (ps -a does not list it, inspect
// and wait find no such container, its name is free), and one without
// --rm has exited 137 ("Exited (137) … ago" in ps -a). Either way no
// cgroup, mount, lease or veth is left, nor with --rm a folder. Several
// commands at once find it finished once, a wait that was waiting when
// the monitor was killed prints 137, and rm -f of a --rm container that
// is gone succeeds, as docker rm -f does. A --rm container whose status
// a restart of the machine took (it lives in /run) is removed too, as
// Docker's daemon removes such containers when it starts.
func (s *commandsSuite) monitorKilled(t *testing.T) {
	t.Run("ForegroundRmThenPs", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-fg-rm", rm: true}.kill(t)
		assert.Nil(t, psRowOf(ps(t, "-a"), id), "ps -a does not list a --rm container whose monitor was killed")
		assertRemovedOrphan(t, id, "orphan-fg-rm")
	})
	t.Run("ForegroundRmManyCommandsAtOnce", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-many", rm: true}.kill(t)
		var wg sync.WaitGroup
		results := make([]Result, 6)
		for i := range results {
			args := []string{"ps", "-a"}
			if i%3 == 2 {
				args = []string{"inspect", "orphan-many"}
			}
			wg.Add(1)
			go func() { defer wg.Done(); results[i] = Run(t, args...) }()
		}
		wg.Wait()
		for i, r := range results {
			if i%3 == 2 {
				assertFailedOneLine(t, r, 125, "no such container")
				continue
			}
			assert.Equal(t, 0, r.Code, "ps -a, with 5 other commands at once:\n%s", r)
			assert.NotContains(t, r.Stdout, ShortID(id), "ps -a, with 5 other commands at once")
			assert.Empty(t, r.Stderr, "ps -a, with 5 other commands at once")
		}
		assertRemovedOrphan(t, id, "orphan-many")
	})
	t.Run("DetachedRmThenRunByItsName", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-d-rm", detached: true, rm: true}.kill(t)
		r := Run(t, "run", "-d", "--rm", "--name", "orphan-d-rm", "busybox", "sleep", "1000")
		require.Equal(t, 0, r.Code, "the name of a --rm container whose monitor was killed is free:\n%s", r)
		again := strings.TrimSpace(r.Stdout)
		removeWhenDone(t, again)
		assert.NotEqual(t, id, again)
		assertRemovedOrphan(t, id, "")
		assert.Equal(t, 0, Run(t, "rm", "-f", again).Code)
	})
	t.Run("DetachedRmThenRmF", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-rmf", detached: true, rm: true}.kill(t)
		r := Run(t, "rm", "-f", "orphan-rmf")
		assert.Equal(t, 0, r.Code, "rm -f of a container that is gone succeeds, as docker rm -f:\n%s", r)
		assert.Empty(t, r.Stdout, "rm -f prints no name it did not remove")
		assert.Contains(t, r.Stderr, "no such container", "rm -f says the container is not there")
		assertRemovedOrphan(t, id, "orphan-rmf")
	})
	t.Run("DetachedRmAfterARestart", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-restart", detached: true, rm: true}.kill(t)
		// A restart empties /run, where the container's status was.
		require.NoError(t, os.RemoveAll(filepath.Join(StateDir(t), "run", "containers", id)))
		assert.Nil(t, psRowOf(ps(t, "-a"), id), "ps -a does not list a --rm container that ran when the machine restarted")
		assertRemovedOrphan(t, id, "orphan-restart")
	})
	t.Run("DetachedRmWaited", func(t *testing.T) {
		s.enter(t)
		var waiting *Running
		id := orphan{name: "orphan-waited", detached: true, rm: true, before: func() {
			waiting = Start(t, Command(t, "wait", "orphan-waited"))
			// wait has found it running once it holds its run folder
			// open (state.WatchEnd): a fixed sleep was too short for a
			// slow machine's (the v2 VM's) wait to start.
			runFolders := filepath.Join(StateDir(t), "run", "containers") + "/"
			require.True(t, eventually(30*time.Second, func() bool { return holdsUnder(waiting.Cmd.Process.Pid, runFolders) }),
				"wait opened no container's run folder")
		}}.kill(t)
		r := waiting.Wait(t)
		assert.Equal(t, 0, r.Code, "%s", r)
		assert.Equal(t, "137\n", r.Stdout, "wait prints the status of a container killed with its monitor (SIGKILL)")
		assertRemovedOrphan(t, id, "orphan-waited")
	})
	t.Run("ForegroundKept", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-fg"}.kill(t)
		assertExitedOrphan(t, id, ps(t, "-a"))
	})
	t.Run("DetachedKept", func(t *testing.T) {
		s.enter(t)
		id := orphan{name: "orphan-d", detached: true}.kill(t)
		c := inspectOne(t, "orphan-d")
		assert.Equal(t, "exited", c.State.Status)
		assert.Equal(t, 137, waitFor(t, "orphan-d"))
		assertExitedOrphan(t, id, ps(t, "-a"))
	})
	t.Run("DetachedPaused", func(t *testing.T) {
		// A paused container takes no SIGKILL on v1 until it is thawed:
		// its monitor's death leaves it frozen, and the next command's
		// teardown must thaw it to end it and remove its cgroup.
		s.enter(t)
		id := s.detach(t, "--name", "orphan-paused", "busybox", "sleep", "1000")
		pid := inspectOne(t, id).State.Pid
		require.Equal(t, 0, Run(t, "pause", id).Code)
		p, err := os.FindProcess(parentOf(t, pid)) // its monitor
		require.NoError(t, err)
		require.NoError(t, p.Kill())
		assertExitedOrphan(t, id, ps(t, "-a"))
		assert.False(t, processAlive(pid), "its process ended")
	})
}

// orphan is a container whose monitor a test kills (kill).
type orphan struct {
	name     string
	detached bool   // run -d: boxcraft-monitor is killed, not boxcraft run
	rm       bool   // --rm
	before   func() // when not nil, called the moment before the kill
}

// kill starts `boxcraft run [-d] [--rm] --name NAME busybox sleep 1000`,
// kills its monitor with SIGKILL once the container runs, waits until
// the container has died with it, checks that the monitor left it to the
// host, and returns its ID. No boxcraft command has looked at it since,
// but what before started.
func (o orphan) kill(t *testing.T) string {
	t.Helper()
	args := []string{"run"}
	if o.detached {
		args = append(args, "-d")
	}
	if o.rm {
		args = append(args, "--rm")
	}
	running := Start(t, Command(t, append(args, "--name", o.name, "busybox", "sleep", "1000")...))
	var c Inspected
	require.True(t, eventually(20*time.Second, func() bool {
		var ok bool
		c, ok = tryInspect(t, o.name)
		return ok && c.State.Running && processName(c.State.Pid) == "sleep"
	}), "%s runs:\n%+v", o.name, c.State)
	removeWhenDone(t, c.ID)
	st := readJSON(t, filepath.Join(StateDir(t), "run", "containers", c.ID, "state.json"))
	monitor, ok := st["monitorPid"].(float64)
	require.True(t, ok, "state.json names the monitor: %v", st)
	if o.detached {
		r := running.Wait(t)
		require.Equal(t, 0, r.Code, "%s", r)
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(int(monitor)) + "/cmdline")
		require.Contains(t, strings.Split(string(cmdline), "\x00"), c.ID, "pid %d is the container's monitor", int(monitor))
	} else {
		require.Equal(t, running.Cmd.Process.Pid, int(monitor), "in the foreground, boxcraft run is the monitor")
	}
	if o.before != nil {
		o.before()
	}
	p, err := os.FindProcess(int(monitor))
	require.NoError(t, err)
	require.NoError(t, p.Kill())
	if !o.detached {
		running.Wait(t)
	}
	require.True(t, eventually(10*time.Second, func() bool { return !processAlive(c.State.Pid) }),
		"the container dies with its monitor (Pdeathsig)")
	if o.before == nil { // otherwise a command may be looking already
		require.NotEmpty(t, containerTraces(t, c.ID, false), "the killed monitor left the container's cgroup and mount")
		require.True(t, leased(t, c.ID), "the killed monitor left the container's lease")
	}
	return c.ID
}

// assertRemovedOrphan checks that the --rm container id, whose monitor
// was killed, is gone: nothing of it is left on the host (no cgroup,
// mount, folder or process, no lease or veth), and its name (when given)
// and ID are no container's.
func assertRemovedOrphan(t *testing.T, id, name string) {
	t.Helper()
	assertNoTraces(t, id, "after a --rm container's monitor was killed and a command looked")
	assertNoPlaceOnTheBridge(t, id)
	for _, ref := range []string{name, id} {
		if ref != "" {
			assertFailedOneLine(t, Run(t, "inspect", ref), 125, "no such container")
			assertFailedOneLine(t, Run(t, "wait", ref), 125, "no such container")
		}
	}
	assert.Nil(t, psRowOf(ps(t, "-a"), id), "ps -a does not list it")
}

// assertExitedOrphan checks the container id without --rm whose monitor
// was killed, in ps -a's rows and inspect: exited 137 (SIGKILL), at the
// moment a command found it, with nothing left on the host but its
// folders, which rm then removes.
func assertExitedOrphan(t *testing.T, id string, rows []psRow) {
	t.Helper()
	if row := psRowOf(rows, id); assert.NotNil(t, row, "ps -a lists it") {
		assert.Regexp(t, `^Exited \(137\) .+ ago$`, row["STATUS"], "STATUS: ended by SIGKILL, when a command found it")
	}
	c := inspectOne(t, id)
	assert.False(t, c.State.Running)
	assert.Equal(t, "exited", c.State.Status)
	assert.Equal(t, 137, c.State.ExitCode)
	assert.Equal(t, 0, c.State.Pid, "an ended container's pid is 0")
	finished, err := time.Parse(time.RFC3339Nano, c.State.FinishedAt)
	if assert.NoError(t, err) {
		assert.WithinDuration(t, time.Now(), finished, time.Minute, "FinishedAt is when a command found it ended")
	}
	assertEnded(t, id)
	assertNoPlaceOnTheBridge(t, id)
	r := Run(t, "rm", id)
	assert.Equal(t, 0, r.Code, "%s", r)
	assertNoTraces(t, id, "after rm")
}

// leased tells whether container id holds an address on the bridge
// (leases.json in the state folder's run/network).
func leased(t testing.TB, id string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(StateDir(t), "run", "network", "leases.json"))
	if os.IsNotExist(err) {
		return false
	}
	require.NoError(t, err)
	var l struct{ Leases map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal(data, &l), "%s", data)
	_, ok := l.Leases[id]
	return ok
}

// assertNoPlaceOnTheBridge checks that container id holds no address
// and has no veth (bx and 12 digits of its ID) in the test's network
// namespace.
func assertNoPlaceOnTheBridge(t testing.TB, id string) {
	t.Helper()
	assert.False(t, leased(t, id), "container %s's address is free", ShortID(id))
	links := RunCmd(t, HostCommand(t, "cat", "/proc/net/dev"))
	assert.NotContains(t, links.Stdout, "bx"+id[:12], "container %s's veth is gone", ShortID(id))
}

// holdsUnder says whether process pid has a descriptor open on a path
// below dir.
func holdsUnder(pid int, dir string) bool {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(fds)
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(target, dir) {
			return true
		}
	}
	return false
}
