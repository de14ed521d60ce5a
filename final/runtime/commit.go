package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/store"
	"golang.org/x/sys/unix"
)

// CommitOptions are docker commit's: the new image's name, the history's
// comment and the author; and, for boxcraft build, the history's line
// (the container's command when empty).
type CommitOptions struct {
	Name, Comment, Author string
	CreatedBy             string
}

// Commit makes an image of what a container changed, as docker commit
// does: its image's layers, and on top its upper layer as a new layer
// (step05-layers' commit), less the /etc files its start wrote. A container that runs, or is starting, is
// refused: docker commit pauses it, but boxcraft's cgroups on v1 have no
// freezer, and a layer read while its files change is no snapshot.
func (r *Runtime) Commit(ctx context.Context, ref string, o CommitOptions) (store.ImageRecord, error) {
	c, err := r.Get(ref)
	if err != nil {
		return store.ImageRecord{}, err
	}
	spec := c.Record.Spec
	switch {
	case c.Broken:
		return store.ImageRecord{}, fmt.Errorf("container %s: its start was cut short, it has no record to commit: remove it", ref)
	case spec.Image == "":
		return store.ImageRecord{}, fmt.Errorf("container %s runs in a folder (--rootfs), not an image: nothing to commit", ref)
	case c.Status.Status == state.Running || r.Dirs.MonitorAlive(c.ID):
		return store.ImageRecord{}, fmt.Errorf("container %s is running: stop it first (boxcraft commits a stopped container; it cannot pause one)", ref)
	}
	// Held while its layer is read: a start of it waits (StartAgain).
	hold, err := r.holdEnded(c.ID)
	if err == nil && hold == nil {
		err = fmt.Errorf("%w: %s", state.ErrNoSuchContainer, ref)
	}
	if errors.Is(err, state.ErrStarted) {
		return store.ImageRecord{}, fmt.Errorf("container %s is running: stop it first (boxcraft commits a stopped container; it cannot pause one)", ref)
	}
	if err != nil {
		return store.ImageRecord{}, err
	}
	defer hold.Unlock()
	upper := filepath.Join(r.Dirs.Container(c.ID), "upper")
	commit := store.Commit{
		Parent: spec.Image,
		Layer: func(w io.Writer) error {
			// The container's /etc/hosts and its friends are its start's,
			// not the image's: its address, its name, the host's name
			// servers. docker commit leaves them out too.
			leave := archive.LeaveOut{Files: network.EtcFileNames(), AsBelow: func(folder string, st *unix.Stat_t) bool {
				return r.Store.AsInImage(spec.Image, spec.Namespaces.UIDMap, spec.Namespaces.GIDMap, folder, st)
			}}
			return archive.Diff(ctx, w, upper, spec.Namespaces.UIDMap, spec.Namespaces.GIDMap, leave)
		},
		CreatedBy: strings.Join(spec.Process.Args, " "),
		Comment:   o.Comment,
		Author:    o.Author,
	}
	if o.CreatedBy != "" {
		commit.CreatedBy = o.CreatedBy
	}
	if o.Name != "" {
		commit.Names = []string{o.Name}
	}
	rec, err := r.Store.Commit(ctx, commit)
	if err != nil {
		return rec, fmt.Errorf("commit container %s: %w", ref, err)
	}
	return rec, nil
}
