package lifecycle

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
)

// Runtime is a state folder of containers.
type Runtime struct {
	Dirs state.Dirs
	// Extras are what the program can give a container beyond its init,
	// cgroup and root (its bridge network, its /proc views): none for an
	// OCI runtime, boxcraft's for boxcraft (final/extras).
	Extras monitor.Extras
	// Trace reports each step of a start (--trace, final/trace); nil
	// is off.
	Trace *trace.Tracer
}

// Open opens the state folder, making it when missing. Its Runtime has
// no extras.
func Open(dirs state.Dirs) (*Runtime, error) {
	if err := dirs.Make(); err != nil {
		return nil, err
	}
	return &Runtime{Dirs: dirs}, nil
}

// ErrConflict: the name is taken.
var ErrConflict = errors.New("conflict")

// Container is a container as ps and inspect show it.
type Container struct {
	ID     string
	Record state.Record
	Status state.Status
	Broken bool // a start cut short before its record was written
}

// Get finds a container by name, ID or ID prefix. A container whose
// monitor was killed is finished first (finishOrphan): with --rm it is
// gone, and Get says there is no such container, as Docker's daemon
// would have removed it.
func (r *Runtime) Get(ref string) (Container, error) {
	id, err := r.Dirs.Find(ref)
	if err != nil {
		return Container{}, err
	}
	c, err := r.get(id)
	if errors.Is(err, state.ErrNoSuchContainer) {
		return c, fmt.Errorf("%w: %s", state.ErrNoSuchContainer, ref)
	}
	return c, err
}

// GetID finds a container by its whole ID alone, looking at its folder
// only, however many containers there are: boxcraft-runc names each
// container's folder from the engine's id (oci.InternalID), and an
// engine runs it several times per container.
func (r *Runtime) GetID(id string) (Container, error) {
	if _, err := os.Stat(r.Dirs.Container(id)); errors.Is(err, fs.ErrNotExist) {
		return Container{}, fmt.Errorf("%w: %s", state.ErrNoSuchContainer, id)
	} else if err != nil {
		return Container{}, fmt.Errorf("look for container %s: %w", id, err)
	}
	return r.get(id)
}

// get reads container id, and finishes it if its monitor was killed (or
// the machine restarted under it): an error that wraps
// state.ErrNoSuchContainer when that removed it (--rm).
func (r *Runtime) get(id string) (Container, error) {
	c := Container{ID: id}
	rec, err := r.Dirs.ReadRecord(id)
	if err != nil {
		c.Broken = true
		c.Status = state.Status{Status: state.Created, Error: "its start was cut short"}
		return c, nil
	}
	c.Record = rec
	if c.Status, err = r.Dirs.ReadStatus(id); err != nil {
		c.Status = state.Status{Status: state.Created, Error: err.Error()}
	}
	switch {
	case c.Status.Error == state.MonitorGone:
		return r.finishOrphan(c)
	case c.Status.Error == state.MachineRestarted && rec.AutoRemove:
		return r.removeRebooted(c)
	}
	return c, nil
}

// List lists the containers, newest first. A container whose monitor
// was killed is finished first (finishOrphan): with --rm it is not
// listed.
func (r *Runtime) List() ([]Container, error) {
	ids, err := r.Dirs.IDs()
	if err != nil {
		return nil, err
	}
	var list []Container
	for _, id := range ids {
		if c, err := r.get(id); !errors.Is(err, state.ErrNoSuchContainer) {
			list = append(list, c)
		}
	}
	sortNewestFirst(list)
	return list, nil
}

// MakeCgroup makes the cgroup of the container rec with its limits, and
// its device rules (or v2's device program) before init, or anything,
// runs in it.
func (r *Runtime) MakeCgroup(rec state.Record) error {
	c := rec.Spec
	cg, err := cgroups.New(c.CgroupParent, c.CgroupName(), c.Resources, r.Trace)
	if err != nil {
		return err
	}
	return cg.LimitDevices(c.Security)
}

// Discard removes what container id left on the host (its cgroup, its
// root's mount, its place on the bridge: monitor.Teardown) and its
// folders.
func (r *Runtime) Discard(id string) error {
	return monitor.RemoveContainer(r.Dirs, r.Extras, id)
}
