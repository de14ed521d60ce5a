package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
)

// StartAgain starts a container that has ended, as docker start does,
// detached: its cgroup and root made again (its upper layer is kept, so
// what it changed is there), a monitor of its own, and its command run
// anew, with its output added to its log. A container that runs is left
// as it is. All of it is done holding the container (holdForStart), so
// that two starts of one container at once make it once; on a failure
// the container is left as it was, stopped.
func (r *Runtime) StartAgain(ctx context.Context, ref string) error {
	unlock, err := r.holdForStart(ref)
	if err != nil {
		return err
	}
	defer unlock()
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
// attach its stdio, and it returns how the container ended. The
// container is held (holdForStart) until the command runs.
func (r *Runtime) StartAttached(ctx context.Context, ref string, attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
	release, err := r.holdForStart(ref)
	if err != nil {
		return monitor.Result{}, err
	}
	unlock := onceUnlock(release)
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

// holdForStart finds the container ref (finishing it first if its
// monitor was killed: Get), then holds it for a start: its run folder,
// so that no other command finishes or removes it meanwhile, then the
// lock of the set of containers, so that two starts at once make it
// once (in this order: a removal's). It returns what lets both go.
func (r *Runtime) holdForStart(ref string) (func(), error) {
	c, err := r.Get(ref)
	if err != nil {
		return nil, err
	}
	folder, err := r.Dirs.HoldForStart(c.ID)
	if err == nil && folder == nil {
		err = fmt.Errorf("%w: %s", state.ErrNoSuchContainer, ref)
	}
	if err != nil {
		return nil, err
	}
	set, err := r.Dirs.Lock()
	if err != nil {
		folder.Unlock()
		return nil, err
	}
	return func() { set.Unlock(); folder.Unlock() }, nil
}

// endedRecord reads the container ref, which holdForStart holds, and
// returns its record once nothing of its last run is left, or running
// when it runs.
func (r *Runtime) endedRecord(ref string) (rec state.Record, running bool, err error) {
	id, err := r.Dirs.Find(ref)
	if err != nil {
		return rec, false, err
	}
	c := r.Read(id)
	if r.Dirs.MonitorAlive(id) {
		switch {
		case c.Status.Status == state.Running:
			return rec, true, nil
		case c.Record.AutoRemove:
			return rec, false, fmt.Errorf("container %s ran with --rm: it is being removed", ref)
		}
		// Its monitor is tearing its last run down (stop returned, or
		// its command has just ended): the root and cgroup are its.
		if !r.waitForMonitor(id, 30*time.Second) {
			return rec, false, fmt.Errorf("container %s: its monitor is still ending its last run", ref)
		}
		c = r.Read(id)
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

// onceUnlock is unlock, which may then be called more than once.
func onceUnlock(unlock func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			unlock()
		}
	}
}
