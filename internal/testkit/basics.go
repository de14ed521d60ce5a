package testkit

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// ContainerPath is the PATH a command gets inside a container: Docker's
// default.
const ContainerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// FreshRootfs is the start of every container test: root, a fresh rootfs,
// and a check at the end that nothing was left on the host.
func FreshRootfs(t *testing.T) string {
	t.Helper()
	RequireRoot(t)
	rootfs := Rootfs(t)
	CheckNothingLeft(t, rootfs)
	return rootfs
}

// Basics checks what every step's `run` keeps from step01: the command
// sees the rootfs, starts in / with the container's PATH, is looked up
// inside the image, and hands back its exit status and stdio; bad input is
// refused in one line. A command killed by a signal is each step's own
// test: in a PID namespace it takes more than `kill $$`.
func Basics(t *testing.T, s Step) {
	t.Run("CommandSeesTheRootfsNotTheHost", func(t *testing.T) { commandSeesTheRootfsNotTheHost(t, s) })
	t.Run("CommandStartsInTheRootWithTheContainerPath", func(t *testing.T) { commandStartsInTheRoot(t, s) })
	t.Run("CommandLookupFollowsSymlinksInsideTheRootfs", func(t *testing.T) { commandLookupFollowsSymlinksInside(t, s) })
	t.Run("ExitStatusPassesThrough", func(t *testing.T) { exitStatusPassesThrough(t, s) })
	t.Run("StdioPassesThrough", func(t *testing.T) { stdioPassesThrough(t, s) })
	t.Run("BadInputIsOneLineAndStatus2", func(t *testing.T) { badInputIsOneLine(t, s) })
	t.Run("NotRootIsToldToUseSudo", func(t *testing.T) { notRootIsToldToUseSudo(t, s) })
	callerIsolation(t, s) // isolation.go
}

// commandSeesTheRootfsNotTheHost checks that CMD sees a file of the
// rootfs, and not one of the host's.
func commandSeesTheRootfsNotTheHost(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "marker"), []byte("inside the rootfs\n"), 0o644))
	hostMarker := filepath.Join(t.TempDir(), "host-marker")
	require.NoError(t, os.WriteFile(hostMarker, []byte("on the host\n"), 0o644))

	r := s.runIn(t, rootfs, "/bin/sh", "-c",
		`cat /marker; if [ -e "$1" ]; then echo host file visible; else echo host file hidden; fi`, "sh", hostMarker)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "inside the rootfs\nhost file hidden\n", r.Stdout)
}

// commandStartsInTheRoot checks that CMD starts in / with the container's
// PATH.
func commandStartsInTheRoot(t *testing.T, s Step) {
	r := s.runIn(t, FreshRootfs(t), "sh", "-c", `pwd; echo "$PATH"`)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/\n"+ContainerPath+"\n", r.Stdout)
}

// commandLookupFollowsSymlinksInside checks that CMD is looked up in the
// rootfs, through its symlinks.
//
// Symlinks in an image point into the image: /usr/local/bin/hello ->
// /opt/only-in-image/hello names a file in the rootfs that the host
// does not have.
func commandLookupFollowsSymlinksInside(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	require.NoDirExists(t, "/opt/only-in-image")
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, "opt/only-in-image"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, "usr/local/bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "opt/only-in-image/hello"), []byte("#!/bin/sh\necho hello from the image\n"), 0o755))
	require.NoError(t, os.Symlink("/opt/only-in-image/hello", filepath.Join(rootfs, "usr/local/bin/hello")))

	r := s.runIn(t, rootfs, "hello")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "hello from the image\n", r.Stdout)
}

// exitStatusPassesThrough checks that the runtime exits with CMD's status.
func exitStatusPassesThrough(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	for _, status := range []int{0, 7, 255} {
		r := s.runIn(t, rootfs, "/bin/sh", "-c", "exit "+strconv.Itoa(status))
		assert.Equal(t, status, r.Code, r)
		assert.Empty(t, r.Stderr)
	}
}

// stdioPassesThrough checks that CMD reads the runtime's stdin and writes
// to its stdout and stderr.
func stdioPassesThrough(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	cmd := Command(t, s.Args(s.withStdin(nil), rootfs, "/bin/sh", "-c", `tr a-z A-Z; echo to stderr >&2`)...)
	cmd.Stdin = strings.NewReader("from stdin\n")
	r := RunCmd(t, cmd)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "FROM STDIN\n", r.Stdout)
	assert.Equal(t, "to stderr\n", r.Stderr)
}

// badInputIsOneLine checks that each bad command line is refused in one
// line that says what is wrong, with the runtime's status.
func badInputIsOneLine(t *testing.T, s Step) {
	rootfs := FreshRootfs(t)
	aFile := filepath.Join(rootfs, "etc/passwd")
	usage := Run(t) // what the runtime says with no arguments
	// Each row: the command line, then what the line must name (any
	// one of them).
	for name, tc := range map[string]struct {
		args  []string
		names []string
		why   refusal
	}{
		"unknown command":    {[]string{"walk"}, []string{"walk"}, badInput},
		"unknown flag":       {s.Args([]string{"--frobnicate"}, rootfs, "sh"), []string{"--frobnicate"}, badInput},
		"no CMD":             {s.Args(nil, rootfs), []string{"CMD", "command"}, badInput},
		"empty ROOTFS":       {s.Args(nil, "", "sh"), []string{"rootfs", "ROOTFS", "--rootfs"}, badInput},
		"missing ROOTFS":     {s.Args(nil, "/nonexistent/rootfs", "sh"), []string{"/nonexistent/rootfs"}, badInput},
		"ROOTFS is a file":   {s.Args(nil, aFile, "sh"), []string{aFile}, badInput},
		"CMD not in rootfs":  {s.Args(nil, rootfs, "no-such-command"), []string{"no-such-command"}, cmdNotFound},
		"CMD is a directory": {s.Args(nil, rootfs, "/etc"), []string{"/etc"}, cmdNotRunnable},
		// the binary under test exists on the host and not in the rootfs:
		"host-only path": {s.Args(nil, rootfs, Binary(t)), []string{Binary(t)}, cmdNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			r := Run(t, tc.args...)
			s.assertRefusedAs(t, tc.why, r, tc.names...)
			assert.NotEqual(t, usage.Stderr, r.Stderr, "the line should say what is wrong, not only how to call the runtime")
		})
	}
	// Docker's runtime with no arguments shows its usage, as help
	// does, with status 0.
	if !s.Docker {
		t.Run("no arguments", func(t *testing.T) { s.AssertRefused(t, Run(t), "usage") })
	}
}

// notRootIsToldToUseSudo checks that a run by a normal user is refused in
// one line that says to run it as root.
func notRootIsToldToUseSudo(t *testing.T, s Step) {
	cmd := Command(t, s.Args(nil, FreshRootfs(t), "sh")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	s.AssertRefused(t, RunCmd(t, cmd), "sudo", "root")
}

// runIn runs cmd in a container of rootfs, with no flags.
func (s Step) runIn(t *testing.T, rootfs string, cmd ...string) Result {
	return Run(t, s.Args(nil, rootfs, cmd...)...)
}

// AssertRefused checks a refusal of a step as docs/contract.md describes
// it: exit status 2, one line on stderr that names at least one of names
// (the flag, or the value or file refused; in any words, after any
// program name), no stack trace, and nothing on stdout.
func AssertRefused(t *testing.T, r Result, names ...string) {
	t.Helper()
	Step{}.AssertRefused(t, r, names...)
}

// AssertRefused checks a refusal of bad input by the runtime under test:
// as the package's AssertRefused, with the runtime's status (125 for
// boxcraft) and a flag named in its words.
func (s Step) AssertRefused(t *testing.T, r Result, names ...string) {
	t.Helper()
	s.assertRefusedAs(t, badInput, r, names...)
}

// assertRefusedAs checks a run that did not run CMD, for why.
func (s Step) assertRefusedAs(t *testing.T, why refusal, r Result, names ...string) {
	t.Helper()
	names = s.inItsWords(names)
	assert.Equal(t, s.status(why), r.Code, "a refusal exits with status %d\n%s", s.status(why), r)
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "a refusal is one line on stderr:\n%s", r)
	assert.True(t, namesOneOf(t, r.Stderr, names), "the line names what was refused (one of %q):\n%s", names, r)
	assert.NotContains(t, r.Stderr, "goroutine", "no stack trace")
	assert.Empty(t, r.Stdout)
}

// namesOneOf reports whether line names one of names: a path of the
// test's own as it is, anything else as a whole word ("time" is not in
// "runtime", nor "--memory" in "--memory-swap"), after the test's own
// paths are taken out of the line, since a test's name is in them.
func namesOneOf(t *testing.T, line string, names []string) bool {
	t.Helper()
	ours := filepath.Dir(t.TempDir()) // every folder of the test's own is in it
	for _, name := range names {
		if strings.HasPrefix(name, ours) && strings.Contains(line, name) {
			return true
		}
	}
	line = regexp.MustCompile(regexp.QuoteMeta(ours)+`[^\s"':]*`).ReplaceAllString(line, "<test folder>")
	for _, name := range names {
		if regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(name) + `($|[^\w-])`).MatchString(line) {
			return true
		}
	}
	return false
}

// AssertEscapedToHostRoot checks the probe's escape experiment: it left the
// rootfs and reached the host's own "/" (the same device and inode).
func AssertEscapedToHostRoot(t *testing.T, f facts.Facts) {
	t.Helper()
	escape := f.Experiments.Escape
	require.NotNil(t, escape, "the probe ran the escape experiment")
	require.Empty(t, escape.Error)
	var hostRoot unix.Stat_t
	require.NoError(t, unix.Stat("/", &hostRoot))
	assert.True(t, escape.Escaped, "the probe left the rootfs")
	assert.Equal(t, hostRoot.Dev, escape.RootDev, "and reached the host's root (device)")
	assert.Equal(t, hostRoot.Ino, escape.RootIno, "and reached the host's root (inode)")
}
