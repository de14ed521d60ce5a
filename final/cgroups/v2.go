package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
)

// v2Controllers are the controllers the package turns on for its cgroups
// on v2, where a controller works in a folder only when its parent has
// turned it on for its children.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// v2Manager is a container's cgroup on v2: one folder.
type v2Manager struct {
	folder string
}

func (m *v2Manager) limits(r spec.Resources) []limit { return v2Limits(r) }

// make makes /sys/fs/cgroup/PARENT/ID. Each folder of the parent turns on,
// for its children, the controllers above that its own parent handed it
// (cgroup.controllers lists them; cgroup.subtree_control turns them on).
// The root cgroup is the host's, and the package does not change it: a
// limit whose controller the root does not hand down is refused, naming
// its flag. A folder that turned controllers on for its children may
// hold no process (v2's no-internal-process rule): the parent's folders
// never do, the container's own does not turn any on.
func (m *v2Manager) make(parent, id string, limits []limit) error {
	dir, err := makeParent(Root, parent, enableControllers)
	if err != nil {
		return err
	}
	enabled, err := readFile(dir, "cgroup.subtree_control")
	if err != nil {
		return fmt.Errorf("read %s/cgroup.subtree_control: %w", dir, err)
	}
	for _, l := range limits {
		if !slices.Contains(strings.Fields(enabled), l.controller) {
			return fmt.Errorf("%s needs the %s controller, which the cgroups above %s do not hand down (see %s/cgroup.subtree_control)", l.flag, l.controller, dir, Root)
		}
	}
	m.folder, err = makeOwn(dir, id)
	return err
}

// enableControllers turns on, for a folder's children, each of
// v2Controllers that its parent handed it.
func enableControllers(dir string) error {
	offered, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("read %s/cgroup.controllers: %w", dir, err)
	}
	var enable []string
	for _, name := range v2Controllers {
		if slices.Contains(strings.Fields(offered), name) {
			enable = append(enable, "+"+name)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	if err := writeFile(dir, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
		return fmt.Errorf("turn on %s in %s/cgroup.subtree_control: %w", strings.Join(enable, " "), dir, err)
	}
	return nil
}

// find records PARENT/ID.
func (m *v2Manager) find(parent, id string) error {
	dir := filepath.Join(Root, parent, id)
	if !isFolder(dir) {
		return fmt.Errorf("no cgroup %s: %w", dir, os.ErrNotExist)
	}
	m.folder = dir
	return nil
}

// dir: on v2, one folder holds every controller's files.
func (m *v2Manager) dir(string) string { return m.folder }

func (m *v2Manager) paths() map[string]string {
	if m.folder == "" {
		return map[string]string{}
	}
	return map[string]string{"": m.folder}
}

// oomFile: on v2, memory.events counts the kills.
func (m *v2Manager) oomFile() string { return "memory.events" }

// intoFD opens the container's folder, for clone(2) to start a process
// straight in it (CLONE_INTO_CGROUP, Linux 5.7): the process never runs
// outside its limits.
func (m *v2Manager) intoFD() (*os.File, error) {
	f, err := os.Open(m.folder)
	if err != nil {
		return nil, fmt.Errorf("open the cgroup %s: %w", m.folder, err)
	}
	return f, nil
}
