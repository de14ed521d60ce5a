package monitor

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/procfs"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// procView is the container's /proc view (issue 21), served by this
// monitor for as long as the container runs: the FUSE files, and the
// answers to sysinfo(2).
type procView struct {
	view    *procfs.View
	server  *procfs.Server
	ours    *os.File // the monitor's end of the line to init
	theirs  *os.File // init's end: containerinit.ProcViewFD
	execs   *net.UnixListener
	runtime string // the container's folder on the tmpfs, where execs listens
}

// procViewDir is where the view is mounted on the host, for the moment
// it takes to open its files as detached mounts (procfs.Serve).
func procViewDir(dirs state.Dirs, id string) string {
	return filepath.Join(dirs.Runtime(id), "proc")
}

// startProcView serves c's view, or is nil when c asks for the host's
// /proc.
func startProcView(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup) (*procView, error) {
	if !c.ProcView {
		return nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the /proc view: socketpair: %w", err)
	}
	p := &procView{view: procfs.NewView(cg), ours: os.NewFile(uintptr(fds[0]), "procview"), theirs: os.NewFile(uintptr(fds[1]), "procview")}
	p.server, err = procfs.Serve(p.view, procViewDir(dirs, c.ID))
	if err == nil && c.Security.Seccomp != nil {
		p.runtime = dirs.Runtime(c.ID)
		p.execs, err = listenSysinfo(p.runtime)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	if p.execs != nil {
		go p.acceptExecs()
	}
	return p, nil
}

// sysinfoSocket is the socket, in the container's folder dir, on which
// the monitor takes the sysinfo(2) listeners of the commands boxcraft
// exec starts. It is named through an open descriptor of dir: a unix
// socket's path may be 108 bytes at most, and a test's state folder is
// longer.
func sysinfoSocket(dir *os.File) *net.UnixAddr {
	return &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/sysinfo.sock", dir.Fd()), Net: "unixpacket"}
}

func listenSysinfo(dir string) (*net.UnixListener, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ln, err := net.ListenUnix("unixpacket", sysinfoSocket(d))
	if err != nil {
		return nil, fmt.Errorf("the /proc view: listen for exec's sysinfo: %w", err)
	}
	ln.SetUnlinkOnClose(false) // the name went with d: close removes it
	return ln, nil
}

// dialSysinfo is a line to the monitor of the container, for the
// sysinfo(2) listener of a command exec starts; nil when the monitor
// has none (--proc=host, seccomp=unconfined).
func dialSysinfo(dirs state.Dirs, id string) *os.File {
	d, err := os.Open(dirs.Runtime(id))
	if err != nil {
		return nil
	}
	defer d.Close()
	conn, err := net.DialUnix("unixpacket", nil, sysinfoSocket(d))
	if err != nil {
		return nil
	}
	defer conn.Close()
	f, err := conn.File() // a copy, for exec-init (containerinit.ExecSysinfoFD)
	if err != nil {
		return nil
	}
	return f
}

// acceptExecs takes, from each command exec starts, the listener of its
// sysinfo(2) filter, and answers it as init's.
func (p *procView) acceptExecs() {
	for {
		conn, err := p.execs.AcceptUnix()
		if err != nil {
			return // closed: the container ended
		}
		go func() {
			defer conn.Close()
			oob := make([]byte, unix.CmsgSpace(4))
			_, oobn, _, _, err := conn.ReadMsgUnix(make([]byte, 16), oob)
			if err == nil {
				p.answer(oob[:oobn])
			}
		}()
	}
}

// sendMounts hands init the view's root, as a detached mount, and the
// files to bind from it, each with its target: "meminfo /proc/meminfo"
// lines. init attaches them once its root is the container's.
func (p *procView) sendMounts() error {
	var lines []string
	for _, f := range procfs.Files {
		lines = append(lines, f.Name+" "+f.Target)
	}
	err := unix.Sendmsg(int(p.ours.Fd()), []byte(strings.Join(lines, "\n")), unix.UnixRights(int(p.server.Tree.Fd())), nil, 0)
	p.server.HandedOver() // init holds it now
	if err != nil {
		return fmt.Errorf("send the /proc view to init: %w", err)
	}
	return nil
}

// answerSysinfo takes the listener of init's sysinfo(2) filter, if init
// sent one (the container has a seccomp filter), and answers from it
// until the container ends. init has executed its command by now: the
// line has the listener, or nothing and its end.
func (p *procView) answerSysinfo() {
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(p.ours.Fd()), make([]byte, 16), oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
	if err == nil {
		p.answer(oob[:oobn])
	}
}

// answer answers, until its filter has no process left, the sysinfo(2)
// listener in oob (an SCM_RIGHTS message), if it holds one.
func (p *procView) answer(oob []byte) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return
	}
	go procfs.AnswerSysinfo(os.NewFile(uintptr(fds[0]), "seccomp-listener"), p.view)
}

// close ends what the monitor holds of the view. Once the container has
// ended, the kernel has ended the FUSE connection with its last mount.
func (p *procView) close() {
	if p == nil {
		return
	}
	p.view.Close()
	if p.server != nil {
		p.server.Close()
	}
	if p.execs != nil {
		p.execs.Close()
		os.Remove(filepath.Join(p.runtime, "sysinfo.sock"))
	}
	closeAll(p.ours, p.theirs)
}

// unmountProcView unmounts what procfs.Serve left on the host if the
// monitor was killed in the moment the view was mounted there.
func unmountProcView(dirs state.Dirs, id string) error {
	dir := procViewDir(dirs, id)
	if !isMountPoint(dir) {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the /proc view %s: %w", dir, err)
	}
	return os.Remove(dir)
}
