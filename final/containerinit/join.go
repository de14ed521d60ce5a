package containerinit

import (
	"fmt"
	"os"
	"runtime"

	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// ExecMain is boxcraft-exec-init: the program that boxcraft exec starts
// in a running container. Before main, package nsexec's constructor
// joined the container's namespaces and forked this process into its
// pid namespace; boxcraft exec put it in the container's cgroup. It reads
// the container's settings with exec's process in them (fd 3, as init),
// starts a session, applies the process's steps (the same as init's
// last), and execs the command. It returns only on a failure, which it
// has reported (fd 4).
func ExecMain() {
	// The session, the user and the exec are the calling thread's.
	runtime.LockOSThread()
	report := os.NewFile(ReportFD, "report")
	c, inCgroup, err := readSettings()
	if err == nil {
		err = inCgroup() // exec-init's parent was in the cgroup before it forked
	}
	if err == nil {
		// Inside the container already: hidden from its processes
		// until the exec, as init is (CVE-2016-9962).
		err = hideInit(c)
	}
	if err == nil {
		err = startSession(c.Process.Terminal)
	}
	var tr *trace.Tracer
	if err == nil {
		tr = openTracer(c)
		err = runSteps(tr, append(execSysinfoSteps(c), processSteps(c, nil, tr)...))
	}
	if err == nil {
		err = execCommand(c.Process, tr)
	}
	finish(report, err)
}

// startSession makes the command a session leader, as init is: no way
// into the caller's terminal; with -t, its pty (its stdin) becomes the
// session's terminal, so that a Ctrl-C typed into it is its SIGINT.
func startSession(terminal bool) error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if terminal {
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("make the pty the session's terminal: %w", err)
		}
	}
	return nil
}
