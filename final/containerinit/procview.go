package containerinit

import (
	"fmt"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// ProcViewFD is where init finds its line to the monitor's /proc view
// (issue 21), with c.ProcView: a socket, after the bind trees. The
// monitor sends on it the view's files as detached mounts, with their
// targets; init sends back the listener of its sysinfo(2) filter.
func ProcViewFD(c *spec.Container) int { return FirstTreeFD + len(inheritedTrees(c)) }

// procViewSteps attach the view's files over /proc's, once the root is
// the container's, and hand sysinfo(2) to the monitor when the container
// has a seccomp filter (seccomp=unconfined means no filter at all). They
// are init's alone: a command exec starts sees the same files, but
// calls sysinfo(2) unanswered by the monitor.
func procViewSteps(c *spec.Container) []step {
	if !c.ProcView {
		return nil
	}
	sock := os.NewFile(uintptr(ProcViewFD(c)), "procview")
	list := []step{{"issue21", "mount the /proc view over /proc's files", func() error { return attachViews(sock) }}}
	if c.Security.Seccomp != nil {
		list = append(list, step{"issue21", "hand sysinfo(2) to the monitor", func() error { return handOverSysinfo(sock) }})
	}
	return append(list, step{"issue21", "close the line to the /proc view", sock.Close})
}

// viewDir is where init attaches the view's root for the moment it
// binds its files: /dev is the container's own tmpfs.
const viewDir = "/dev/.boxcraft-proc"

// attachViews receives the monitor's view, a detached mount of its
// root, attaches it on viewDir (move_mount(2)), binds each file named in
// the message over its target in the container's own /proc and /sys,
// and takes viewDir away again. init, not the monitor, looks the files
// up: the monitor serves them, and a server must not wait on itself.
func attachViews(sock *os.File) error {
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("receive the /proc view: %w", err)
	}
	fds, err := receivedFiles(oob[:oobn])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("the /proc view: want one mount, got %d (%v)", len(fds), err)
	}
	defer unix.Close(fds[0])
	if err := unix.Mkdir(viewDir, 0o700); err != nil {
		return fmt.Errorf("make %s: %w", viewDir, err)
	}
	defer unix.Rmdir(viewDir)
	if err := unix.MoveMount(fds[0], "", unix.AT_FDCWD, viewDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach the /proc view on %s: %w", viewDir, err)
	}
	defer unix.Unmount(viewDir, unix.MNT_DETACH)
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		name, target, _ := strings.Cut(line, " ")
		if err := unix.Mount(viewDir+"/"+name, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount the /proc view over %s: %w", target, err)
		}
	}
	return nil
}

// receivedFiles are the descriptors of an SCM_RIGHTS message.
func receivedFiles(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("the /proc view: no descriptors received (%v)", err)
	}
	return unix.ParseUnixRights(&msgs[0])
}

// handOverSysinfo installs the filter that hands sysinfo(2) to a
// listener, and sends the listener to the monitor. It goes before the
// container's own profile: that one might refuse seccomp(2) and
// sendmsg(2), and a filter cannot be added before it needs either.
func handOverSysinfo(sock *os.File) error {
	listener, err := seccomp.InstallListener(SysinfoFilter())
	if err != nil {
		return err
	}
	defer listener.Close()
	rights := unix.UnixRights(int(listener.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte("sysinfo"), rights, nil, 0); err != nil {
		return fmt.Errorf("send the sysinfo listener to the monitor: %w", err)
	}
	return nil
}

// SysinfoFilter hands every sysinfo(2) to the listener, and leaves every
// other call to the container's own profile: init's, and (compiled by
// boxcraft exec) an exec's.
func SysinfoFilter() *spec.Seccomp {
	return &spec.Seccomp{
		DefaultAction: "SCMP_ACT_ALLOW",
		Syscalls:      []spec.SeccompSyscall{{Names: []string{"sysinfo"}, Action: "SCMP_ACT_NOTIFY"}},
	}
}
