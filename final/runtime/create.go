package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/boxcraft/boxcraft/final/extras"
	"github.com/boxcraft/boxcraft/final/lifecycle"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/store"
)

// Runtime is boxcraft's: the lifecycle every container shares (its
// state folder, its extras, its trace) and the image store.
type Runtime struct {
	lifecycle.Runtime
	Store *store.Store
}

// Container is a container as ps and inspect show it: the lifecycle's,
// which boxcraft's commands name through this package.
type Container = lifecycle.Container

// Open opens the state folder, making it when missing, and the image
// store in it, with boxcraft's extras: its bridge network and its /proc
// views.
func Open(dirs state.Dirs) (*Runtime, error) {
	lc, err := lifecycle.Open(dirs)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(dirs.Store())
	if err != nil {
		return nil, err
	}
	lc.Extras = extras.New()
	return &Runtime{Runtime: *lc, Store: s}, nil
}

// CreateOptions are what the command line decided besides the settings.
type CreateOptions struct {
	AutoRemove      bool              // --rm
	Detached        bool              // -d
	Entrypoint, Cmd []string          // the command's two halves, for inspect
	Labels          map[string]string // the image's labels and --label's
	createdOnly     bool              // CreateRecord's
}

// Create makes a container from its settings: its record first (so that
// whatever happens next, ps shows it and rm removes it), then its cgroup
// with its limits, then its root. c.ID and c.Name are filled in when
// empty; with c.Image set, c.Root.Path is the overlay Create mounts.
// Nothing runs yet. On a failure nothing is left.
func (r *Runtime) Create(ctx context.Context, c *spec.Container, o CreateOptions) (state.Record, error) {
	rec, err := r.newRecord(c, o)
	if err != nil {
		return rec, err
	}
	if err := r.makeContainer(ctx, rec); err != nil {
		_ = r.Discard(rec.Spec.ID)
		return rec, err
	}
	return rec, nil
}

// CreateRecord makes the container's record and folders alone, as
// docker create does: its cgroup, root and network are made when it
// starts (StartAgain, StartAttached), and until then it holds nothing of
// the host. c.ID and c.Name are filled in when empty.
func (r *Runtime) CreateRecord(c *spec.Container, o CreateOptions) (state.Record, error) {
	o.createdOnly = true
	return r.newRecord(c, o)
}

// newRecord names the container and writes its record (writeRecord).
// A name taken by a --rm container whose monitor was killed is free once
// that container is finished, which removes it (lifecycle's
// finishOrphan), as Docker's daemon would have: it is finished outside
// the lock of the set of containers, which its removal takes, and the
// name tried again.
func (r *Runtime) newRecord(c *spec.Container, o CreateOptions) (state.Record, error) {
	rec, holder, err := r.writeRecord(c, o)
	if holder != "" {
		if _, gone := r.GetID(holder); errors.Is(gone, state.ErrNoSuchContainer) {
			rec, _, err = r.writeRecord(c, o)
		}
	}
	return rec, err
}

// writeRecord names the container and writes its record, under the lock
// that keeps two containers from taking one name. When the name is
// taken, it says by which container.
func (r *Runtime) writeRecord(c *spec.Container, o CreateOptions) (state.Record, string, error) {
	lock, err := r.Dirs.Lock()
	if err != nil {
		return state.Record{}, "", err
	}
	defer lock.Unlock()
	if c.ID == "" {
		c.ID = NewID()
	}
	if c.Name == "" {
		c.Name = r.freeName()
	} else if id, taken := r.Dirs.NameTaken(c.Name); taken {
		return state.Record{}, id, fmt.Errorf("%w: the container name %q is already in use by container %s: remove that container (or give another --name)", lifecycle.ErrConflict, "/"+c.Name, id[:12])
	}
	if r.Trace.Enabled() { // every process of the start traces, timed from one origin
		c.Trace = spec.Trace{Mode: r.Trace.Mode(), Origin: r.Trace.Origin().UnixNano()}
	}
	if c.Hostname == "" && c.Namespaces.UTS {
		c.Hostname = c.ID[:12] // as Docker names it
	}
	rec := state.Record{Spec: *c, Created: time.Now().UTC(), AutoRemove: o.AutoRemove, Detached: o.Detached,
		Entrypoint: o.Entrypoint, Cmd: o.Cmd, Labels: o.Labels, CreatedOnly: o.createdOnly}
	if c.Image != "" {
		rec.Spec.Root.Path = filepath.Join(r.Dirs.Container(c.ID), "rootfs")
		rec.Mounted = true
		c.Root.Path = rec.Spec.Root.Path
	}
	return rec, "", r.Dirs.NewContainer(rec)
}

// makeContainer makes its cgroup, then its root: the limits are checked
// by the kernel before any layer is unpacked. The device cgroup's rules
// (or v2's device program) are in place before init, or anything, runs
// in the cgroup.
func (r *Runtime) makeContainer(ctx context.Context, rec state.Record) error {
	c := rec.Spec
	if err := r.MakeCgroup(rec); err != nil {
		return err
	}
	if c.Image == "" {
		return nil
	}
	plan, err := r.Store.Prepare(ctx, c.Image, c.Namespaces.UIDMap, c.Namespaces.GIDMap, r.Dirs.Container(c.ID), !rec.AutoRemove)
	if err != nil {
		return err
	}
	return plan.Mount(r.Trace)
}

// NewID is 32 random bytes in hex, as Docker's IDs.
func NewID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
