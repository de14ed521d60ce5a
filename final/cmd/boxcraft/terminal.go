package main

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// terminal is what a foreground run does with boxcraft's own terminal
// and signals while the container runs.
//
// With -t, the container has a pty of its own, and boxcraft's terminal
// goes into raw mode: every key, Ctrl-C included, passes as a byte to the
// container's pty, whose line discipline turns it into the container's
// SIGINT, as a terminal does. The pty's window size follows this one's.
//
// Without -t, the container is in a session of its own (no way into this
// terminal), so the terminal's Ctrl-C reaches boxcraft alone: boxcraft
// relays it, and the signals kill sends it, to the container.
type terminal struct {
	tty      bool
	state    *term.State
	signals  chan os.Signal
	stopOnce sync.Once
}

// newTerminal gets boxcraft's terminal ready before the container
// starts: raw with -t, so that the container's first output reaches it
// as the container's pty wrote it; and its signals caught, so that a
// Ctrl-C while the container starts waits for it.
func newTerminal(tty bool, attach *monitor.Attach) *terminal {
	t := &terminal{tty: tty, signals: make(chan os.Signal, 8)}
	signal.Notify(t.signals, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH)
	if stdin := int(os.Stdin.Fd()); tty && term.IsTerminal(stdin) {
		t.state, _ = term.MakeRaw(stdin)
		attach.Terminal = os.Stdin
	}
	return t
}

// started runs once the container's command runs.
func (t *terminal) started(s monitor.Started) {
	go t.relay(s)
}

// relay passes each signal on: SIGWINCH as the pty's new size, the rest
// to the container (Ctrl-C and Ctrl-\ to its whole process group, as a
// terminal sends them).
func (t *terminal) relay(s monitor.Started) {
	for sig := range t.signals {
		switch {
		case sig == unix.SIGWINCH:
			resize(s.Master)
		case sig == unix.SIGINT || sig == unix.SIGQUIT:
			_ = unix.Kill(-s.Pid, sig.(syscall.Signal))
		case sig == unix.SIGHUP && s.Master != nil:
			// This terminal hung up (its window closed, its ssh session
			// dropped): hang up the container's too, as the kernel
			// hangs up a session whose terminal goes. Its reads then
			// fail and a shell ends, rather than wait for keys that can
			// no longer come.
			_ = monitor.HangUp(s.Master)
		default:
			_ = unix.Kill(s.Pid, sig.(syscall.Signal))
		}
	}
}

// resize gives the container's pty this terminal's window size.
func resize(master *os.File) {
	if master != nil {
		_ = pty.InheritSize(os.Stdin, master)
	}
}

// restore gives the terminal back as it was, and the signals their
// default actions.
func (t *terminal) restore() {
	t.stopOnce.Do(func() {
		signal.Stop(t.signals)
		close(t.signals)
		if t.state != nil {
			_ = term.Restore(int(os.Stdin.Fd()), t.state)
		}
	})
}

// checkTerminalInput refuses -i -t in the foreground when stdin is not a
// terminal (echo ls | boxcraft run -i -t …), as Docker does ("the input
// device is not a TTY"): a terminal has no end of its own for a pipe's
// end to become, and the ^D a program would take as one is a key that a
// shell reads as end of file only at its prompt, in raw mode, and as a
// NUL byte if typed a moment before. -i alone pipes stdin as it is.
func checkTerminalInput(interactive, tty, detached bool) error {
	if interactive && tty && !detached && !term.IsTerminal(int(os.Stdin.Fd())) {
		return errors.New("the input device is not a TTY: -i -t needs a terminal on stdin; to pipe into the container, leave out -t")
	}
	return nil
}
