package monitor

import (
	"fmt"
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
	view   *procfs.View
	server *procfs.Server
	ours   *os.File // the monitor's end of the line to init
	theirs *os.File // init's end: containerinit.ProcViewFD
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
	if err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// sendMounts hands init the view's files, as detached mounts with their
// targets; init attaches them once its root is the container's.
func (p *procView) sendMounts() error {
	var targets []string
	var fds []int
	for _, t := range p.server.Trees {
		targets = append(targets, t.Name())
		fds = append(fds, int(t.Fd()))
	}
	err := unix.Sendmsg(int(p.ours.Fd()), []byte(strings.Join(targets, "\n")), unix.UnixRights(fds...), nil, 0)
	p.server.HandedOver() // init holds them now
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
	if err != nil || oobn == 0 {
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
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
