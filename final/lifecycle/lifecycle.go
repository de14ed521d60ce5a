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
// state.ErrNoSuchContainer when it is gone, or that removed it (--rm).
func (r *Runtime) get(id string) (Container, error) {
	c := r.read(id)
	switch {
	case c.Broken, c.Status.Error == state.MachineRestarted:
		return r.getLocked(id)
	case c.Status.Error == state.MonitorGone:
		return r.finishOrphan(c)
	}
	return c, nil
}

// Read reads container id's record and status as they are, and
// finishes nothing: for a command that holds the container
// (state.Dirs.HoldEnded), which a finish would wait for.
func (r *Runtime) Read(id string) Container { return r.read(id) }

// read reads container id's record and status as they are.
func (r *Runtime) read(id string) Container {
	c := Container{ID: id}
	rec, err := r.Dirs.ReadRecord(id)
	if err != nil {
		c.Broken = true
		c.Status = state.Status{Status: state.Created, Error: "its start was cut short"}
		return c
	}
	c.Record = rec
	if c.Status, err = r.Dirs.ReadStatus(id); err != nil {
		c.Status = state.Status{Status: state.Created, Error: err.Error()}
	}
	return c
}

// getLocked reads container id again, under the lock of the set of
// containers, when its record or its status was missing. A removal takes
// a container's folders away under that lock (its run folder, with the
// status, first), and a start makes them under it (the status, then the
// record): once it is held, a container gone meanwhile is no such
// container, and what is still missing was cut short (a start killed
// before its record was written) or taken by a restart of the machine
// (the status, in /run). A --rm container whose status a restart took
// is removed (removeRebooted).
func (r *Runtime) getLocked(id string) (Container, error) {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return r.read(id), nil
	}
	defer lock.Unlock()
	if _, err := os.Stat(r.Dirs.Container(id)); errors.Is(err, fs.ErrNotExist) {
		return Container{ID: id}, fmt.Errorf("%w: %s", state.ErrNoSuchContainer, id)
	}
	c := r.read(id)
	if c.Status.Error == state.MachineRestarted && c.Record.AutoRemove {
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
