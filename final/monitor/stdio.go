package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/boxcraft/boxcraft/final/console"
	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/logs"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// stdio is the container's side of its stdin, stdout and stderr, and the
// monitor's side: a pty's master with -t, pipes otherwise. What comes out
// goes to the log, and to the caller's terminal when it is attached.
//
// With -t the container makes its terminal itself, in its own devpts
// (final/console), and sends the master on a socket: until then its
// stdio is /dev/null.
type stdio struct {
	stdin, stdout, stderr *os.File // the container's ends
	master                *os.File // with -t, once received
	log                   *logs.File
	attach                *Attach
	outputs               []*os.File // the monitor's ends of stdout and stderr
	streams               []string
	keepOpen              *os.File // -d -i: stdin's writing end, held so it never ends
	copying               sync.WaitGroup
	callerGone            chan struct{} // closed once the caller's reader went (callerWent)
	goneOnce              sync.Once

	// console is the monitor's end of the socket the master comes on,
	// consoleEnd the container's (nil once handed over: takeConsoleEnd).
	// An OCI start has a consoleEnd alone, an engine's socket.
	console, consoleEnd *os.File
}

func openStdio(c *spec.Container, dirs state.Dirs, attach *Attach) (*stdio, error) {
	log, err := logs.Create(dirs.LogFile(c.ID))
	if err != nil {
		return nil, err
	}
	s := &stdio{log: log, attach: attach}
	if c.Process.Terminal {
		err = s.openTerminal(&c.Process)
	} else {
		err = s.openPipes(c.Process.Stdin)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// openTerminal readies the socket on which the container sends its
// terminal's master (receiveMaster): the container makes the terminal
// in its own devpts, and the monitor holds the master; a Ctrl-C typed
// into it reaches the container's foreground process through the pty's
// line discipline, as on any terminal. p's console size is the caller's
// terminal's, for the container to size its terminal with before the
// command starts: its first `stty size` sees it.
func (s *stdio) openTerminal(p *spec.Process) error {
	if err := s.nullStdio(); err != nil {
		return err
	}
	var err error
	if s.console, s.consoleEnd, err = socketPair(); err != nil {
		return err
	}
	if s.attach != nil && s.attach.Terminal != nil {
		if ws, err := unix.IoctlGetWinsize(int(s.attach.Terminal.Fd()), unix.TIOCGWINSZ); err == nil {
			p.ConsoleWidth, p.ConsoleHeight = ws.Col, ws.Row
		}
	}
	return nil
}

// nullStdio makes /dev/null the container's stdio until it makes its
// terminal, rather than nothing: os/exec starts a child with a nil
// *os.File's descriptor closed, and the terminal's master or slave would
// then take fd 0, 1 or 2, and be closed by the dup onto them.
func (s *stdio) nullStdio() error {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	s.stdin, s.stdout, s.stderr = null, null, null
	return nil
}

// takeConsoleEnd is the container's end of the terminal's socket, for
// the caller to hand over (nil without -t); stdio no longer closes it.
func (s *stdio) takeConsoleEnd() *os.File {
	end := s.consoleEnd
	s.consoleEnd = nil
	return end
}

// passConsole adds to the descriptors init inherits, after files, the
// container's end of its terminal's socket, with -t, and names its
// number in c (spec.Process.ConsoleSocket).
func passConsole(c *spec.Container, io *stdio, files []*os.File) []*os.File {
	end := io.takeConsoleEnd()
	if end == nil {
		return files
	}
	c.Process.ConsoleSocket = containerinit.FirstTreeFD + len(files)
	return append(files, end)
}

// receiveMaster takes the terminal's master that the container sent,
// once its command runs (it sent the master before): its output from
// then on. Without -t, or when an engine holds the master, it does
// nothing.
func (s *stdio) receiveMaster() error {
	if s.console == nil {
		return nil
	}
	master, err := console.Receive(s.console)
	s.console.Close()
	s.console = nil
	if err != nil {
		return fmt.Errorf("the container's terminal: %w", err)
	}
	s.master = master
	s.outputs, s.streams = []*os.File{master}, []string{"stdout"}
	return nil
}

// openPipes gives the container pipes for its output, and for its input
// the caller's stdin with -i (as it is, when it is a file), a pipe held
// open when detached with -i, or /dev/null.
func (s *stdio) openPipes(interactive bool) error {
	var err error
	switch {
	case interactive && s.attach != nil && s.attach.Stdin != nil:
		if f, ok := s.attach.Stdin.(*os.File); ok {
			s.stdin, err = dup(f)
		} else {
			s.stdin, err = s.pipeFrom(s.attach.Stdin)
		}
	case interactive:
		s.stdin, s.keepOpen, err = os.Pipe()
	default:
		s.stdin, err = os.Open(os.DevNull)
	}
	if err != nil {
		return err
	}
	for _, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		s.outputs, s.streams = append(s.outputs, r), append(s.streams, stream)
		if stream == "stdout" {
			s.stdout = w
		} else {
			s.stderr = w
		}
	}
	return nil
}

func dup(f *os.File) (*os.File, error) {
	fd, err := dupCloexec(int(f.Fd()))
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// pipeFrom copies r into a pipe and returns the pipe's reading end.
func (s *stdio) pipeFrom(r io.Reader) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, nil
}

// startCopying runs once the container runs: the container's ends are
// its alone now (the monitor's copies would keep a pipe or pty from ever
// ending), and what it writes is copied out.
func (s *stdio) startCopying() {
	s.closeContainerEnds()
	s.callerGone = make(chan struct{})
	if s.master != nil && s.attach != nil && s.attach.Stdin != nil {
		go func() { _, _ = io.Copy(s.master, s.attach.Stdin) }()
	}
	for i, out := range s.outputs {
		to, done := s.destination(s.streams[i])
		s.copying.Add(1)
		go func(out *os.File, stream string) {
			defer s.copying.Done()
			_, err := io.Copy(to, out) // a pty's master ends with EIO once the container is gone
			if errors.Is(err, errCallerGone) {
				s.callerWent(out)
			}
			if to.callerErr != nil {
				s.tellCaller(stream, to.callerErr)
			}
			done()
		}(out, s.streams[i])
	}
}

// tellCaller says, once, that one of the container's streams could not
// be written to the caller: on the caller's other stream when it is
// stderr that failed.
func (s *stdio) tellCaller(stream string, err error) {
	to := s.attach.Stderr
	if stream == "stderr" {
		to = s.attach.Stdout
	}
	fmt.Fprintf(to, "boxcraft: the container's %s stopped reaching you: %v\n", stream, err)
}

// callerWent makes the container's writes fail once the caller's reader
// has gone, as a command's in a shell pipeline do, rather than wait on
// output nobody reads: its end of the pipe is closed, so that its next
// write gets SIGPIPE (EPIPE for a pid 1, which the kernel spares the
// signal); a terminal is hung up, as when its window closes (a Go file
// cannot be closed under the write of the caller's stdin that may wait
// on it). What still runs a while later is ended (endOnceCallerGone).
func (s *stdio) callerWent(out *os.File) {
	if out == s.master {
		_ = HangUp(out)
	} else {
		out.Close()
	}
	s.goneOnce.Do(func() { close(s.callerGone) })
}

// destination is where a stream goes: the log, and the caller when it
// is attached. An exec has no log (its output is not the container's, as
// Docker's exec's is not).
func (s *stdio) destination(stream string) (*tee, func()) {
	if s.log == nil {
		return &tee{caller: attachedWriter(s.attach, stream)}, func() {}
	}
	w := s.log.Stream(stream)
	t := &tee{log: w}
	if s.attach != nil {
		t.caller = attachedWriter(s.attach, stream)
	}
	return t, func() { w.Close() }
}

func attachedWriter(a *Attach, stream string) io.Writer {
	if stream == "stderr" {
		return a.Stderr
	}
	return a.Stdout
}

// finish waits for the output to be copied out. Once the container's
// first process has ended, a process it left behind (there is no pid
// namespace to end them with it) could hold its stdout open forever: the
// monitor gives the copying a second, then stops it.
func (s *stdio) finish() {
	done := make(chan struct{})
	go func() { s.copying.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		for _, out := range s.outputs {
			_ = out.SetReadDeadline(time.Now())
		}
		<-done
	}
	s.close()
}

func (s *stdio) closeContainerEnds() {
	for _, f := range []*os.File{s.stdin, s.stdout, s.stderr, s.consoleEnd} {
		if f != nil {
			f.Close()
		}
	}
	s.stdin, s.stdout, s.stderr, s.consoleEnd = nil, nil, nil, nil
}

// close closes every end still open.
func (s *stdio) close() {
	s.closeContainerEnds()
	for _, f := range append(s.outputs, s.keepOpen, s.console) {
		if f != nil {
			f.Close()
		}
	}
	if s.log != nil {
		s.log.Close()
	}
}
