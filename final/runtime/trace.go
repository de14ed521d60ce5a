package runtime

import (
	"fmt"
	"os"
)

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
