package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/state"
)

// StartError is a container that could not start: Status is Docker's
// exit status for it (126 cannot run, 127 not found, 125 the rest).
type StartError struct {
	Status int
	Err    error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

func startError(err error) error {
	var failure *containerinit.Failure
	if errors.As(err, &failure) {
		return &StartError{Status: failure.Status, Err: failure}
	}
	return &StartError{Status: 125, Err: err}
}

// Run starts a created container, whose record Create returned, in the
// foreground: this process is its monitor, attach its stdio, and onStart
// is called once the command runs (for the terminal's size and signals).
// It returns how the container ended; with --rm the container is gone by
// then.
func (r *Runtime) Run(rec state.Record, attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
	return r.run(rec, attach, onStart, true)
}

// run is Run; a container that cannot start is removed when new, and
// otherwise (started again: StartAttached) left as it was.
func (r *Runtime) run(rec state.Record, attach *monitor.Attach, onStart func(monitor.Started), isNew bool) (monitor.Result, error) {
	id := rec.Spec.ID
	lock, err := r.Dirs.HoldMonitorLock(id)
	if err != nil {
		return monitor.Result{}, err
	}
	var startErr error
	result, err := monitor.Run(r.Dirs, r.Extras, rec, attach, r.Trace, func(s monitor.Started, err error) {
		if startErr = err; err == nil && onStart != nil {
			onStart(s)
		}
	})
	// Read before the monitor's lock goes: a restart takes its mark away
	// as soon as its stop has seen this monitor end.
	remove := rec.AutoRemove && !r.Dirs.Restarting(id)
	lock.Unlock()
	if startErr != nil && !isNew {
		return result, startError(startErr) // torn down by monitor.Run
	}
	if startErr != nil {
		// A command that cannot start is refused, and a refusal leaves
		// nothing behind (Docker would keep the container, Created).
		return result, errors.Join(startError(startErr), r.Discard(id))
	}
	if remove { // not when a restart keeps it for its start
		if err == nil {
			// monitor.Run tore it down: the folders are what is left.
			err = monitor.RemoveEnded(r.Dirs, id)
		} else {
			err = errors.Join(err, r.Discard(id))
		}
	}
	return result, err
}

// Monitor is a detached container's monitor process, started before
// its container is made (StartMonitor): its own start, a Go program's,
// then overlaps the making (issue 26). It waits for Detach, or Abandon.
type Monitor struct {
	id      string
	goPipe  *os.File // monitor.GoFD's other end
	report  *os.File // monitor.ReportFD's other end
	relayed <-chan struct{}
}

// StartMonitor starts the monitor of container id, which is not made
// yet. The monitor is boxcraft-monitor (or boxcraft itself), in a
// session of its own (no terminal's hang-up or Ctrl-C reaches it), with
// /dev/null as its stdio: the container's output goes to the log.
func (r *Runtime) StartMonitor(id string) (*Monitor, error) {
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		closeFiles([]*os.File{reportR, reportW})
		return nil, err
	}
	extra, relayed, err := r.traceMonitor([]*os.File{reportW, goR})
	if err != nil {
		closeFiles([]*os.File{reportR, reportW, goR, goW})
		return nil, startError(err)
	}
	path, args := monitorProgram(id)
	cmd := &exec.Cmd{
		Path:        path,
		Args:        args,
		Env:         monitorEnv(),
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	closeFiles(extra)
	if err != nil {
		closeFiles([]*os.File{reportR, goW})
		waitRelay(relayed)
		return nil, startError(fmt.Errorf("start the container's monitor: %w", err))
	}
	go func() { _ = cmd.Wait() }() // reaped if it ends while we wait; otherwise init adopts it
	return &Monitor{id: id, goPipe: goW, report: reportR, relayed: relayed}, nil
}

// Abandon ends a monitor whose container could not be made: the end of
// its Go pipe ends it, and it has done nothing.
func (m *Monitor) Abandon() {
	closeFiles([]*os.File{m.goPipe, m.report})
	waitRelay(m.relayed)
}

// errMonitorEnded is Detach's failure when the monitor is gone before
// it reported the container's start.
var errMonitorEnded = errors.New("the container's monitor ended before the container started")

// Detach hands the created container to its monitor (StartMonitor), and
// returns once the command runs: boxcraft run -d then prints the ID and
// exits, and the monitor waits for the container.
func (r *Runtime) Detach(m *Monitor) error {
	err := m.handOver()
	if err != nil {
		_ = r.Discard(m.id) // as in the foreground: a refusal leaves nothing
	}
	return err
}

// handOver tells the monitor that its container is made, and returns
// once the command runs, or with why it does not.
func (m *Monitor) handOver() error {
	defer m.report.Close()
	defer waitRelay(m.relayed) // the monitor's lines, init's among them, until the command runs
	_, err := m.goPipe.Write([]byte{monitor.Go})
	m.goPipe.Close()
	if err != nil {
		return startError(errMonitorEnded)
	}
	var report monitor.Report
	if err := json.NewDecoder(m.report).Decode(&report); err != nil {
		if errors.Is(err, io.EOF) {
			err = errMonitorEnded
		}
		return startError(err)
	}
	if report.Error != "" {
		return &StartError{Status: report.Status, Err: errors.New(report.Error)}
	}
	return nil
}

// monitorProgram is the monitor to start for container id, and its
// argv: boxcraft-monitor beside boxcraft, else boxcraft itself.
func monitorProgram(id string) (string, []string) {
	if path := security.Helper(monitor.MonitorHelper); path != "" {
		return path, []string{monitor.MonitorHelper, id}
	}
	return "/proc/self/exe", []string{"boxcraft", "monitor", id}
}

// monitorEnv is what the monitor keeps of boxcraft's environment: where
// its state is. GOMAXPROCS=1: it waits, copies and writes a log, and one
// processor for Go's scheduler costs it less memory (make bench measured
// 230 KiB less RSS).
func monitorEnv() []string {
	env := []string{"GOMAXPROCS=1"}
	for _, name := range []string{"BOXCRAFT_STATE_DIR", "PATH"} {
		if value, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+value)
		}
	}
	return env
}

// ServeMonitor is the monitor process of a detached container
// (boxcraft monitor ID), when no boxcraft-monitor is beside boxcraft
// (monitor.Serve).
func (r *Runtime) ServeMonitor(id string) error {
	return monitor.Serve(r.Dirs, r.Extras, id)
}
