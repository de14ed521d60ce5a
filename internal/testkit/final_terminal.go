package testkit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPty opens a new pseudo-terminal and returns both ends, closed when
// the test ends: the master the test types into and reads from, and the
// terminal it starts boxcraft on.
func openPty(t *testing.T) (master, terminal *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	number, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0))
	terminal, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(number)), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { terminal.Close() })
	return master, terminal
}

// terminal runs `boxcraft run -it` on a terminal the test owns, as a
// shell runs a command: in a session whose controlling terminal it is.
// The container's stdin is a terminal of its own (TERM=xterm), the
// first of its own devpts (/dev/pts/0, as Docker's), of the caller's
// size, resized with it; the caller's terminal is raw while it
// runs (so that a Ctrl-C byte reaches the container's terminal, which
// makes it SIGINT for the container's foreground process), and as it
// was afterwards.
func (s *commandsSuite) terminal(t *testing.T) {
	s.enter(t)
	master, term := openPty(t)
	require.NoError(t, unix.IoctlSetWinsize(int(term.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}))
	before, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)

	script := `[ -t 0 ] && echo stdin-is-a-terminal; echo "size=$(stty size)"; echo "term=$TERM"; ` +
		`echo "tty=$(tty) fd0=$(readlink /proc/self/fd/0) pts=$(ls /dev/pts | tr '\n' ' ')"; ` +
		`trap 'echo "resized=$(stty size)"' WINCH; trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 1; done`
	cmd := Command(t, "run", "-it", "--rm", "--name", "on-a-terminal", "busybox", "sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	running := startWithOutput(t, cmd)
	var out lockedBuffer
	go func() { _, _ = io.Copy(&out, master) }() // ends when the test closes master
	seen := func(what string) bool {
		return eventually(30*time.Second, func() bool { return strings.Contains(out.String(), what) })
	}
	require.True(t, seen("ready"), "the container's shell started on the terminal:\n%q", out.String())
	assert.Contains(t, out.String(), "stdin-is-a-terminal", "-t: the container's stdin is a terminal")
	assert.Contains(t, out.String(), "size=33 101", "its window size is the caller's")
	assert.Contains(t, out.String(), "term=xterm", "-t sets TERM=xterm, as Docker")
	assert.Contains(t, out.String(), "tty=/dev/pts/0 fd0=/dev/pts/0 pts=0 ptmx ",
		"its terminal is the first of the container's own devpts, as under Docker (not the host's /dev/pts/N, which tty names /dev/console)")
	assertContainersTerminal(t, inspectOne(t, "on-a-terminal").State.Pid, "/dev/pts/0")

	raw, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Zero(t, raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG), "the caller's terminal is raw while the container runs")
	assert.Zero(t, raw.Oflag&unix.OPOST, "raw as cfmakeraw makes it: no output processing, or the container's terminal's \\r\\n reaches the screen as \\r\\r\\n")

	require.NoError(t, unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}))
	assert.True(t, seen("resized=40 120"), "a resize of the caller's terminal reaches the container's (SIGWINCH, and the size):\n%q", out.String())

	_, err = master.Write([]byte{3}) // Ctrl-C
	require.NoError(t, err)
	r := waitBounded(t, running, 30*time.Second)
	assert.Equal(t, 9, r.Code, "the Ctrl-C byte reached the container's terminal, whose SIGINT ran the shell's trap\n%s\n%q", r, out.String())
	assert.True(t, seen("got-int"), "%q", out.String())

	after, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	require.NoError(t, err)
	assert.Equal(t, before.Lflag, after.Lflag, "the caller's terminal is as it was afterwards")
	assert.Equal(t, before.Iflag, after.Iflag, "the caller's terminal is as it was afterwards")
	assert.Equal(t, before.Oflag, after.Oflag, "the caller's terminal is as it was afterwards")
}

// hangup: when the terminal of `boxcraft run -it` goes (its window
// closed, its ssh session dropped), the container's terminal hangs up
// too, so its shell ends rather than wait for keys that can no longer
// come; with --rm, nothing is left. A shell as pid 1 ignores SIGHUP, so
// only the end of file that a hung-up terminal gives ends it.
func (s *commandsSuite) hangup(t *testing.T) {
	s.enter(t)
	master, term := openPty(t)
	cmd := Command(t, "run", "-it", "--rm", "--name", "hung-up", "busybox", "sh")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	running := startWithOutput(t, cmd)
	var out lockedBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	require.True(t, eventually(30*time.Second, func() bool { return strings.Contains(out.String(), "# ") }),
		"the container's shell prompts on the terminal:\n%q", out.String())
	// The line drops: vhangup(2)'s ioctl, as root may (closing the
	// master would too, but a Go file is not closed under the read that
	// copies it).
	require.NoError(t, unix.IoctlSetInt(int(term.Fd()), unix.TIOCVHANGUP, 0))
	waitBounded(t, running, 30*time.Second)
	assert.NotContains(t, Run(t, "ps", "-a").Stdout, "hung-up", "--rm removed the container once its shell ended")
}

// pipedIntoATerminal: -i -t with a stdin that is not a terminal (echo ls
// | boxcraft run -i -t …) is refused in one line, as Docker refuses it
// ("the input device is not a TTY"), for run and exec alike, leaving
// nothing; it used to wait for ever for an end of input that a terminal
// cannot give. Detached, or with -i alone, a pipe is fine.
func (s *commandsSuite) pipedIntoATerminal(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "busybox", "sleep", "1000")
	for _, args := range [][]string{
		{"run", "-i", "-t", "--rm", "busybox", "cat"},
		{"exec", "-i", "-t", id, "cat"},
	} {
		assertLeavesNothing(t, strings.Join(args, " "), func() {
			cmd := Command(t, args...)
			cmd.Stdin = strings.NewReader("hi\n") // a pipe, not a terminal
			r := waitBounded(t, startWithOutput(t, cmd), 30*time.Second)
			assertFailedOneLine(t, r, 125, "not a TTY")
		})
	}
	cmd := Command(t, "run", "-i", "--rm", "busybox", "cat")
	cmd.Stdin = strings.NewReader("hi\n")
	r := RunCmd(t, cmd)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "hi\n", r.Stdout, "-i alone: the pipe is the container's stdin")
	r = Run(t, "run", "-d", "-i", "-t", "busybox", "cat")
	assert.Equal(t, 0, r.Code, "detached, -i -t needs no terminal here: %s", r)
	removeWhenDone(t, strings.TrimSpace(r.Stdout))
}

// ownTerminal: run -d -t gives the command a terminal of the
// container's own devpts, whose master its monitor holds, as runc's
// init makes it (docker run -t busybox tty prints /dev/pts/0); each exec
// -t gets the next one, given to its user (-u), in the tty group (5),
// mode 620, as Docker's. Seen from inside (tty, /proc/self/fd/0, ls
// /dev/pts, stat) and from the host (whose devpts gains nothing).
func (s *commandsSuite) ownTerminal(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "-t", "busybox", "sh", "-c", `echo "tty=$(tty) fd0=$(readlink /proc/self/fd/0)"; exec sleep 1000`)
	var logs string
	require.True(t, eventually(30*time.Second, func() bool { logs = Run(t, "logs", id).Stdout; return strings.Contains(logs, "fd0=") }),
		"the command wrote to its terminal, which the monitor logs:\n%q", logs)
	assert.Equal(t, "tty=/dev/pts/0 fd0=/dev/pts/0\r\n", logs, "the first terminal of the container's devpts (the pty turns \\n into \\r\\n)")
	pid := inspectOne(t, id).State.Pid
	assertContainersTerminal(t, pid, "/dev/pts/0")
	assert.True(t, holdsMaster(t, parentOf(t, pid), pid), "the monitor holds the terminal's master: a ptmx of the container's devpts")

	inside := `echo "tty=$(tty) fd0=$(readlink /proc/self/fd/0) pts=$(echo $(ls /dev/pts)) stat=$(stat -L -c %u:%g:%a /proc/self/fd/0)"`
	r := Run(t, "exec", "-t", id, "sh", "-c", inside)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "tty=/dev/pts/1 fd0=/dev/pts/1 pts=0 1 ptmx stat=0:5:620\r\n", r.Stdout,
		"exec -t: the container's next terminal, root's, the tty group's (devpts's gid=5, mode=0620)")
	r = Run(t, "exec", "-t", "-u", "nobody", id, "sh", "-c", inside)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "tty=/dev/pts/1 fd0=/dev/pts/1 pts=0 1 ptmx stat=65534:5:620\r\n", r.Stdout,
		"exec -t -u nobody: the terminal is its user's, as runc gives it (the last exec's is gone)")
}

// terminalInAUserNamespace: with --uidmap, the terminal is still the
// container's own (its devpts mounted in its user namespace): from the
// host, it belongs to the map's root and to group 5 inside (100005).
func (s *commandsSuite) terminalInAUserNamespace(t *testing.T) {
	s.enter(t)
	id := s.detach(t, "-t", "--uidmap", "0:100000:65536", "busybox", "sleep", "1000")
	pid := inspectOne(t, id).State.Pid
	st := assertContainersTerminal(t, pid, "/dev/pts/0")
	assert.Equal(t, [3]uint32{100000, 100005, 0o620}, [3]uint32{st.Uid, st.Gid, st.Mode & 0o7777},
		"from the host: uid, gid and mode of the container's root, its tty group, 620")
	r := Run(t, "exec", "-t", "-u", "nobody", id, "sh", "-c", `echo "tty=$(tty) stat=$(stat -L -c %u:%g:%a /proc/self/fd/0)"`)
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "tty=/dev/pts/1 stat=65534:5:620\r\n", r.Stdout, "exec -t -u nobody in the user namespace")
}

// terminalWithoutADevpts: a terminal needs the container's devpts at
// /dev/pts; a mount that hides it is said in one line, status 125, for
// run (leaving nothing) and exec (the container runs on).
func (s *commandsSuite) terminalWithoutADevpts(t *testing.T) {
	s.enter(t)
	assertLeavesNothing(t, "run -t over a hidden devpts", func() {
		r := Run(t, "run", "-t", "--rm", "--tmpfs", "/dev/pts", "busybox", "tty")
		assertFailedOneLine(t, r, 125, "devpts", "/dev/ptmx")
	})
	id := s.detach(t, "--tmpfs", "/dev/pts", "busybox", "sleep", "1000")
	assertFailedOneLine(t, Run(t, "exec", "-t", id, "tty"), 125, "devpts", "/dev/ptmx")
	assert.Equal(t, 0, Run(t, "exec", id, "true").Code, "the container runs on")
}

// terminalOverAConsole: a /dev/console that is there (a volume's: a
// file bound onto it) is bound over by the container's terminal, as
// runc binds over it, and the file on the host is left as it was.
func (s *commandsSuite) terminalOverAConsole(t *testing.T) {
	s.enter(t)
	file := filepath.Join(t.TempDir(), "console")
	require.NoError(t, os.WriteFile(file, []byte("the host's\n"), 0o644))
	r := Run(t, "run", "-t", "--rm", "-v", file+":/dev/console", "busybox", "tty")
	assert.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, "/dev/pts/0\r\n", r.Stdout, "the command's terminal is the container's own")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "the host's\n", string(data), "the volume's file is untouched")
}

// assertContainersTerminal checks, from the host, that process pid of a
// container has on stdin the terminal name (/dev/pts/N) of the
// container's own devpts (the one mounted at its /dev/pts), not of the
// host's. It returns the terminal's stat.
func assertContainersTerminal(t *testing.T, pid int, name string) unix.Stat_t {
	t.Helper()
	stdin := fmt.Sprintf("/proc/%d/fd/0", pid)
	link, err := os.Readlink(stdin)
	require.NoError(t, err)
	assert.Equal(t, name, link, "its stdin, as the host names it")
	var st unix.Stat_t
	require.NoError(t, unix.Stat(stdin, &st))
	assert.Equal(t, devpts(t, fmt.Sprintf("/proc/%d/root/dev/pts", pid)), st.Dev, "a terminal of the container's devpts")
	assert.NotEqual(t, devpts(t, "/dev/pts"), st.Dev, "not of the host's devpts, which gains nothing")
	return st
}

// devpts is the device of the devpts mounted at dir.
func devpts(t *testing.T, dir string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(dir+"/ptmx", &st))
	return st.Dev
}

// holdsMaster says whether process pid holds a pty master (ptmx, 5:2) of
// the devpts of container process init.
func holdsMaster(t *testing.T, pid, init int) bool {
	t.Helper()
	own := devpts(t, fmt.Sprintf("/proc/%d/root/dev/pts", init))
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	require.NoError(t, err)
	for _, fd := range fds {
		var st unix.Stat_t
		if unix.Stat(fd, &st) == nil && st.Dev == own && st.Rdev == unix.Mkdev(5, 2) {
			return true
		}
	}
	return false
}

// parentOf is process pid's parent.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// "PID (COMM) STATE PPID …": COMM may hold spaces, not a ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ppid, err := strconv.Atoi(fields[1])
	require.NoError(t, err)
	return ppid
}
