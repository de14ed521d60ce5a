package containerinit

import (
	"errors"
	"os"

	"github.com/boxcraft/boxcraft/final/console"
	"github.com/boxcraft/boxcraft/final/rootfs"
	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// makeTerminal gives the command, with -t (Process.Terminal), a terminal
// of the container's own, as runc's init does: once the mounts are made
// and the root pivoted into, so that /dev/ptmx is the container's last
// word on it (a mount over /dev that hides its devpts is a failure that
// says so), from its devpts; bound onto /dev/console; its master sent to
// the monitor (or to --console-socket's engine) on c's console socket;
// its slave made init's stdio (which was /dev/null until then) and the
// session's controlling terminal, which the command inherits.
func makeTerminal(c *spec.Container) error {
	p := &c.Process
	if p.ConsoleSocket < 3 {
		return errors.New("boxcraft init: a terminal, but no socket to send it on")
	}
	sock := os.NewFile(uintptr(p.ConsoleSocket), "console socket")
	defer sock.Close()
	master, slave, err := console.Open(p.ConsoleWidth, p.ConsoleHeight)
	if err != nil {
		return err
	}
	defer master.Close() // the monitor's alone, once sent
	defer slave.Close()  // stdio's, once made
	if err := rootfs.BindConsole(slave); err != nil {
		return err
	}
	if err := console.Send(sock, master); err != nil {
		return err
	}
	return console.Become(slave)
}

// terminalStep is the command's terminal, made once the root is
// pivoted into (makeTerminal), and given to its user before init
// becomes that user (ownTerminal).
func terminalStep(c *spec.Container) []step {
	if !c.Process.Terminal {
		return nil
	}
	return []step{{"final/console", "make the terminal in the container's devpts, send its master", func() error { return makeTerminal(c) }}}
}

// ownTerminalStep gives the terminal (stdin, by then) to the user the
// command runs as, as runc does: its uid, while init is still root.
func ownTerminalStep(c *spec.Container, u *spec.User) []step {
	if !c.Process.Terminal {
		return nil
	}
	return []step{{"final/console", "give the terminal to the user", func() error { return console.Own(unix.Stdin, u.UID) }}}
}
