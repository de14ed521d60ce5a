package testkit

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// consoleSocket: with process.terminal, create sends the master of a
// pty that init makes in the container's own devpts, sized as
// process.consoleSize says, over --console-socket (SCM_RIGHTS), as
// runc does: the command's terminal is /dev/pts/0, and /dev/console is
// it. An exec -t sends its own, the container's next one.
func (s *ociSuite) consoleSocket(t *testing.T) {
	bundle, _ := s.bundle(t, "c5", func(c map[string]any) {
		p := c["process"].(map[string]any)
		p["terminal"], p["consoleSize"] = true, map[string]any{"height": 24, "width": 81}
	}, "sh", "-c", `echo "tty=$(tty) pts=$(echo $(ls /dev/pts)) console=$(stat -L -c %t:%T:%d /dev/console) stdin=$(stat -L -c %t:%T:%d /proc/self/fd/0) size=$(stty size)"; exec sleep 1000`)
	socket := filepath.Join(t.TempDir(), "console.sock")
	master := s.consoleOf(t, socket, func() {
		r := s.runc(t, "create", "--bundle", bundle, "--console-socket", socket, "c5")
		require.Equal(t, 0, r.Code, "create: %s", r)
		t.Cleanup(func() { s.runc(t, "delete", "--force", "c5") })
	})
	require.Equal(t, 0, s.runc(t, "start", "c5").Code)
	out := readUntil(t, master, "size=")
	assert.Contains(t, out, "tty=/dev/pts/0 pts=0 ptmx ", "the command's terminal is the first of the container's devpts, as under runc:\n%q", out)
	m := regexp.MustCompile(`console=(\S+) stdin=(\S+) `).FindStringSubmatch(out)
	if assert.NotNil(t, m, "%q", out) {
		assert.Equal(t, m[2], m[1], "/dev/console is the command's terminal (type, number, devpts)")
	}
	assert.Contains(t, out, "size=24 81", "sized as process.consoleSize says")

	master = s.consoleOf(t, socket, func() {
		r := s.runc(t, "exec", "--console-socket", socket, "-t", "c5", "sh", "-c", `echo "tty=$(tty) pts=$(echo $(ls /dev/pts))"`)
		require.Equal(t, 0, r.Code, "exec -t: %s", r)
	})
	out = readUntil(t, master, "pts=")
	assert.Contains(t, out, "tty=/dev/pts/1 pts=0 1 ptmx", "exec -t: the container's next terminal:\n%q", out)
}

// consoleOf listens on socket while do runs, and returns the descriptor
// that came over it, closed when the test ends.
func (s *ociSuite) consoleOf(t *testing.T, socket string, do func()) *os.File {
	t.Helper()
	os.Remove(socket)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	require.NoError(t, err)
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() { got <- receiveFD(l) }()
	do()
	var master *os.File
	select {
	case master = <-got:
	case <-time.After(10 * time.Second):
	}
	require.NotNil(t, master, "a descriptor came over the console socket")
	t.Cleanup(func() { master.Close() })
	return master
}

// readUntil reads master until what it read holds end (and the line's
// end), for 20 seconds at most.
func readUntil(t *testing.T, master *os.File, end string) string {
	t.Helper()
	require.NoError(t, master.SetReadDeadline(time.Now().Add(20*time.Second)))
	var out strings.Builder
	buf := make([]byte, 1024)
	for {
		if i := strings.Index(out.String(), end); i >= 0 && strings.Contains(out.String()[i:], "\n") {
			break
		}
		n, err := master.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return out.String()
}

// receiveFD accepts one connection and returns the descriptor it sends.
func receiveFD(l *net.UnixListener) *os.File {
	conn, err := l.AcceptUnix()
	if err != nil {
		return nil
	}
	defer conn.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(make([]byte, 256), oob)
	if err != nil {
		return nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil
	}
	// Non-blocking: os.NewFile then gives it to Go's poller, and its
	// reads take a deadline.
	_ = unix.SetNonblock(fds[0], true)
	return os.NewFile(uintptr(fds[0]), "master")
}
