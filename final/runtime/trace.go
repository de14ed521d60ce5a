package runtime

import (
	"fmt"
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// monitorTraceFD is where a detached container's monitor writes its
// trace (--trace), after its report pipe (fd 3).
const monitorTraceFD = 4

// traceMonitor adds to extra, the files a detached monitor inherits, a
// pipe for its trace when r traces, and relays what the monitor writes
// there onto r.Trace's writer. relayed is closed once the monitor has
// closed its end (when the command runs, or its start failed); nil when
// not tracing.
func (r *Runtime) traceMonitor(extra []*os.File) ([]*os.File, <-chan struct{}, error) {
	if !r.Trace.Enabled() {
		return extra, nil, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return extra, nil, fmt.Errorf("a pipe for the monitor's trace: %w", err)
	}
	relayed := r.Trace.Relay(pr)
	done := make(chan struct{})
	go func() {
		<-relayed
		pr.Close()
		close(done)
	}()
	return append(extra, pw), done, nil
}

func waitRelay(done <-chan struct{}) {
	if done != nil {
		<-done
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// monitorTracer is a detached monitor's tracer: when its container's
// start is traced, boxcraft run -d gave it a pipe on fd 4 (Detach,
// traceMonitor). nil otherwise, and fd 4 is left alone: it is not ours.
func monitorTracer(dirs state.Dirs, id string) (*trace.Tracer, *os.File) {
	rec, err := dirs.ReadRecord(id)
	var st unix.Stat_t
	if err != nil || rec.Spec.Trace.Mode == "" || unix.Fstat(monitorTraceFD, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return nil, nil
	}
	unix.CloseOnExec(monitorTraceFD) // the monitor's alone: init gets a pipe of its own
	out := os.NewFile(monitorTraceFD, "trace")
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
