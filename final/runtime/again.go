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
// as it is. All of it is done under the lock of the set of containers,
// so that two starts of one container at once make it once; on a
// failure the container is left as it was, stopped.
func (r *Runtime) StartAgain(ctx context.Context, ref string) error {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return err
	}
	defer lock.Unlock()
	c, err := r.Get(ref)
	if err != nil {
		return err
	}
	if r.Dirs.MonitorAlive(c.ID) {
		if c.Status.Status == state.Running {
			return nil
		}
		// Its monitor is tearing its last run down (stop returned, or
		// its command has just ended): the root and cgroup are its.
		if !r.waitForMonitor(c.ID, 30*time.Second) {
			return fmt.Errorf("container %s: its monitor is still ending its last run", ref)
		}
		if c, err = r.Get(ref); err != nil {
			return err
		}
	}
	if c.Broken {
		return fmt.Errorf("container %s: its start was cut short, it has no record to start: remove it", ref)
	}
	rec := c.Record
	// A monitor that was killed left what it held (reapOrphan took the
	// cgroup): nothing of the last run may stay under the new one.
	if err := monitor.Teardown(r.Dirs, r.Extras, rec); err != nil {
		return fmt.Errorf("container %s: what its last run left: %w", ref, err)
	}
	m, err := r.StartMonitor(c.ID)
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
