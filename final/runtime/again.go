package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
)

// StartAgain starts a container that has ended, or was only created, as
// docker start does, detached: its cgroup and root made again (its upper
// layer is kept, so what it changed is there), a monitor of its own, and
// its command run anew, with its output added to its log. A container
// that runs is left as it is; a paused one is refused. All of it is done holding the container
// (holdForStart), so that two starts of one container at once make it
// once, and no rm or prune takes it meanwhile. On a failure the
// container is left as it was, stopped; a --rm one is removed, as
// Docker removes it.
func (r *Runtime) StartAgain(ctx context.Context, ref string) error {
	id, release, running, err := r.holdForStart(ref)
	if err == nil && running && r.DockerState(r.Read(id)) == Paused {
		return fmt.Errorf("cannot start container %s: it %w: unpause it instead", ref, ErrPaused) // as Docker
	}
	if err != nil || running {
		return err
	}
	defer release()
	rec, err := r.endedRecord(id, ref)
	if err != nil {
		return err
	}
	m, err := r.StartMonitor(rec.Spec.ID)
	if err != nil {
		return err
	}
	if err := r.makeContainer(ctx, rec); err != nil {
		m.Abandon()
		return errors.Join(err, r.failedAgain(rec))
	}
	// The monitor tears down what it started on a failure, and records
	// why.
	if err := m.handOver(); err != nil {
		return errors.Join(err, r.removeIfRm(rec))
	}
	return nil
}

// StartAttached is StartAgain in the foreground (docker start -a): this
// process is the container's monitor, as for run without -d, with
// attach its stdio, and it returns how the container ended. The
// container is held (holdForStart) until the command runs.
func (r *Runtime) StartAttached(ctx context.Context, ref string, attach *monitor.Attach, onStart func(monitor.Started)) (monitor.Result, error) {
	id, release, running, err := r.holdForStart(ref)
	if err == nil && running {
		err = fmt.Errorf("container %s is running: boxcraft cannot attach to it (logs -f follows its output)", ref)
	}
	if err != nil {
		return monitor.Result{}, err
	}
	unlock := onceUnlock(release)
	defer unlock()
	rec, err := r.endedRecord(id, ref)
	if err != nil {
		return monitor.Result{}, err
	}
	if err := r.makeContainer(ctx, rec); err != nil {
		return monitor.Result{}, errors.Join(err, r.failedAgain(rec))
	}
	result, err := r.run(rec, attach, func(s monitor.Started) {
		unlock()
		if onStart != nil {
			onStart(s)
		}
	}, false)
	unlock()
	var refused *StartError
	if errors.As(err, &refused) && rec.AutoRemove {
		err = errors.Join(err, r.Discard(rec.Spec.ID)) // as run removes a new one
	}
	return result, err
}

// holdForStart finds the container ref (finishing it first if its
// monitor was killed: Get), and unless it runs, holds it for a start:
// its run folder (state.HoldEnded), so that no other command starts,
// finishes or removes it meanwhile, then the lock of the set of
// containers (in this order: a removal's). It returns the container's
// ID, held, and what lets both go.
func (r *Runtime) holdForStart(ref string) (id string, release func(), running bool, err error) {
	c, err := r.Get(ref)
	if err != nil {
		return "", nil, false, err
	}
	// Before the hold: a wait holds a running container's folder until
	// it ends.
	if c.Status.Status == state.Running && r.Dirs.MonitorAlive(c.ID) {
		return c.ID, nil, true, nil
	}
	folder, err := r.Dirs.HoldEnded(c.ID)
	if errors.Is(err, state.ErrStarted) {
		return c.ID, nil, true, nil // another start won
	}
	if err == nil && folder == nil {
		err = fmt.Errorf("%w: %s", state.ErrNoSuchContainer, ref)
	}
	if err != nil {
		return "", nil, false, err
	}
	set, err := r.Dirs.Lock()
	if err != nil {
		folder.Unlock()
		return "", nil, false, err
	}
	release = func() { set.Unlock(); folder.Unlock() }
	if r.Dirs.MonitorAlive(c.ID) && r.Read(c.ID).Status.Status == state.Running {
		release() // another start won
		return c.ID, nil, true, nil
	}
	return c.ID, release, false, nil
}

// endedRecord reads container id (ref, as the user named it), which
// holdForStart holds, and returns its record once nothing of its last
// run is left.
func (r *Runtime) endedRecord(id, ref string) (state.Record, error) {
	c := r.Read(id)
	if beingMade(c) || (c.Status.Status == state.Created && r.Dirs.MonitorAlive(id)) {
		return state.Record{}, fmt.Errorf("container %s is being started by another command", ref)
	}
	if r.Dirs.MonitorAlive(id) {
		if c.Record.AutoRemove {
			return state.Record{}, fmt.Errorf("container %s ran with --rm: it is being removed", ref)
		}
		// Its monitor is tearing its last run down (stop returned, or
		// its command has just ended): the root and cgroup are its.
		if !r.waitForMonitor(id, 30*time.Second) {
			return state.Record{}, fmt.Errorf("container %s: its monitor is still ending its last run", ref)
		}
		c = r.Read(id)
	}
	if c.Broken {
		return state.Record{}, fmt.Errorf("container %s: its start was cut short, it has no record to start: remove it", ref)
	}
	// A monitor that was killed left what it held: nothing of the last
	// run may stay under the new one.
	if err := monitor.Teardown(r.Dirs, r.Extras, c.Record); err != nil {
		return state.Record{}, fmt.Errorf("container %s: what its last run left: %w", ref, err)
	}
	return c.Record, nil
}

// beingMade says whether container c is one that run is still making
// (its record written, its monitor not running yet): Created, neither
// made by create nor left by a start that failed.
func beingMade(c Container) bool {
	return !c.Broken && c.Status.Status == state.Created && !c.Record.CreatedOnly && c.Status.Error == ""
}

// failedAgain undoes what a start again made before its monitor ran,
// and removes a --rm container.
func (r *Runtime) failedAgain(rec state.Record) error {
	return errors.Join(monitor.Teardown(r.Dirs, r.Extras, rec), r.removeIfRm(rec))
}

// removeIfRm removes the folders of a --rm container whose start
// failed, as Docker removes it (its volatile upper layer could not be
// mounted again). Its caller holds the lock of the set of containers.
func (r *Runtime) removeIfRm(rec state.Record) error {
	if !rec.AutoRemove {
		return nil
	}
	return r.Dirs.RemoveContainer(rec.Spec.ID)
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
