// Package monitor is what waits for a container: it starts the
// container's init in new namespaces and its cgroup, holds its stdio,
// writes its output to the log, reaps it, records its exit status and
// whether the OOM killer ended it, and tears down its cgroup and root.
// It plays conmon's part: for a detached container it runs as a small
// process of its own (`boxcraft` re-executed), and boxcraft itself exits;
// for a container in the foreground, boxcraft runs it in its own process.
//
// The start is step02's clone and step03's CLONE_INTO_CGROUP, done once
// for every container; the settings reach init as one JSON value on a
// pipe (containerinit). What only boxcraft's own containers ask for, a
// place on the bridge and a /proc view, the caller hands in (Extras,
// made by final/extras): boxcraft-runc hands in none, and links neither.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// Attach is the terminal or streams of a container run in the
// foreground. A detached container has none.
type Attach struct {
	Stdin          io.Reader // with -i
	Stdout, Stderr io.Writer
	// Terminal is the caller's terminal, with -t: the container's pty
	// takes its window size before the command starts.
	Terminal *os.File
}

// Started is what the caller learns once the command runs.
type Started struct {
	Pid    int
	Master *os.File // the pty's master, with -t: for its window size
}

// Result is how the container ended.
type Result struct {
	ExitCode  int
	OOMKilled bool
}

// Run starts the container dirs holds, whose record is rec (its caller
// has it: read once per start, issue 26), and waits for it to end.
// started is called once, when the command has started (err nil) or
// could not (a *containerinit.Failure, or another error). Run returns
// once the container has ended and its cgroup and root are gone. Each
// step of the start is reported to tr (--trace; nil when not traced),
// init's relayed, until the command runs. x are the extras the program
// has (its bridge, its /proc views).
func Run(dirs state.Dirs, x Extras, rec state.Record, attach *Attach, tr *trace.Tracer, started func(Started, error)) (Result, error) {
	type ended struct {
		result Result
		err    error
	}
	tr = tr.As(trace.Monitor) // in boxcraft's own process, or a monitor's
	done := make(chan ended)
	go func() {
		result, err := onOwnThread(dirs, x, rec, attach, tr, started)
		done <- ended{result, err}
	}()
	e := <-done
	return e.result, errors.Join(e.err, Teardown(dirs, x, rec))
}

// onOwnThread starts the container and waits for it, on a thread of its
// own that ends with it: the goroutine locks its thread and never
// unlocks it, so Go ends the thread when the goroutine returns. Three
// things the container inherits are the thread's, not the process's:
//   - its working folder, once unshare(CLONE_FS) has given the thread one
//     of its own: init starts in its root folder, which its root user
//     in a user namespace might not be allowed to walk to (the state
//     folder is the host root's alone), and the rest of boxcraft keeps
//     its own working folder;
//   - its session keyring (joinNewSessionKeyring);
//   - its parent, for Pdeathsig: the kernel kills init when the thread
//     that started it ends, not the process.
func onOwnThread(dirs state.Dirs, x Extras, rec state.Record, attach *Attach, tr *trace.Tracer, started func(Started, error)) (Result, error) {
	runtime.LockOSThread()
	c, id := &rec.Spec, rec.Spec.ID
	proc, err := start(c, dirs, x, attach, tr)
	if err != nil {
		_ = dirs.WriteStatus(id, state.Status{Status: state.Created, Error: err.Error()})
		_ = Teardown(dirs, x, rec)
		started(Started{}, err)
		return Result{}, err
	}
	status := state.Status{Status: state.Running, Pid: proc.cmd.Process.Pid, MonitorPid: os.Getpid(), StartedAt: time.Now().UTC()}
	if err := dirs.WriteStatus(id, status); err != nil {
		_ = proc.cmd.Process.Kill()
	}
	started(Started{Pid: proc.cmd.Process.Pid, Master: proc.master}, nil)
	result := proc.wait()
	status.Status, status.ExitCode, status.OOMKilled = state.Exited, result.ExitCode, result.OOMKilled
	status.FinishedAt = time.Now().UTC()
	return result, dirs.WriteStatus(id, status)
}

// enterRoot gives the thread a working folder of its own, the
// container's root folder, for init to inherit.
func enterRoot(dir string) error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare the working folder: %w", err)
	}
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("enter the container's root %s: %w", dir, err)
	}
	return nil
}

// process is a started container.
type process struct {
	cmd    *exec.Cmd
	cgroup *cgroups.Cgroup
	master *os.File
	io     *stdio
	view   ProcView // nil with --proc=host
	extras Extras
	tr     *trace.Tracer
}

// start clones init into the container's namespaces and cgroup, hands it
// the settings, and waits until it has become the command or failed.
func start(c *spec.Container, dirs state.Dirs, x Extras, attach *Attach, tr *trace.Tracer) (*process, error) {
	if err := x.refuseMissing(c); err != nil {
		return nil, err
	}
	cg, err := openCgroup(c)
	if err != nil {
		return nil, err
	}
	io, err := openStdio(c, dirs, attach)
	if err != nil {
		return nil, err
	}
	trees, err := bindTrees(c)
	if err != nil {
		io.close()
		return nil, err
	}
	view, err := x.serveProcView(c, dirs, cg)
	if err != nil {
		closeAll(trees...)
		io.close()
		return nil, err
	}
	if view != nil {
		trees = append(trees, view.InitEnd()) // containerinit.ProcViewFD
	}
	trees = passConsole(c, io, trees)
	cmd, settings, report, relayed, err := cloneInit(c, dirs, cg, io, trees, tr)
	closeAll(trees...) // init has them, or failed to start
	if err != nil {
		closeView(view)
		io.close()
		return nil, err
	}
	p := &process{cmd: cmd, cgroup: cg, io: io, view: view, extras: x, tr: tr}
	err = p.handOver(c, dirs, settings, report)
	if err == nil {
		err = io.receiveMaster()
		p.master = io.master
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	waitRelay(relayed) // init has exec'd or ended: its last line is in
	if err == nil {
		tr.Mark("step01", "execve done", func() string { return "init is the command now: its report pipe closed on exec, empty" })
	}
	if err != nil {
		var failure *containerinit.Failure
		tr.EndOnCause(errors.As(err, &failure)) // init's own report: its line is the cause
		closeView(view)
		io.close()
		return nil, err
	}
	if view != nil {
		view.AnswerSysinfo()
	}
	io.startCopying()
	return p, nil
}

// openCgroup opens the container's cgroup, which the lifecycle made.
func openCgroup(c *spec.Container) (*cgroups.Cgroup, error) {
	return cgroups.Open(c.CgroupParent, c.CgroupName())
}

// newInit starts `boxcraft init` in the new namespaces. Its settings pipe
// is fd 3, its report pipe fd 4, the bind trees from fd 5 on
// (containerinit).
func newInit(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup, io *stdio, trees []*os.File) (*exec.Cmd, *os.File, *os.File, error) {
	// boxcraft-init (or boxcraft itself), whatever its path, read-only:
	// the container never reaches the binary on the host's disk
	// (CVE-2019-5736).
	self, args, err := initProgram()
	if err != nil {
		return nil, nil, nil, err
	}
	defer self.Close()
	settingsR, settingsW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		settingsR.Close()
		settingsW.Close()
		return nil, nil, nil, err
	}
	defer settingsR.Close()
	defer reportW.Close()
	extra := append([]*os.File{settingsR, reportW}, trees...)
	cmd := &exec.Cmd{
		Path:        ownFD(extra),
		Args:        args,
		Env:         []string{},
		Stdin:       io.stdin,
		Stdout:      io.stdout,
		Stderr:      io.stderr,
		ExtraFiles:  append(extra, self),
		SysProcAttr: sysProcAttr(c),
	}
	if fd, err := cg.IntoFD(); err != nil {
		return nil, nil, nil, err
	} else if fd != nil {
		defer fd.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
	if err := joinNewSessionKeyring(); err != nil {
		return nil, nil, nil, err
	}
	if err := enterOCINamespaces(c); err != nil {
		return nil, nil, nil, err
	}
	if err := enterRoot(c.Root.Path); err != nil {
		return nil, nil, nil, err
	}
	if err := joinNetwork(c, dirs); err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		settingsW.Close()
		reportR.Close()
		return nil, nil, nil, fmt.Errorf("start the container's init: %w", err)
	}
	return cmd, settingsW, reportR, nil
}

// handOver hands init its settings, then puts it in the cgroup where
// clone could not (v1) and connects its network namespace to the bridge
// (Extras.Bridge) while init sets the root up, then tells init that it is
// in its cgroup (containerinit.InCgroup), and reads its report: an end
// of file means that the report pipe closed on exec, and the command
// runs. On cgroup v1 the move waits for an RCU grace period (about 7 ms)
// that init's mounts now overlap (issue 26).
func (p *process) handOver(c *spec.Container, dirs state.Dirs, settings, report *os.File) error {
	p.tr.Mark("final/spec", "write settings", func() string { return "spec.Container as JSON on init's fd 3; init sets its root up meanwhile" })
	err := writeSettings(forInit(c), settings)
	if err == nil && p.view != nil {
		err = p.view.SendMounts()
	}
	if err == nil {
		pid := p.cmd.Process.Pid
		err = p.tr.Do("step03", "write", func() string { return fmt.Sprintf("cgroup.procs = %d  (init joins %s)", pid, p.cgroup.Describe()) },
			func() error { return p.cgroup.Add(pid) })
		if err != nil {
			err = fmt.Errorf("hand the settings to init: %w", err)
		}
	}
	if err == nil {
		err = p.extras.attach(c, dirs, p.cmd.Process.Pid, p.tr)
	}
	if err == nil {
		err = raiseHardLimits(p.cmd.Process.Pid, c.Process.Rlimits)
	}
	if err != nil {
		return p.abandon(settings, report, err)
	}
	return finishSettings(settings, report)
}

// abandon ends an init that the monitor could not finish handing over
// to, and returns init's own report if it failed first (its failure is
// then the cause: a move into the cgroup of a process that has ended
// fails too), otherwise err. init is killed first: it may be waiting
// for what the monitor will not send.
func (p *process) abandon(settings, report *os.File, err error) error {
	_ = p.cmd.Process.Kill()
	settings.Close()
	defer report.Close()
	var failure containerinit.Failure
	if json.NewDecoder(report).Decode(&failure) == nil && !failure.Waiting {
		return &failure
	}
	return err
}

// finishSettings tells init that it is in its cgroup, closes the
// settings pipe, and reads init's report (readReport).
func finishSettings(settings, report *os.File) error {
	_, writeErr := settings.Write([]byte{containerinit.InCgroup})
	settings.Close()
	return readReport(report, writeErr)
}

// sendPlan hands exec-init's child its plan (execPlan), whole: the end
// of the pipe ends it. Then it reads the child's report.
func sendPlan(plan []byte, settings, report *os.File) error {
	_, writeErr := settings.Write(plan)
	settings.Close()
	return readReport(report, writeErr)
}

// readReport reads init's (or exec-init's) report: an end of file means
// that the report pipe closed on exec, and the command runs. A write
// that failed (writeErr) found init ended: its report says why.
func readReport(report *os.File, writeErr error) error {
	defer report.Close()
	var failure containerinit.Failure
	switch err := json.NewDecoder(report).Decode(&failure); {
	case errors.Is(err, io.EOF) && writeErr != nil:
		return fmt.Errorf("hand the settings to init: %w", writeErr)
	case errors.Is(err, io.EOF), err == nil && failure.Waiting:
		return nil // the command runs, or (an OCI create) init waits for start
	case err != nil:
		return fmt.Errorf("read init's report: %w", err)
	}
	return &failure
}

// wait copies the container's output until it ends, reaps it, and reads
// from its cgroup whether the OOM killer ended it.
func (p *process) wait() Result {
	waited, ended := make(chan struct{}), make(chan bool, 1)
	go func() { ended <- endOnceCallerGone(p.cmd.Process, p.io.callerGone, waited) }()
	_ = p.cmd.Wait() // a non-zero exit is an error to os/exec; the status says all
	close(waited)
	endedByMonitor := <-ended
	p.io.finish()
	closeView(p.view)
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	r := Result{ExitCode: ws.ExitStatus()}
	if ws.Signaled() {
		r.ExitCode = 128 + int(ws.Signal())
	}
	r.OOMKilled = r.ExitCode == 128+int(unix.SIGKILL) && !endedByMonitor && p.cgroup.OOMKills() > 0
	return r
}

// joinNewSessionKeyring gives the thread, and so the container, a new
// anonymous session keyring, as runc's init does: keys that the caller's
// session holds (a login's, a secret agent's) stay out of reach (step01).
func joinNewSessionKeyring() error {
	// A NULL name: a new anonymous keyring (x/sys's wrapper passes a
	// pointer, even to "").
	_, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if errno != 0 && errno != unix.ENOSYS {
		return fmt.Errorf("join a new session keyring: %w", errno)
	}
	return nil
}

// ownFD is the path, in the child, of the file passed after extra:
// /proc/self/fd/N, N its number there. Passed as one of the child's
// files, its number is fixed: an inherited descriptor the child is not
// given may be overwritten by the ones it is (Go moves them above every
// descriptor it passes). init closes it with every other before its
// command runs (closeInheritedFiles).
func ownFD(extra []*os.File) string { return fmt.Sprintf("/proc/self/fd/%d", 3+len(extra)) }
