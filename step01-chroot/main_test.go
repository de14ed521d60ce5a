package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// newRootfs is the start of every test here: root, a fresh rootfs, and a
// check at the end that nothing was left on the host.
func newRootfs(t *testing.T) string {
	t.Helper()
	testkit.RequireRoot(t)
	rootfs := testkit.Rootfs(t)
	testkit.CheckNothingLeft(t, rootfs)
	return rootfs
}

func TestCommandSeesTheRootfsNotTheHost(t *testing.T) {
	rootfs := newRootfs(t)
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "marker"), []byte("inside the rootfs\n"), 0o644))
	hostMarker := filepath.Join(t.TempDir(), "host-marker")
	require.NoError(t, os.WriteFile(hostMarker, []byte("on the host\n"), 0o644))

	r := testkit.Run(t, "run", rootfs, "/bin/sh", "-c",
		`cat /marker; if [ -e "$1" ]; then echo host file visible; else echo host file hidden; fi`, "sh", hostMarker)

	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "inside the rootfs\nhost file hidden\n", r.Stdout)
}

func TestCommandStartsInTheRootWithTheContainerPath(t *testing.T) {
	rootfs := newRootfs(t)
	r := testkit.Run(t, "run", rootfs, "sh", "-c", `pwd; echo "$PATH"`)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/\n"+containerPath+"\n", r.Stdout)
}

// Symlinks in an image point into the image: /usr/local/bin/hello ->
// /opt/only-in-image/hello names a file in the rootfs that the host does
// not have.
func TestCommandLookupFollowsSymlinksInsideTheRootfs(t *testing.T) {
	rootfs := newRootfs(t)
	require.NoDirExists(t, "/opt/only-in-image")
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, "opt/only-in-image"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, "usr/local/bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "opt/only-in-image/hello"), []byte("#!/bin/sh\necho hello from the image\n"), 0o755))
	require.NoError(t, os.Symlink("/opt/only-in-image/hello", filepath.Join(rootfs, "usr/local/bin/hello")))

	r := testkit.Run(t, "run", rootfs, "hello")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "hello from the image\n", r.Stdout)
}

func TestExitStatusPassesThrough(t *testing.T) {
	rootfs := newRootfs(t)
	for script, want := range map[string]int{
		"exit 0":        0,
		"exit 7":        7,
		"kill -TERM $$": 128 + int(unix.SIGTERM),
		"kill -KILL $$": 128 + int(unix.SIGKILL),
	} {
		t.Run(script, func(t *testing.T) {
			r := testkit.Run(t, "run", rootfs, "/bin/sh", "-c", script)
			assert.Equal(t, want, r.Code, r)
			assert.Empty(t, r.Stderr)
		})
	}
}

func TestStdioPassesThrough(t *testing.T) {
	rootfs := newRootfs(t)
	cmd := testkit.Command(t, "run", rootfs, "/bin/sh", "-c", `tr a-z A-Z; echo to stderr >&2`)
	cmd.Stdin = strings.NewReader("from stdin\n")
	r := testkit.RunCmd(t, cmd)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "FROM STDIN\n", r.Stdout)
	assert.Equal(t, "to stderr\n", r.Stderr)
}

func TestSignalsAreRelayedToTheCommand(t *testing.T) {
	rootfs := newRootfs(t)
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

func TestBadInputIsOneLineAndStatus2(t *testing.T) {
	rootfs := newRootfs(t)
	aFile := filepath.Join(rootfs, "etc/passwd")
	for name, tc := range map[string]struct {
		args []string
		says string
	}{
		"no arguments":       {nil, "usage: step01 run"},
		"unknown command":    {[]string{"walk"}, `unknown command "walk"`},
		"unknown flag":       {[]string{"run", "--frobnicate", rootfs, "sh"}, "unknown flag: --frobnicate"},
		"no CMD":             {[]string{"run", rootfs}, "need a ROOTFS and a CMD"},
		"empty ROOTFS":       {[]string{"run", "", "sh"}, "rootfs is an empty string"},
		"missing ROOTFS":     {[]string{"run", "/nonexistent/rootfs", "sh"}, "rootfs /nonexistent/rootfs: no such directory"},
		"ROOTFS is a file":   {[]string{"run", aFile, "sh"}, "is not a directory"},
		"CMD not in rootfs":  {[]string{"run", rootfs, "no-such-command"}, `command "no-such-command" not found in rootfs`},
		"CMD is a directory": {[]string{"run", rootfs, "/etc"}, `command "/etc" not found in rootfs`},
		// the binary under test exists on the host and not in the rootfs:
		"host-only path": {[]string{"run", rootfs, testkit.Binary(t)}, " not found in rootfs"},
	} {
		t.Run(name, func(t *testing.T) {
			assertRefused(t, testkit.Run(t, tc.args...), tc.says)
		})
	}
}

func TestNotRootIsToldToUseSudo(t *testing.T) {
	rootfs := newRootfs(t)
	cmd := testkit.Command(t, "run", rootfs, "sh")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	assertRefused(t, testkit.RunCmd(t, cmd), "sudo")
}

// assertRefused checks a refusal: exit status 2, one line on stderr that
// says what went wrong, and no Go panic.
func assertRefused(t *testing.T, r testkit.Result, says string) {
	t.Helper()
	assert.Equal(t, 2, r.Code, r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr:\n%s", r)
	assert.Contains(t, r.Stderr, says)
	assert.True(t, strings.HasPrefix(r.Stderr, "step01: "), "the line names the program:\n%s", r)
	assert.NotContains(t, r.Stderr, "goroutine")
	assert.Empty(t, r.Stdout)
}

// The lesson's point: chroot changes what a process sees of the
// filesystem and nothing else. With a proc filesystem mounted in the
// rootfs, the command lists the host's processes, and it is in every one of
// the host's namespaces.
func TestChrootIsNoIsolation(t *testing.T) {
	rootfs := newRootfs(t)
	proc := filepath.Join(rootfs, "proc")
	require.NoError(t, unix.Mount("proc", proc, "proc", 0, ""), "mount proc in the rootfs")
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(proc, unix.MNT_DETACH)) })

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
	rootfs := newRootfs(t)
	f := testkit.Probe(t, testkit.Run(t, "run", rootfs, "/probe", "escape"))

	escape := f.Experiments.Escape
	require.NotNil(t, escape)
	require.Empty(t, escape.Error)
	var hostRoot unix.Stat_t
	require.NoError(t, unix.Stat("/", &hostRoot))
	assert.True(t, escape.Escaped, "the probe left the rootfs")
	assert.Equal(t, hostRoot.Dev, escape.RootDev, "and reached the host's root (device)")
	assert.Equal(t, hostRoot.Ino, escape.RootIno, "and reached the host's root (inode)")
	leftovers, err := filepath.Glob(filepath.Join(rootfs, ".probe-escape-*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "the experiment tidied up")
}
