package monitor

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// What the monitor knows of a container's /proc view (issue 21) without
// serving one: where it is mounted for a moment, and the socket on which
// the container's monitor takes exec's sysinfo(2) listeners. The view
// itself is an extra (Extras.ProcViews), served by final/extras.

// ProcViewDir is where the view is mounted on the host, for the moment
// it takes to open its files as detached mounts (procfs.Serve).
func ProcViewDir(dirs state.Dirs, id string) string {
	return filepath.Join(dirs.Runtime(id), "proc")
}

// SysinfoSocket is the socket, in the container's folder dir, on which
// the monitor takes the sysinfo(2) listeners of the commands boxcraft
// exec starts. It is named through an open descriptor of dir: a unix
// socket's path may be 108 bytes at most, and a test's state folder is
// longer.
func SysinfoSocket(dir *os.File) *net.UnixAddr {
	return &net.UnixAddr{Name: fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), SysinfoSocketName), Net: "unixpacket"}
}

// SysinfoSocketName is SysinfoSocket's name in the container's run
// folder.
const SysinfoSocketName = "sysinfo.sock"

// dialSysinfo is a line to the monitor of the container, for the
// sysinfo(2) listener of a command exec starts; nil when the monitor
// has none (--proc=host, seccomp=unconfined).
func dialSysinfo(dirs state.Dirs, id string) *os.File {
	d, err := os.Open(dirs.Runtime(id))
	if err != nil {
		return nil
	}
	defer d.Close()
	conn, err := net.DialUnix("unixpacket", nil, SysinfoSocket(d))
	if err != nil {
		return nil
	}
	defer conn.Close()
	f, err := conn.File() // a copy, for exec-init (execSysinfoFD)
	if err != nil {
		return nil
	}
	return f
}

// unmountProcView unmounts what procfs.Serve left on the host if the
// monitor was killed in the moment the view was mounted there.
func unmountProcView(dirs state.Dirs, id string) error {
	dir := ProcViewDir(dirs, id)
	if !isMountPoint(dir) {
		return nil
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the /proc view %s: %w", dir, err)
	}
	return os.Remove(dir)
}
