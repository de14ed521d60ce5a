// Package console is a container's terminal (boxcraft's -t, an OCI
// bundle's process.terminal), made as runc makes it: inside the
// container, from the devpts that the container has at /dev/pts, by the
// process that becomes the command (init; for an exec, exec-init's child,
// in C: nsenter/nsexec's terminal.c does the same calls). The command's
// terminal is then one of the container's own: `tty` names it
// /dev/pts/0, `ls /dev/pts` lists it, and the host's devpts gains
// nothing. Its master goes, over a unix socket (SCM_RIGHTS), to whoever
// holds the other side: boxcraft's monitor (a socket pair), or the
// engine behind boxcraft-runc's --console-socket.
package console

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Ptmx is where a container's terminals come from: the ptmx of its own
// devpts (final/rootfs), which /dev/ptmx leads to.
const Ptmx = "/dev/pts/ptmx"

// Open makes a terminal in the devpts at /dev/pts, in the caller's root:
// its master, and its slave side, reached from the master (TIOCGPTPEER,
// Linux 4.13), never by a path that could lead elsewhere. The ptmx is
// opened only once /dev/pts is checked to be a devpts, beneath it and
// never through a symlink: a container's root (its /dev/ptmx, or a
// volume over /dev/pts) cannot have the opener, root, open another
// file. width and height, when not 0, size it, before any command reads
// its size. A devpts that is missing (a mount over /dev or /dev/pts
// hides the container's) is a failure that says so.
func Open(width, height uint16) (master, slave *os.File, err error) {
	pts, err := unix.Open("/dev/pts", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, missing(err)
	}
	defer unix.Close(pts)
	var fs unix.Statfs_t
	if err := unix.Fstatfs(pts, &fs); err != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		return nil, nil, missing(errors.New("not a devpts"))
	}
	fd, err := unix.Openat(pts, "ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, missing(err)
	}
	master = os.NewFile(uintptr(fd), Ptmx)
	slave, err = peer(master, width, height)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// missing is the failure to open /dev/ptmx, in words.
func missing(err error) error {
	return fmt.Errorf("a terminal needs the container's devpts: open %s: %w (does a mount over /dev or /dev/pts hide it?)", Ptmx, err)
}

// peer unlocks the master's slave side, opens it, checks that it is a
// devpts's, and sizes it.
func peer(master *os.File, width, height uint16) (*os.File, error) {
	m := int(master.Fd())
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("%s is no terminal multiplexer: unlock its terminal: %w", Ptmx, err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(m), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return nil, fmt.Errorf("open the terminal of %s: %w", Ptmx, errno)
	}
	slave := os.NewFile(fd, "pty")
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(fd), &fs); err != nil || fs.Type != unix.DEVPTS_SUPER_MAGIC {
		slave.Close()
		return nil, missing(errors.New("not a devpts"))
	}
	if width > 0 && height > 0 {
		if err := unix.IoctlSetWinsize(m, unix.TIOCSWINSZ, &unix.Winsize{Col: width, Row: height}); err != nil {
			slave.Close()
			return nil, fmt.Errorf("size the terminal: %w", err)
		}
	}
	return slave, nil
}

// Become makes slave the caller's stdin, stdout and stderr, and its
// session's controlling terminal: the caller leads a session without one
// (init, cloned with setsid), and the command it becomes inherits both.
// A Ctrl-C typed into the master is then the SIGINT of the session's
// foreground process group.
func Become(slave *os.File) error {
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("make the terminal fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make the terminal the session's: %w", err)
	}
	return nil
}

// Own gives the terminal on fd to uid, as runc does for the user the
// command runs as (its group stays devpts's gid=5, tty), so that the user
// may change its mode (mesg) as on a login's terminal. A uid outside the
// user namespace's map (EINVAL) is left to the change of user, which
// says so in words.
func Own(fd int, uid uint32) error {
	if err := unix.Fchown(fd, int(uid), -1); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("give the terminal to uid %d: %w", uid, err)
	}
	return nil
}

// Send sends master over sock, a connected unix socket, as runc does:
// one message, its name as the data, the descriptor as ancillary data
// (SCM_RIGHTS). The receiver holds the terminal from then on; the sender
// closes its own copy.
func Send(sock, master *os.File) error {
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte(master.Name()), rights, nil, 0); err != nil {
		return fmt.Errorf("send the terminal's master: %w", err)
	}
	return nil
}

// Receive reads the master that Send sent on sock. The sender's end is
// closed once it has become the command (close-on-exec), or has ended: an
// end of file without a descriptor means that it sent none. The master
// comes non-blocking, so that Go's poller serves its reads (a deadline
// stops them, a hang-up does not wait on them).
func Receive(sock *os.File) (*os.File, error) {
	buf, oob := make([]byte, 64), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receive the terminal's master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.New("receive the terminal's master: none came")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("receive the terminal's master: none came")
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("receive the terminal's master: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), Ptmx), nil
}

// Dial connects to the unix socket at path (boxcraft-runc's
// --console-socket, an engine's listener), for the container's side to
// send its master on.
func Dial(path string) (*os.File, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.File() // a copy, blocking, for init or exec-init to inherit
	if err != nil {
		return nil, fmt.Errorf("--console-socket %s: %w", path, err)
	}
	return f, nil
}
