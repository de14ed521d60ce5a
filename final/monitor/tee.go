package monitor

import (
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// tee writes what the container writes to its log and, when attached, to
// the caller. A failed write to the log drops the log from then on: a
// full disk must neither block the container nor cut its output to the
// caller. The caller's reader gone (EPIPE: boxcraft run … | head) ends
// the copy (errCallerGone), and stdio.callerWent says so to the
// container; any other failure (a full disk under run … > file) drops
// the caller (stdio.tellCaller says so), and the log, if any, still gets
// everything.
type tee struct {
	log       io.Writer // nil without one, or once it failed
	caller    io.Writer // nil when detached, or once it failed
	callerErr error     // why the caller was dropped
}

// errCallerGone ends a copy whose caller's reader went.
var errCallerGone = errors.New("the caller's reader went")

func (t *tee) Write(p []byte) (int, error) {
	if t.log != nil {
		if _, err := t.log.Write(p); err != nil {
			t.log = nil
		}
	}
	if t.caller != nil {
		if _, err := t.caller.Write(p); errors.Is(err, unix.EPIPE) {
			return 0, errCallerGone
		} else if err != nil {
			t.caller, t.callerErr = nil, err
		}
	}
	return len(p), nil
}

// callerGrace is how long a container whose caller's reader went may go
// on before it is ended (endOnceCallerGone), and again between SIGTERM
// and SIGKILL: boxcraft stop's default.
const callerGrace = 5 * time.Second

// endOnceCallerGone ends p, the container's init or an exec's command,
// if it still runs callerGrace after the caller's reader went
// (stdio.callerWent), as boxcraft stop does: SIGTERM, then SIGKILL. Its
// next write failed, and a command in a shell pipeline would have ended
// of SIGPIPE; but the kernel spares a pid 1 the signal, and one that
// writes on past EPIPE would keep boxcraft run waiting for ever. It says
// whether it had to, once p has ended (waited closed).
func endOnceCallerGone(p *os.Process, gone, waited <-chan struct{}) bool {
	select {
	case <-waited:
		return false
	case <-gone:
	}
	for _, sig := range []os.Signal{unix.SIGTERM, unix.SIGKILL} {
		select {
		case <-waited:
			return false
		case <-time.After(callerGrace):
			_ = p.Signal(sig)
		}
	}
	<-waited
	return true
}

// HangUp hangs up the container's terminal, as the kernel hangs up a
// terminal whose line dropped: its session gets SIGHUP, and every read
// of it an end of file. Closing the pty's master would too, but a Go
// file cannot be closed under a read that waits on it: the slave side,
// reached through the master (TIOCGPTPEER, Linux 4.13), is hung up
// instead (TIOCVHANGUP, root's).
func HangUp(master *os.File) error {
	peer, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return errno
	}
	defer unix.Close(int(peer))
	return unix.IoctlSetInt(int(peer), unix.TIOCVHANGUP, 0)
}
