package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// ErrNotRunning: the container is not running.
var ErrNotRunning = errors.New("is not running")

// Kill sends sig to the container's first process, and thaws it if it
// is paused, so that it takes the signal.
func (r *Runtime) Kill(c Container, sig unix.Signal) error {
	if c.Status.Status != state.Running {
		return fmt.Errorf("container %s %w", c.Record.Spec.Name, ErrNotRunning)
	}
	if err := unix.Kill(c.Status.Pid, sig); err != nil && err != unix.ESRCH {
		return fmt.Errorf("kill container %s: %w", c.Record.Spec.Name, err)
	}
	return r.thawAfterSignal(c)
}

// Stop asks the container to stop with SIGTERM, and after timeout
// ends it with SIGKILL, as docker stop does. Its monitor tears it down;
// Stop returns once that is done. A container that is not running is
// already stopped.
func (r *Runtime) Stop(c Container, timeout time.Duration) error {
	if c.Status.Status != state.Running {
		return nil
	}
	_ = r.Kill(c, unix.SIGTERM)
	if r.waitForMonitor(c.ID, timeout) {
		return nil
	}
	if err := r.killAll(c); err != nil {
		return err
	}
	if !r.waitForMonitor(c.ID, 30*time.Second) {
		return fmt.Errorf("container %s did not stop", c.Record.Spec.Name)
	}
	return nil
}

// Restart stops the container, as Stop does, then starts it again
// (StartAgain), as docker restart does. A --rm container is kept across
// the stop: its monitor, which removes it when it ends, finds the mark
// that the restart leaves in its run folder (state.MarkRestarting), and
// the --rm holds again for the run that follows.
func (r *Runtime) Restart(ctx context.Context, c Container, timeout time.Duration) error {
	if c.Record.AutoRemove {
		if err := r.Dirs.MarkRestarting(c.ID); err != nil {
			return fmt.Errorf("restart container %s: %w", c.Record.Spec.Name, err)
		}
	}
	err := r.Stop(c, timeout)
	// The monitor that ended has read the mark: the next run's must not
	// (its container may end at once, and is to be removed then).
	r.Dirs.UnmarkRestarting(c.ID)
	if err != nil {
		return err
	}
	return r.StartAgain(ctx, c.ID)
}

// killAll ends the container with SIGKILL: its first process, which in a
// pid namespace takes every other with it. (Without one, what it left
// running is killed when its monitor removes its cgroup.)
func (r *Runtime) killAll(c Container) error {
	err := r.Kill(c, unix.SIGKILL)
	if errors.Is(err, ErrNotRunning) {
		return nil
	}
	return err
}

// waitForMonitor waits until the container's monitor has gone, and says
// whether it did within timeout.
func (r *Runtime) waitForMonitor(id string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for r.Dirs.MonitorAlive(id) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Wait waits for the container to end and returns its exit status. It
// watches the container's end (state.WatchEnd): a --rm container's
// monitor removes it only once Wait has read its status, as docker wait
// prints a --rm container's status. When the monitor was killed, the
// container was killed with it (137), and Wait then finishes what the
// monitor left, as the next command to look at it would (lifecycle's
// finishOrphan): with --rm, it is gone once Wait returns.
func (r *Runtime) Wait(c Container) (int, error) {
	watch, err := r.Dirs.WatchEnd(c.ID)
	if err != nil {
		return 0, err
	}
	r.waitForMonitor(c.ID, 100*365*24*time.Hour)
	s, err := r.Dirs.ReadStatus(c.ID)
	watch.Unlock() // before the finish below, which locks the folder itself
	if err != nil {
		return 0, err
	}
	if s.Error == state.MonitorGone {
		_, _ = r.GetID(c.ID) // finishes it; removed, with --rm
	}
	return s.ExitCode, nil
}

// ErrRunning: rm without -f of a running container.
var ErrRunning = errors.New("is running")

// Remove removes a container that is not running; with force, it kills
// it first, as docker rm -f does.
func (r *Runtime) Remove(c Container, force bool) error {
	for range 3 { // a start again may win each time: rm -f ends it again
		if c.Status.Status == state.Running || r.Dirs.MonitorAlive(c.ID) {
			if !force && r.DockerState(c) == Paused {
				return fmt.Errorf("cannot remove container %s: it %w: unpause and stop it first, or rm -f", c.Record.Spec.Name, ErrPaused)
			}
			if !force {
				return fmt.Errorf("cannot remove container %s: it %w: stop it first, or rm -f", c.Record.Spec.Name, ErrRunning)
			}
			if err := r.killAll(c); err != nil {
				return err
			}
			if !r.waitForMonitor(c.ID, 30*time.Second) {
				return fmt.Errorf("container %s did not stop", c.Record.Spec.Name)
			}
		}
		err := r.discardEnded(c)
		if !errors.Is(err, ErrRunning) {
			return err
		}
		c.Status.Status = state.Running
	}
	return fmt.Errorf("cannot remove container %s: it is started again each time", c.Record.Spec.Name)
}

// discardEnded removes container c, which has ended, holding it
// (holdEnded): a start of it waits until it is gone, and one that won
// the race runs it, which is left running (ErrRunning).
func (r *Runtime) discardEnded(c Container) error {
	hold, err := r.holdEnded(c.ID)
	if errors.Is(err, state.ErrStarted) {
		return fmt.Errorf("cannot remove container %s: it %w (started again meanwhile)", c.Record.Spec.Name, ErrRunning)
	}
	if err != nil {
		return err
	}
	if hold == nil { // no run folder: removed already, or a start cut short
		return r.Dirs.RemoveCutShort(c.ID)
	}
	defer hold.Unlock()
	return r.Discard(c.ID)
}

// holdEnded holds container id (state.HoldEnded) once it has ended and
// no start has won meanwhile (state.ErrStarted when one has, its monitor
// running). nil, and no error, when it is gone.
func (r *Runtime) holdEnded(id string) (*durable.Lock, error) {
	hold, err := r.Dirs.HoldEnded(id)
	if err == nil && hold != nil && r.Dirs.MonitorAlive(id) {
		hold.Unlock()
		return nil, state.ErrStarted
	}
	return hold, err
}

// Prune removes every container that is not running, and returns their
// IDs.
func (r *Runtime) Prune() ([]string, error) {
	list, err := r.List()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, c := range list {
		if c.Status.Status == state.Running || r.Dirs.MonitorAlive(c.ID) {
			continue // running, or starting
		}
		if err := r.discardEnded(c); errors.Is(err, ErrRunning) {
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.ID)
	}
	return removed, errors.Join(errs...)
}
