package monitor

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// MonitorHelper is the program that serves a detached container when it
// is beside boxcraft (final/cmd/boxcraft-monitor): this package and the
// state alone, so that each detached container's one extra process
// neither starts nor maps boxcraft's registry and build code (issue 26:
// its RSS). Without it, boxcraft serves (`boxcraft monitor ID`).
const MonitorHelper = "boxcraft-monitor"

// Report is what a detached container's monitor tells the boxcraft that
// started it, on an inherited pipe (ReportFD): that the command runs, or
// why it does not, with Docker's exit status for that.
type Report struct {
	Pid    int    `json:"pid,omitempty"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ReportFD is the descriptor the monitor writes its Report on.
const ReportFD = 3

// GoFD is the pipe on which the monitor waits for Go, one byte, before
// it does anything: boxcraft run -d starts it before it makes the
// container, so that the monitor's own start (a Go program's) overlaps
// that work (issue 26), and writes Go once the container is made. The
// pipe's end without it (the container could not be made, or boxcraft
// ended) ends the monitor, which has done nothing.
const GoFD = 4

// Go is what boxcraft run -d writes on GoFD once the container is made.
const Go = 'g'

// TraceFD is where a detached container's monitor writes its trace
// (--trace), after its report and Go pipes: boxcraft run -d relays it.
const TraceFD = 5

// ErrNotMade is the monitor's end when its container was not made.
var ErrNotMade = errors.New("the container was not made: the monitor has nothing to serve")

// waitForGo waits until boxcraft has made the container.
func waitForGo() error {
	goPipe := os.NewFile(GoFD, "go")
	defer goPipe.Close() // init inherits none of the monitor's pipes
	var b [1]byte
	if n, _ := goPipe.Read(b[:]); n != 1 || b[0] != Go {
		return ErrNotMade
	}
	return nil
}

// Serve is the monitor process of a detached container: it holds the
// container's monitor lock for as long as it lives, starts the
// container, reports on ReportFD, waits, and with --rm removes the
// container once it has ended. x are the extras the program has (its
// bridge, its /proc views).
func Serve(dirs state.Dirs, x Extras, id string) error {
	report := os.NewFile(ReportFD, "report")
	if report == nil {
		return errors.New("boxcraft monitor is started by boxcraft run -d, not by hand")
	}
	if err := waitForGo(); err != nil {
		report.Close()
		return err
	}
	lock, err := dirs.HoldMonitorLock(id)
	if err != nil {
		_ = json.NewEncoder(report).Encode(Report{Status: 125, Error: err.Error()})
		return err
	}
	defer lock.Unlock()
	rec, err := dirs.ReadRecord(id)
	if err != nil {
		_ = json.NewEncoder(report).Encode(Report{Status: 125, Error: err.Error()})
		return err
	}
	tr, traceOut := monitorTracer(rec)
	var startErr error
	_, err = Run(dirs, x, rec, nil, tr, func(s Started, err error) {
		closeTrace(tr, traceOut) // before the report: the caller's relay ends first
		msg := Report{Pid: s.Pid}
		if startErr = err; err != nil {
			msg = Report{Status: StartStatus(err), Error: err.Error()}
		}
		_ = json.NewEncoder(report).Encode(msg)
		report.Close()
	})
	// Under the monitor's lock: a restart takes its mark away as soon as
	// its stop has seen this monitor end.
	if startErr == nil && rec.AutoRemove && !dirs.Restarting(id) { // kept for a restart's start
		lock.Unlock()
		if err == nil {
			err = RemoveEnded(dirs, id) // Run tore it down
		} else {
			err = errors.Join(err, RemoveContainer(dirs, x, id))
		}
	}
	return err
}

// StartStatus is Docker's exit status for a container that could not
// start: init's (126 cannot run, 127 not found), or 125.
func StartStatus(err error) int {
	var failure *containerinit.Failure
	if errors.As(err, &failure) {
		return failure.Status
	}
	return 125
}

// RemoveContainer removes what a container left on the host (Teardown)
// and its folders, under the lock of the set of containers.
func RemoveContainer(dirs state.Dirs, x Extras, id string) error {
	rec, err := dirs.ReadRecord(id)
	if err == nil {
		err = Teardown(dirs, x, rec)
	} else {
		err = nil // a start cut short before its record: only folders
	}
	return errors.Join(err, RemoveFolders(dirs, id))
}

// RemoveEnded removes the folders of a --rm container that has ended and
// that Run tore down, once every wait that watched its end has read its
// status (state.HoldForRemoval): docker wait prints a --rm container's
// exit status, and then the container is gone.
func RemoveEnded(dirs state.Dirs, id string) error {
	hold, err := dirs.HoldForRemoval(id)
	if err != nil {
		return err
	}
	defer hold.Unlock()
	return RemoveFolders(dirs, id)
}

// RemoveFolders removes a container's folders, under the lock of the set
// of containers: RemoveContainer once Teardown is done (Run's).
func RemoveFolders(dirs state.Dirs, id string) error {
	lock, lockErr := dirs.Lock()
	if lockErr != nil {
		return lockErr
	}
	defer lock.Unlock()
	return dirs.RemoveContainer(id)
}

// monitorTracer is a detached monitor's tracer: when its container's
// start is traced, boxcraft run -d gave it a pipe on fd 5 (TraceFD:
// StartMonitor, traceMonitor). nil otherwise, and fd 5 is left alone: it
// is not ours.
func monitorTracer(rec state.Record) (*trace.Tracer, *os.File) {
	var st unix.Stat_t
	if rec.Spec.Trace.Mode == "" || unix.Fstat(TraceFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, nil
	}
	unix.CloseOnExec(TraceFD) // the monitor's alone: init gets a pipe of its own
	out := os.NewFile(TraceFD, "trace")
	return trace.New(out, rec.Spec.Trace.Mode, trace.Monitor, time.Unix(0, rec.Spec.Trace.Origin)), out
}

// closeTrace ends a detached monitor's trace: nothing is written after
// the command runs, and the closed pipe ends boxcraft run -d's relay.
func closeTrace(tr *trace.Tracer, out *os.File) {
	if tr == nil {
		return
	}
	tr.Close()
	out.Close()
}
