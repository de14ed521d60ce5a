package archive

import (
	"path"

	"golang.org/x/sys/unix"
)

// LeaveOut is what Diff leaves out of a layer: files a runtime wrote
// into the root, which are its and not the image's (Docker bind-mounts
// its /etc/hosts and friends, and docker commit never sees them).
type LeaveOut struct {
	// Files are left out by the names the root gives them (etc/hosts).
	Files []string
	// AsBelow says whether the upper layer's folder (etc), as st has
	// it, has the mode and owner the layers below give it: then writing
	// Files alone changed it (overlayfs copied it up, or the runtime made
	// it), and it is left out with them when it holds nothing else. nil:
	// a folder is always kept.
	AsBelow func(folder string, st *unix.Stat_t) bool
}

// leaving is a LeaveOut ready for Diff's walk.
type leaving struct {
	LeaveOut
	files   map[string]bool
	folders map[string]bool // the folders Files are in
}

func newLeaving(l LeaveOut) leaving {
	ready := leaving{LeaveOut: l, files: map[string]bool{}, folders: map[string]bool{}}
	for _, name := range l.Files {
		ready.files[name] = true
		ready.folders[path.Dir(name)] = true
	}
	return ready
}

// file says whether the file name is left out.
func (l leaving) file(name string) bool { return l.files[name] }

// folder says whether the folder name, which holds names and which st
// describes, is left out: it holds left-out files and nothing else, and
// is as the layers below have it.
func (l leaving) folder(name string, names []string, st *unix.Stat_t) bool {
	if !l.folders[name] || l.AsBelow == nil {
		return false
	}
	for _, base := range names {
		if !l.files[path.Join(name, base)] {
			return false
		}
	}
	return l.AsBelow(name, st)
}
