package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/nsenter"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// ErrNoExecInit: boxcraft-exec-init, the one program that joins a
// container's namespaces (its C constructor, package nsexec), is not
// beside the running program.
var ErrNoExecInit = errors.New("exec needs boxcraft-exec-init beside this program (make bins builds it, with cgo, static)")

// Exec runs p in the running container rec, whose first process is pid
// on the host: in every namespace the container has of its own and in
// its cgroup, with its settings (spec.Container) but p as the process.
// started is called once, when p's command runs or could not start.
// With attach nil, p is detached: Exec returns once it runs, and when
// boxcraft exits the host's init (or the nearest subreaper) adopts and
// reaps it. Otherwise Exec waits for it, reaps it and returns its status.
// Each step is reported to tr (--trace; nil when not traced), exec-init's
// relayed, until the command runs.
func Exec(dirs state.Dirs, rec state.Record, pid int, p spec.Process, attach *Attach, tr *trace.Tracer, started func(Started, error)) (Result, error) {
	tr = tr.As(trace.Monitor)
	c := rec.Spec
	c.Process = p
	io, err := openExecStdio(&c.Process, attach)
	if err != nil {
		started(Started{}, err)
		return Result{}, err
	}
	j, err := startExecTraced(dirs, &c, pid, io, tr)
	if err != nil {
		io.close()
		started(Started{}, err)
		return Result{}, err
	}
	started(Started{Pid: j.child.Pid, Master: j.io.master}, nil)
	if attach == nil {
		j.io.close()
		return Result{}, nil
	}
	return j.wait()
}

// joined is an exec's process, started in the container.
type joined struct {
	child *os.Process // boxcraft exec's own child (CLONE_PARENT), now the command
	io    *stdio
}

// startExec starts boxcraft-exec-init in the container's cgroup, lets
// its constructor join the namespaces and fork, and hands the child its
// plan (execPlan); it returns once the child has become the command.
func startExec(dirs state.Dirs, c *spec.Container, pid int, io *stdio) (*joined, error) {
	return startExecTraced(dirs, c, pid, io, nil)
}

// startExecTraced is startExec, reported to tr.
func startExecTraced(dirs state.Dirs, c *spec.Container, pid int, io *stdio, tr *trace.Tracer) (*joined, error) {
	// Read-only: exec-init runs inside the container (CVE-2019-5736).
	// First, so that a missing helper fails before anything is started.
	self, err := execProgram()
	if err != nil {
		return nil, err
	}
	defer self.Close()
	pidfd, flags, err := openInit(dirs, c, pid)
	if err != nil {
		return nil, err
	}
	defer pidfd.Close()
	cg, err := cgroups.Open(c.CgroupParent, c.CgroupName())
	if err != nil {
		return nil, err
	}
	sysinfo := dialSysinfo(dirs, c.ID)
	extra, relayed, err := traceInit(c, tr, execSysinfoFD, present(sysinfo))
	consoleFD := 0 // the child's end of its terminal's socket, with -t
	if end := io.takeConsoleEnd(); end != nil {
		consoleFD = execSysinfoFD + len(extra)
		extra = append(extra, end)
	}
	var plan []byte
	if err == nil {
		plan, err = execPlan(c, pid, sysinfo != nil, consoleFD, tr)
	}
	var child *os.Process
	if err == nil {
		tr.Mark("step02", "setns", func() string { return describeSetns(flags, pid) })
		child, err = forkInto(plan, cg, io, self, pidfd, flags, extra, tr)
	}
	closeAll(extra...) // exec-init has them, or failed to start
	waitRelay(relayed)
	if err == nil {
		if err = io.receiveMaster(); err != nil {
			_ = child.Kill()
			_, _ = child.Wait()
		}
	}
	if err != nil {
		return nil, err
	}
	io.startCopying()
	return &joined{child: child, io: io}, nil
}

// openInit opens a pidfd of the container's first process, then checks
// that the container still runs with that process: the pidfd is then
// that process's, whatever happens to its pid. It returns the namespaces
// to join: those the process has of its own.
func openInit(dirs state.Dirs, c *spec.Container, pid int) (*os.File, int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("container %s is not running (%w)", c.Name, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	status, err := dirs.ReadStatus(c.ID)
	if err == nil && (status.Status != state.Running || status.Pid != pid) {
		err = fmt.Errorf("container %s is not running", c.Name)
	}
	var flags int
	if err == nil {
		flags, err = nsenter.Flags(pid)
	}
	if err != nil {
		pidfd.Close()
		return nil, 0, err
	}
	return pidfd, flags, nil
}

// The descriptors exec-init is started with, beyond the settings (its
// plan) and report pipes (containerinit's 3 and 4): for the constructor,
// then the line on which the monitor takes the command's sysinfo(2),
// when there is one.
const (
	pidfdFD       = 5
	socketFD      = 6
	execSysinfoFD = 7
)

// forkInto starts exec-init, the program open at self, walks it through
// the hand-off that package nsenter draws, and hands its child the plan;
// it returns the child that became the command. more are descriptors
// for it beyond the hand-off's (a line for sysinfo(2), the trace pipe).
func forkInto(plan []byte, cg *cgroups.Cgroup, io *stdio, self, pidfd *os.File, flags int, more []*os.File, tr *trace.Tracer) (*os.Process, error) {
	settingsR, settingsW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		closeAll(settingsR, settingsW)
		return nil, err
	}
	ours, theirs, err := socketPair()
	if err != nil {
		closeAll(settingsR, settingsW, reportR, reportW)
		return nil, err
	}
	defer ours.Close()
	argv := []string{ExecInitHelper}
	// execSysinfoFD, when there is a line for sysinfo(2);
	// then init's trace pipe, with --trace (c.Trace.FD).
	extra := append([]*os.File{settingsR, reportW, pidfd, theirs}, more...)
	middle := &exec.Cmd{
		Path:        ownFD(extra),
		Args:        argv,
		Env:         []string{nsenter.Env(pidfdFD, socketFD, flags)},
		Stdin:       io.stdin,
		Stdout:      io.stdout,
		Stderr:      io.stderr,
		ExtraFiles:  append(extra, self),
		SysProcAttr: &syscall.SysProcAttr{},
	}
	var child *os.Process
	err = tr.Do("step02", "clone", func() string {
		return strings.Join(argv, " ") + ", whose C constructor joins the namespaces, then forks into the pid namespace"
	},
		func() (err error) { child, err = startMiddle(middle, cg, ours, theirs); return err })
	// The child's ends are the child's alone: the report pipe ends (EOF)
	// when the command's exec closes its last copy.
	closeAll(settingsR, reportW, theirs)
	if err != nil {
		settingsW.Close()
		reportR.Close()
		return nil, err
	}
	if err := sendPlan(plan, settingsW, reportR); err != nil {
		_, _ = child.Wait() // it reported, and ends: reap it
		return nil, err
	}
	return child, nil
}

// startMiddle starts the process whose constructor joins the
// namespaces, in the container's cgroup (cloned into it on v2, moved
// before it may go on, on v1), and returns the child it forked. theirs
// is the socket's end that it is given.
func startMiddle(cmd *exec.Cmd, cg *cgroups.Cgroup, sock, theirs *os.File) (*os.Process, error) {
	if fd, err := cg.IntoFD(); err != nil {
		return nil, err
	} else if fd != nil {
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start boxcraft-exec-init: %w", err)
	}
	// Its end is its own now: if it ends without a word (a helper built
	// without cgo has no constructor to answer), the read below ends too.
	theirs.Close()
	err := cg.Add(cmd.Process.Pid)
	if err == nil {
		_, err = sock.Write([]byte("g"))
	}
	var pid int
	if err == nil {
		pid, err = readChildPid(sock)
	}
	if err != nil {
		_ = cmd.Process.Kill()
	}
	_ = cmd.Wait() // it ends as soon as it has forked
	if err != nil {
		return nil, err
	}
	return os.FindProcess(pid) // a pidfd: the child is ours to wait for
}

// present is f, or nothing if it is nil.
func present(f *os.File) []*os.File {
	if f == nil {
		return nil
	}
	return []*os.File{f}
}

// closeAll closes each file given.
func closeAll(files ...*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// readChildPid reads the constructor's one line: "pid N", or "error …".
func readChildPid(sock *os.File) (int, error) {
	line, err := bufio.NewReader(sock).ReadString('\n')
	if err != nil {
		return 0, errors.New("boxcraft-exec-init ended before it joined the container")
	}
	line = strings.TrimSuffix(line, "\n")
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return 0, errors.New(msg)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(line, "pid "))
	if err != nil {
		return 0, fmt.Errorf("boxcraft-exec-init: %q is not its child's pid", line)
	}
	return pid, nil
}

// socketPair is the constructor's line to boxcraft exec, both ways.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "nsenter"), os.NewFile(uintptr(fds[1]), "nsenter"), nil
}

// openExecStdio gives the command a pty with -t (made in the container,
// as run's), pipes otherwise, as run does, or /dev/null when detached
// (Docker's exec -d drops the output); with no log.
func openExecStdio(p *spec.Process, attach *Attach) (*stdio, error) {
	s := &stdio{attach: attach}
	var err error
	switch {
	case attach == nil:
		s.stdin, err = os.OpenFile(os.DevNull, os.O_RDWR, 0)
		s.stdout, s.stderr = s.stdin, s.stdin
	case p.Terminal:
		err = s.openTerminal(p)
	default:
		err = s.openPipes(p.Stdin)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// wait waits for the command, copies the rest of its output, and
// returns its status.
func (j *joined) wait() (Result, error) {
	waited := make(chan struct{})
	go endOnceCallerGone(j.child, j.io.callerGone, waited)
	st, err := j.child.Wait()
	close(waited)
	j.io.finish()
	if err != nil {
		return Result{}, fmt.Errorf("wait for the command: %w", err)
	}
	ws := st.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return Result{ExitCode: 128 + int(ws.Signal())}, nil
	}
	return Result{ExitCode: ws.ExitStatus()}, nil
}
