package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
)

// StartAgain starts a container that has ended, as docker start does,
// detached: its cgroup and root made again (its upper layer is kept, so
// what it changed is there), a monitor of its own, and its command run
// anew, with its output added to its log. A container that runs is left
// as it is. All of it is done under the lock of the set of containers,
// so that two starts of one container at once make it once; on a
// failure the container is left as it was, stopped.
func (r *Runtime) StartAgain(ctx context.Context, ref string) error {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	rec, running, err := r.endedRecord(ref)
	if err != nil || running {
		return err
	}
	m, err := r.StartMonitor(rec.Spec.ID)
	if err != nil {
		return err
	}
	if err := r.makeContainer(ctx, rec); err != nil {
		m.Abandon()
		return errors.Join(err, monitor.Teardown(r.Dirs, r.Extras, rec))
	}
	// The monitor tears down what it started on a failure, and records
	// why; the container stays, as Docker's does.
	return m.handOver()
}

// StartAttached is StartAgain in the foreground (docker start -a): this
// process is the container's monitor, as for run without -d, with
// attach its stdio, and it returns how the container ended. The lock of
// the set of containers is held until the command runs.
func (r *Runtime) StartAttached(ctx context.Context, ref string, attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return monitor.Result{}, err
	}
	unlock := onceUnlock(lock)
	defer unlock()
	rec, running, err := r.endedRecord(ref)
	if err == nil && running {
		err = fmt.Errorf("container %s is running: boxcraft cannot attach to it (logs -f follows its output)", ref)
	}
	if err != nil {
		return monitor.Result{}, err
	}
	if err := r.makeContainer(ctx, rec); err != nil {
		return monitor.Result{}, errors.Join(err, monitor.Teardown(r.Dirs, r.Extras, rec))
	}
	return r.run(rec, attach, func(s monitor.Started) {
		unlock()
		if onStart != nil {
			onStart(s)
		}
	}, false)
}

// endedRecord finds the container ref, under the lock of the set of
// containers, and returns its record once nothing of its last run is
// left, or running when it runs.
func (r *Runtime) endedRecord(ref string) (rec state.Record, running bool, err error) {
	c, err := r.Get(ref)
	if err != nil {
		return rec, false, err
	}
	if r.Dirs.MonitorAlive(c.ID) {
		if c.Status.Status == state.Running {
			return rec, true, nil
		}
		// Its monitor is tearing its last run down (stop returned, or
		// its command has just ended): the root and cgroup are its.
		if !r.waitForMonitor(c.ID, 30*time.Second) {
			return rec, false, fmt.Errorf("container %s: its monitor is still ending its last run", ref)
		}
		if c, err = r.Get(ref); err != nil {
			return rec, false, err
		}
	}
	if c.Broken {
		return rec, false, fmt.Errorf("container %s: its start was cut short, it has no record to start: remove it", ref)
	}
	// A monitor that was killed left what it held (reapOrphan took the
	// cgroup): nothing of the last run may stay under the new one.
	if err := monitor.Teardown(r.Dirs, r.Extras, c.Record); err != nil {
		return rec, false, fmt.Errorf("container %s: what its last run left: %w", ref, err)
	}
	return c.Record, false, nil
}

// onceUnlock is lock's Unlock, which may be called more than once.
func onceUnlock(lock *durable.Lock) func() {
	done := false
	return func() {
		if !done {
			done = true
			lock.Unlock()
		}
	}
}
