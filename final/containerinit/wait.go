package containerinit

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// The OCI runtime spec splits a start in two (issue 23): create sets the
// container up and leaves its init waiting, start lets it run the
// command. runc's init waits on a fifo in the container's state folder
// (its "exec fifo"), and so does this one: opening a fifo to write blocks
// until someone opens it to read, and that someone is start.

// startWait is an OCI create's wait: the fifo, and the report pipe that
// init closes once it has said it waits (reported).
type startWait struct {
	fifo, report *os.File
	reported     bool
}

// StartFifoFD is the descriptor init has the start fifo at, opened as a
// path only (O_PATH) by the monitor: after the bind trees (FirstTreeFD),
// so that init's root in a user namespace, which may not walk the host's
// state folders, has it. The open that waits comes later, through
// /proc/self/fd, which reaches the fifo from inside the new root too.
func StartFifoFD(c *spec.Container) int {
	fd := FirstTreeFD
	if c.Namespaces.User() {
		for _, m := range c.Mounts {
			if m.Type == "bind" {
				fd++
			}
		}
	}
	return fd
}

// openStartFifo takes the start fifo's descriptor; it is nil when c asks
// for no wait.
func openStartFifo(c *spec.Container, report *os.File) (*startWait, error) {
	if c.StartFifo == "" {
		return nil, nil
	}
	fd := StartFifoFD(c)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil {
		return nil, fmt.Errorf("the start fifo (fd %d): %w", fd, err)
	}
	return &startWait{fifo: os.NewFile(uintptr(fd), "start fifo"), report: report}, nil
}

// waitForStart is init's last step before the command (the seccomp
// filter of a no_new_privs process aside, which runc too installs after
// the wait): it checks that the command is there, tells create that the
// container is ready (Failure.Waiting on the report pipe, which it then
// closes), and blocks until start opens the fifo. A failure after this
// has no report pipe to go to: init prints it on stderr and exits.
func (w *startWait) waitForStart(c *spec.Container) error {
	p := c.Process
	if len(p.Args) == 0 {
		return &Failure{Status: 125, Message: "no command: process.args is empty"}
	}
	if _, err := lookPath(p.Args[0], PathOf(p.Env)); err != nil {
		return err
	}
	err := json.NewEncoder(w.report).Encode(Failure{Waiting: true})
	w.report.Close()
	w.reported = true
	if err != nil {
		return fmt.Errorf("report that init waits: %w", err)
	}
	// Blocks until start opens the fifo to read.
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", w.fifo.Fd()), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("wait for start: %w", err)
	}
	if err := w.fifo.Close(); err != nil {
		return err
	}
	// The startContainer hooks run before start hears back, and so
	// before its poststart hooks.
	if err := startContainerHooks(c); err != nil {
		return err
	}
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return fmt.Errorf("wait for start: %w", err)
	}
	// fd stays open, close-on-exec: its end of file tells start that
	// the command runs (the spec's poststart hooks run after that).
	return nil
}
