package runtime

import (
	"errors"
	"fmt"

	"github.com/boxcraft/boxcraft/final/state"
)

// Paused is Docker's state of a running container whose processes are
// frozen (docker ps -f status=paused, inspect's State.Status).
const Paused = "paused"

// ErrPaused: the container is paused.
var ErrPaused = errors.New("is paused")

// Pause freezes every process of a running container where it stands,
// with its cgroup's freezer (step03's cgroup; v1's freezer hierarchy or
// v2's cgroup.freeze), as docker pause does; Unpause lets them go on. A
// frozen process is not scheduled at all: it cannot tell. Nothing is
// recorded: the freezer is the state, which ps and inspect read. These
// are Docker's pause and unpause, with Docker's refusals; the OCI ones
// (lifecycle's Pause and Resume, boxcraft-runc's) are the same freezer
// behind the OCI spec's statuses.
func (r *Runtime) Pause(c Container) error {
	if c.Status.Status != state.Running {
		return fmt.Errorf("container %s %w", c.Record.Spec.Name, ErrNotRunning)
	}
	if !r.Thawed(c) {
		return fmt.Errorf("container %s is already paused", c.Record.Spec.Name)
	}
	if err := r.SetFrozen(c, true); err != nil {
		return fmt.Errorf("pause container %s: %w", c.Record.Spec.Name, err)
	}
	return nil
}

// Unpause thaws a paused container.
func (r *Runtime) Unpause(c Container) error {
	if c.Status.Status != state.Running || r.Thawed(c) {
		return fmt.Errorf("container %s is not paused", c.Record.Spec.Name)
	}
	if err := r.SetFrozen(c, false); err != nil {
		return fmt.Errorf("unpause container %s: %w", c.Record.Spec.Name, err)
	}
	return nil
}

// DockerState is the container's state in Docker's words: its status,
// or Paused for a running one whose freezer is not thawed (frozen, or
// being frozen). It reads the freezer of a running container, a file of
// its cgroup.
func (r *Runtime) DockerState(c Container) string {
	if c.Status.Status == state.Running && !r.Thawed(c) {
		return Paused
	}
	return c.Status.Status
}

// thawAfterSignal lets a paused container take the signal just sent: a
// frozen process takes none until it is thawed (on v1, not even
// SIGKILL), so docker kill and docker stop thaw a paused container
// after signalling it, as Docker does.
func (r *Runtime) thawAfterSignal(c Container) error {
	if r.Thawed(c) {
		return nil
	}
	if err := r.SetFrozen(c, false); err != nil {
		return fmt.Errorf("unpause container %s for its signal: %w", c.Record.Spec.Name, err)
	}
	return nil
}
