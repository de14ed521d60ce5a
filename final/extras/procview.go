package extras

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/procfs"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// procViews serves containers' /proc views (monitor.ProcViews).
type procViews struct{}

// procView is the container's /proc view (issue 21), served by its
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

// Serve serves c's view.
func (procViews) Serve(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup) (monitor.ProcView, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("the /proc view: socketpair: %w", err)
	}
	p := &procView{view: procfs.NewView(cg), ours: os.NewFile(uintptr(fds[0]), "procview"), theirs: os.NewFile(uintptr(fds[1]), "procview")}
	p.server, err = procfs.Serve(p.view, monitor.ProcViewDir(dirs, c.ID))
	if err == nil && c.Security.Seccomp != nil {
		p.runtime = dirs.Runtime(c.ID)
		p.execs, err = listenSysinfo(p.runtime)
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	if p.execs != nil {
		go p.acceptExecs()
	}
	return p, nil
}

func listenSysinfo(dir string) (*net.UnixListener, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("the /proc view: %w", err)
	}
	defer d.Close()
	ln, err := net.ListenUnix("unixpacket", monitor.SysinfoSocket(d))
	if err != nil {
		return nil, fmt.Errorf("the /proc view: listen for exec's sysinfo: %w", err)
	}
	ln.SetUnlinkOnClose(false) // the name went with d: close removes it
	return ln, nil
}

// InitEnd is init's end of the line to the monitor.
func (p *procView) InitEnd() *os.File { return p.theirs }

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

// SendMounts hands init the view's root, as a detached mount, and the
// files to bind from it, each with its target: "meminfo /proc/meminfo"
// lines. init attaches them once its root is the container's.
func (p *procView) SendMounts() error {
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

// AnswerSysinfo takes the listener of init's sysinfo(2) filter, if init
// sent one (the container has a seccomp filter), and answers from it
// until the container ends. init has executed its command by now: the
// line has the listener, or nothing and its end.
func (p *procView) AnswerSysinfo() {
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

// Close ends what the monitor holds of the view. Once the container has
// ended, the kernel has ended the FUSE connection with its last mount.
func (p *procView) Close() {
	p.view.Close()
	if p.server != nil {
		p.server.Close()
	}
	if p.execs != nil {
		p.execs.Close()
		os.Remove(filepath.Join(p.runtime, monitor.SysinfoSocketName))
	}
	p.ours.Close()
	p.theirs.Close()
}
