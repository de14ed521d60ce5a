package testkit

import (
	"io"
	"os"
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
// The container's stdin is a terminal of its own (TERM=xterm), of the
// caller's size, resized with it; the caller's terminal is raw while it
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
		`trap 'echo "resized=$(stty size)"' WINCH; trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 1; done`
	cmd := Command(t, "run", "-it", "--rm", "busybox", "sh", "-c", script)
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
