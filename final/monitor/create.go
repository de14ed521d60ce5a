package monitor

import (
	"fmt"
	"os"
	"runtime"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// Files are a process's stdin, stdout and stderr given as they are: the
// OCI front end's (issue 23), whose caller (containerd's shim) chose
// them, or with a terminal the socket its master goes on. No log, no
// copying: the engine holds the other ends.
type Files struct {
	Stdin, Stdout, Stderr *os.File
	// Console, with a terminal (Process.Terminal), is a connected unix
	// socket (--console-socket's) on which the container's side sends
	// the master of the terminal it makes in its own devpts
	// (final/console); Stdin, Stdout and Stderr are then nil, and the
	// slave takes their place.
	Console *os.File
	// Created, when not nil, is called once init is in its namespaces
	// and cgroup, before it has its settings (and so before its mounts
	// and pivot_root): where an OCI bundle's createRuntime hooks run. It
	// runs on another thread than the one that cloned init, whose
	// namespaces may be the container's.
	Created func(pid int) error
}

// stdio is f as the start hands it over; with a terminal, /dev/null
// until the container's side makes its own (nullStdio).
func (f Files) stdio() (*stdio, error) {
	s := &stdio{stdin: f.Stdin, stdout: f.Stdout, stderr: f.Stderr, consoleEnd: f.Console}
	if f.Console == nil {
		return s, nil
	}
	if err := s.nullStdio(); err != nil {
		s.closeContainerEnds()
		return nil, err
	}
	return s, nil
}

// Create starts rec's init with files as its stdio and returns its pid
// once it has set the container up and waits for start (rec.Spec's
// StartFifo: an OCI create). Nothing waits for it here: the caller
// exits, and the engine that started the caller adopts init. On a
// failure init is gone; the cgroup is the caller's to remove.
func Create(rec state.Record, files Files) (int, error) {
	type created struct {
		pid int
		err error
	}
	done := make(chan created)
	go func() {
		// A thread of its own, never given back: enterRoot changes its
		// working folder (see onOwnThread).
		runtime.LockOSThread()
		pid, err := createOnThread(&rec.Spec, files)
		done <- created{pid, err}
	}()
	c := <-done
	return c.pid, c.err
}

func createOnThread(c *spec.Container, files Files) (int, error) {
	// An OCI container has no extras (no bridge, no /proc view): its
	// config asks for neither (final/oci).
	var x Extras
	if err := x.refuseMissing(c); err != nil {
		return 0, err
	}
	cg, err := openCgroup(c)
	if err != nil {
		return 0, err
	}
	io, err := files.stdio()
	if err != nil {
		return 0, err
	}
	defer io.closeContainerEnds() // init has them
	trees, err := bindTrees(c)
	if err != nil {
		return 0, err
	}
	// The start fifo goes after the trees (containerinit.StartFifoFD),
	// opened here: init's root in a user namespace may not walk to it.
	fifo, err := os.OpenFile(c.StartFifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		closeAll(trees...)
		return 0, fmt.Errorf("open the start fifo: %w", err)
	}
	trees = passConsole(c, io, append(trees, fifo))
	// An OCI container's network is its config's: the host's, or a new
	// namespace with lo alone (final/oci). Neither reads the state
	// folders, which only the bridge and container:NAME need.
	var dirs state.Dirs
	cmd, settings, report, err := newInit(c, dirs, cg, io, trees)
	closeAll(trees...)
	if err != nil {
		return 0, err
	}
	p := &process{cmd: cmd, cgroup: cg, io: io, extras: x}
	err = created(files.Created, cg, cmd.Process.Pid)
	if err != nil {
		settings.Close()
		report.Close()
	} else {
		err = p.handOver(c, dirs, settings, report)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	pid := cmd.Process.Pid // Release makes it -1
	return pid, cmd.Process.Release()
}

// ExecFiles starts p in the running container rec, whose first process
// is pid, with files as its stdio, and returns the process once its
// command runs (an OCI exec): the caller waits for it, or, detached,
// exits and leaves it to the engine that adopts it.
func ExecFiles(dirs state.Dirs, rec state.Record, pid int, p spec.Process, files Files) (*os.Process, error) {
	c := rec.Spec
	c.Process = p
	io, err := files.stdio()
	if err != nil {
		return nil, err
	}
	defer io.closeContainerEnds()
	j, err := startExec(dirs, &c, pid, io)
	if err != nil {
		return nil, err
	}
	return j.child, nil
}

// created calls Created for init pid, once it is in its cgroup (on v1,
// clone could not put it there; handOver's Add then changes nothing),
// from a goroutine of its own: the calling thread is locked and may be
// in the container's namespaces, and Go never runs another goroutine on
// a locked thread.
func created(call func(pid int) error, cg *cgroups.Cgroup, pid int) error {
	if call == nil {
		return nil
	}
	if err := cg.Add(pid); err != nil {
		return err
	}
	done := make(chan error)
	go func() { done <- call(pid) }()
	return <-done
}
