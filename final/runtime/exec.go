package runtime

import (
	"fmt"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
)

// Exec runs p in container c, which must be running: in its namespaces
// and cgroup, with its settings (monitor.Exec). With attach nil, p is
// detached and Exec returns once it runs; otherwise Exec waits for it
// and returns how it ended. onStart is called once p runs. A command
// that cannot start is a *StartError (126, 127, or 125).
func (r *Runtime) Exec(c Container, p spec.Process, attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
	if c.Status.Status != state.Running {
		return monitor.Result{}, &StartError{Status: 125, Err: fmt.Errorf("container %s %w", c.Record.Spec.Name, ErrNotRunning)}
	}
	if !r.Thawed(c) { // its process would join the frozen cgroup, and wait there
		return monitor.Result{}, &StartError{Status: 125, Err: fmt.Errorf("container %s %w: unpause it before exec", c.Record.Spec.Name, ErrPaused)}
	}
	var startErr error
	result, err := monitor.Exec(r.Dirs, c.Record, c.Status.Pid, p, attach, r.Trace, func(s monitor.Started, err error) {
		if startErr = err; err == nil && onStart != nil {
			onStart(s)
		}
	})
	if startErr != nil {
		return result, startError(startErr)
	}
	return result, err
}
