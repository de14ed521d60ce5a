package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// step is the step under test, as the shared suites (internal/testkit) need to know it.
var step = testkit.Step{}

// What every step keeps from this one: the command sees the rootfs, its
// exit status and stdio pass through, and bad input is refused in one
// line (internal/testkit/basics.go).
func TestBasics(t *testing.T) { testkit.Basics(t, step) }

func TestSignalsAreRelayedToTheCommand(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	cmd := testkit.Command(t, "run", rootfs, "/bin/sleep", "60")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool { return len(testkit.ProcessesRootedIn(rootfs)) > 0 },
		10*time.Second, 10*time.Millisecond, "sleep never started in the rootfs")

	require.NoError(t, cmd.Process.Signal(unix.SIGTERM))
	err := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 128+int(unix.SIGTERM), exit.ExitCode(), "step01 exits as sleep did: killed by SIGTERM")
}

// The lesson's point: chroot changes what a process sees of the
// filesystem and nothing else. With a proc filesystem mounted in the
// rootfs, the command lists the host's processes, and it is in every one of
// the host's namespaces.
func TestChrootIsNoIsolation(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	testkit.Mount(t, "proc", filepath.Join(rootfs, "proc"), "proc")

	f := testkit.Probe(t, testkit.Run(t, "run", rootfs, "/probe"))

	assert.Contains(t, f.Pids, os.Getpid(), "the test process, on the host, is visible inside")
	assert.Contains(t, f.Pids, 1, "the host's init is visible inside")
	assert.NotEqual(t, 1, f.Pid, "the command is not pid 1: it has no pid namespace of its own")
	assert.Equal(t, testkit.HostNamespaces(t), f.Namespaces, "every namespace is the host's")
	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, hostname, f.Hostname, "the hostname is the host's")
}

// The escape experiment: root inside a chroot can get out of it.
func TestEscapeFromTheChrootSucceeds(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	f := testkit.Probe(t, testkit.Run(t, "run", rootfs, "/probe", "escape"))
	testkit.AssertEscapedToHostRoot(t, f)
	leftovers, err := filepath.Glob(filepath.Join(rootfs, "tmp", ".probe-escape-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "the experiment tidied up")
}
