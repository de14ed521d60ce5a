package lifecycle

import (
	"fmt"
	"time"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
)

// finishOrphan does for container c, whose monitor was killed (ps,
// inspect, rm, wait or any command that looks at it found its lock
// free and its status still running), what the monitor would have done
// once it ended: Docker's daemon outlives its clients, and boxcraft has
// none, so the next boxcraft to look plays its part. The kernel killed
// the first process with the monitor (Pdeathsig), but not always what
// that process left, nor, in a start cut short at the wrong moment, the
// process itself; its cgroup, root overlay, /proc view and place on the
// bridge are still the host's. Teardown (monitor.Teardown, the
// monitor's own) kills what is left in the cgroup and gives back the
// rest. Then, as the monitor records a container's end, the status says
// it exited with 137 (SIGKILL, which it was), at the time it was found:
// when it died no one saw. A --rm container is removed instead, and the
// error wraps state.ErrNoSuchContainer.
//
// It holds the container's claim throughout (state.ClaimOrphan): a
// second command that finds the container at the same moment waits, then
// finds it finished (or removed) and does nothing. A teardown that fails
// leaves the status as it was, for the next command to try again; rm
// says why.
func (r *Runtime) finishOrphan(c Container) (Container, error) {
	lock, s, err := r.Dirs.ClaimOrphan(c.ID)
	if err != nil {
		return c, err
	}
	if lock == nil { // finished by another, or not killed: as it is now
		c.Status = s
		return c, nil
	}
	defer lock.Unlock()
	if err := monitor.Teardown(r.Dirs, r.Extras, c.Record); err != nil {
		return c, nil
	}
	if c.Record.AutoRemove {
		if err := monitor.RemoveFolders(r.Dirs, c.ID); err != nil {
			return c, nil
		}
		return c, fmt.Errorf("%w: %s (--rm: removed once its monitor was found killed)", state.ErrNoSuchContainer, c.ID)
	}
	s.Status, s.ExitCode, s.Error = state.Exited, c.Status.ExitCode, state.MonitorGone
	s.FinishedAt = time.Now().UTC()
	if err := r.Dirs.WriteStatus(c.ID, s); err != nil {
		return c, nil // torn down again next time: Teardown does nothing twice
	}
	c.Status = s
	return c, nil
}

// removeRebooted removes container c, which ran with --rm when the
// machine restarted (its status, in /run, is gone): Docker's daemon
// removes such containers when it starts again. The caller holds the
// lock of the set of containers (getLocked), under which a removal or a
// start would have made the status missing for a moment. The teardown
// gives back what a restart did not end (nothing, after a real one); a
// container that it cannot tear down is left for rm, which says why.
func (r *Runtime) removeRebooted(c Container) (Container, error) {
	if monitor.Teardown(r.Dirs, r.Extras, c.Record) != nil || r.Dirs.RemoveContainer(c.ID) != nil {
		return c, nil
	}
	return c, fmt.Errorf("%w: %s (--rm: removed once the machine had restarted)", state.ErrNoSuchContainer, c.ID)
}
