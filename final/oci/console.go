package oci

import (
	"fmt"
	"net"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// SendConsole makes a pty for the container and sends its master side
// over the unix socket at socketPath (--console-socket), as runc does:
// one message whose ancillary data (SCM_RIGHTS) carries the descriptor,
// so the engine holds the terminal and the runtime may exit. It returns
// the slave side, for the container's stdio. width and height, when not
// 0, size the terminal (process.consoleSize).
func SendConsole(socketPath string, width, height uint16) (*os.File, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pty: %w", err)
	}
	defer master.Close()
	if width > 0 && height > 0 {
		if err := pty.Setsize(master, &pty.Winsize{Cols: width, Rows: height}); err != nil {
			slave.Close()
			return nil, fmt.Errorf("size the pty: %w", err)
		}
	}
	if err := sendFD(socketPath, master); err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

func sendFD(socketPath string, f *os.File) error {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("--console-socket %s: %w", socketPath, err)
	}
	defer conn.Close()
	rights := unix.UnixRights(int(f.Fd()))
	if _, _, err := conn.WriteMsgUnix([]byte(f.Name()), rights, nil); err != nil {
		return fmt.Errorf("send the pty's master over %s: %w", socketPath, err)
	}
	return nil
}
