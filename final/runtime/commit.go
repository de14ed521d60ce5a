package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/store"
	"golang.org/x/sys/unix"
)

// CommitOptions are docker commit's: the new image's name, the history's
// comment and the author, and whether a running container is paused
// while its layer is read (docker commit's --pause, on by default); and,
// for boxcraft build, the history's line (the container's command when
// empty).
type CommitOptions struct {
	Name, Comment, Author string
	Pause                 bool
	CreatedBy             string
}

// Commit makes an image of what a container changed, as docker commit
// does: its image's layers, and on top its upper layer as a new layer
// (step05-layers' commit), less the /etc files its start wrote. A
// running container is frozen while its layer is read (commitRunning);
// one that is starting is refused.
func (r *Runtime) Commit(ctx context.Context, ref string, o CommitOptions) (store.ImageRecord, error) {
	c, err := r.Get(ref)
	if err != nil {
		return store.ImageRecord{}, err
	}
	switch {
	case !hasLayer(c):
		return store.ImageRecord{}, noLayer(c, ref)
	case c.Status.Status == state.Running:
		return r.commitRunning(ctx, c, ref, o)
	case r.Dirs.MonitorAlive(c.ID):
		return store.ImageRecord{}, fmt.Errorf("container %s is starting: commit it once it runs, or once it has ended", ref)
	}
	// Held while its layer is read: a start of it waits (StartAgain).
	hold, err := r.holdEnded(c.ID)
	if err == nil && hold == nil {
		err = fmt.Errorf("%w: %s", state.ErrNoSuchContainer, ref)
	}
	if errors.Is(err, state.ErrStarted) {
		return store.ImageRecord{}, fmt.Errorf("container %s was started meanwhile: commit it again", ref)
	}
	if err != nil {
		return store.ImageRecord{}, err
	}
	defer hold.Unlock()
	return r.commitUpper(ctx, c, ref, o)
}

// commitRunning commits a running container. With o.Pause its processes
// are frozen while its layer is read (the freezer of Pause), so that the
// layer is one moment's, as docker commit's is; one paused already stays
// paused. A stop or rm -f meanwhile ends it as usual, and the commit
// then fails or holds the files as they were.
func (r *Runtime) commitRunning(ctx context.Context, c Container, ref string, o CommitOptions) (rec store.ImageRecord, err error) {
	if o.Pause && r.Thawed(c) {
		if err := r.SetFrozen(c, true); err != nil {
			return rec, fmt.Errorf("pause container %s for its commit: %w", ref, err)
		}
		defer func() {
			// A container that ended meanwhile has no freezer left to thaw.
			if thawErr := r.SetFrozen(c, false); thawErr != nil && !r.Thawed(c) {
				err = errors.Join(err, fmt.Errorf("unpause container %s after its commit: %w", ref, thawErr))
			}
		}()
	}
	return r.commitUpper(ctx, c, ref, o)
}

// hasLayer says whether container c has a layer of its own, above an
// image's, for commit and diff to read.
func hasLayer(c Container) bool { return !c.Broken && c.Record.Spec.Image != "" }

// noLayer is why container c (ref, as named) has no layer of its own.
func noLayer(c Container, ref string) error {
	if c.Broken {
		return fmt.Errorf("container %s: its start was cut short, it has no record: remove it", ref)
	}
	return fmt.Errorf("container %s runs in a folder (--rootfs), not an image: it has no layer of its own", ref)
}

// leaveOut is what a commit, and a diff, of container c leaves out of
// its upper layer: its /etc/hosts and friends are its start's, not the
// image's (its address, its name, the host's name servers), as Docker's
// bind mounts of them are no part of its layer; and /etc with them when
// nothing else of it changed.
func (r *Runtime) leaveOut(c spec.Container) archive.LeaveOut {
	return archive.LeaveOut{Files: network.EtcFileNames(), AsBelow: func(folder string, st *unix.Stat_t) bool {
		return r.Store.AsInImage(c.Image, c.Namespaces.UIDMap, c.Namespaces.GIDMap, folder, st)
	}}
}

// Changes lists what container ref changed in its root, as docker diff
// does: each path of its upper layer, less what commit leaves out,
// sorted, as "A" (added), "C" (changed: the image has it) or "D"
// (deleted). A running container is read as it is, not paused (Docker's
// diff does not pause either).
func (r *Runtime) Changes(ctx context.Context, ref string) ([]string, error) {
	c, err := r.Get(ref)
	if err != nil {
		return nil, err
	}
	if !hasLayer(c) {
		return nil, noLayer(c, ref)
	}
	s := c.Record.Spec
	upper := filepath.Join(r.Dirs.Container(c.ID), "upper")
	changes, err := archive.Changes(ctx, upper, s.Namespaces.UIDMap, s.Namespaces.GIDMap, r.leaveOut(s))
	if err != nil {
		return nil, fmt.Errorf("diff container %s: %w", ref, err)
	}
	var present []string
	for _, ch := range changes {
		if !ch.Deleted {
			present = append(present, strings.TrimPrefix(ch.Path, "/"))
		}
	}
	inImage, err := r.Store.InImage(s.Image, s.Namespaces.UIDMap, s.Namespaces.GIDMap, present)
	if err != nil {
		return nil, fmt.Errorf("diff container %s: %w", ref, err)
	}
	lines := make([]string, 0, len(changes))
	for _, ch := range changes {
		kind := "A"
		switch {
		case ch.Deleted:
			kind = "D"
		case inImage[strings.TrimPrefix(ch.Path, "/")]:
			kind = "C"
		}
		lines = append(lines, kind+" "+ch.Path)
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[2:], b[2:]) })
	return lines, nil
}

// commitUpper makes the image of c's upper layer.
func (r *Runtime) commitUpper(ctx context.Context, c Container, ref string, o CommitOptions) (store.ImageRecord, error) {
	spec := c.Record.Spec
	upper := filepath.Join(r.Dirs.Container(c.ID), "upper")
	commit := store.Commit{
		Parent: spec.Image,
		Layer: func(w io.Writer) error {
			return archive.Diff(ctx, w, upper, spec.Namespaces.UIDMap, spec.Namespaces.GIDMap, r.leaveOut(spec))
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
