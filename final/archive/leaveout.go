package archive

import "path"

// leaving is what Diff leaves out of a layer: the files a runtime wrote
// into the root, by the names the root gives them.
type leaving struct {
	files   map[string]bool
	folders map[string]bool // the folders they are in
}

func newLeaving(names []string) leaving {
	l := leaving{files: map[string]bool{}, folders: map[string]bool{}}
	for _, name := range names {
		l.files[name] = true
		l.folders[path.Dir(name)] = true
	}
	return l
}

// file says whether the file name is left out.
func (l leaving) file(name string) bool { return l.files[name] }

// folder says whether the folder name, which holds names, holds files
// that are left out and nothing else: their writing alone changed it.
func (l leaving) folder(name string, names []string) bool {
	if !l.folders[name] {
		return false
	}
	for _, base := range names {
		if !l.files[path.Join(name, base)] {
			return false
		}
	}
	return true
}
