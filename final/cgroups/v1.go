package cgroups

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/boxcraft/boxcraft/final/spec"
)

// v1Hierarchies are the v1 controllers a container gets a folder in.
// cpuacct limits nothing: it counts the CPU time the container used.
// devices is the list of devices it may use (devices_v1.go); freezer
// stops and restarts its processes (freezer.go: the OCI pause, issue 23).
var v1Hierarchies = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer"}

// v1Manager is a container's cgroup on v1: a folder in each hierarchy.
type v1Manager struct {
	dirs map[string]string // a hierarchy's name → the container's folder in it
}

func (m *v1Manager) limits(r spec.Resources) []limit { return v1Limits(r) }

// make makes PARENT/ID in each v1 hierarchy that is mounted. Some systems
// mount two controllers as one hierarchy (cpu,cpuacct, with cpu and
// cpuacct as links to it): one folder serves both. A limit whose
// hierarchy is not mounted is refused, naming its flag.
func (m *v1Manager) make(parent, id string, limits []limit) error {
	made := map[string]string{} // a hierarchy's real path → the container's folder in it
	for _, name := range v1Hierarchies {
		hierarchy, ok := v1Hierarchy(name)
		if !ok {
			if i := slices.IndexFunc(limits, func(l limit) bool { return l.controller == name }); i >= 0 {
				return fmt.Errorf("%s needs the v1 %s hierarchy, which is not mounted at %s/%s", limits[i].flag, name, Root, name)
			}
			continue
		}
		if dir, ok := made[hierarchy]; ok {
			m.dirs[name] = dir
			continue
		}
		dir, err := makeV1Folder(hierarchy, parent, id, name == "cpuset")
		if err != nil {
			return err
		}
		made[hierarchy], m.dirs[name] = dir, dir
	}
	return nil
}

// v1Hierarchy is where a controller's hierarchy is mounted, links
// followed, if it is: a hierarchy has cgroup.procs, an empty folder not.
func v1Hierarchy(name string) (string, bool) {
	hierarchy, err := filepath.EvalSymlinks(filepath.Join(Root, name))
	if err == nil {
		_, err = os.Stat(filepath.Join(hierarchy, "cgroup.procs"))
	}
	return hierarchy, err == nil
}

// makeV1Folder makes the parent's folders and the container's own in one
// hierarchy. In the cpuset hierarchy, each is filled from its parent.
func makeV1Folder(hierarchy, parent, id string, cpuset bool) (string, error) {
	ready := func(string) error { return nil }
	if cpuset {
		ready = inheritCpuset
	}
	parentDir, err := makeParent(hierarchy, parent, ready)
	if err != nil {
		return "", err
	}
	dir, err := makeOwn(parentDir, id)
	if err != nil {
		return "", err
	}
	return dir, ready(dir)
}

// inheritCpuset fills an empty cpuset.cpus and cpuset.mems from the
// parent's. A new v1 cpuset starts with none of either, and the kernel
// refuses to put a process in a cpuset that has no CPU or no memory.
func inheritCpuset(dir string) error {
	for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		own, err := readFile(dir, file)
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", dir, file, err)
		}
		if own != "" {
			continue
		}
		parents, err := readFile(filepath.Dir(dir), file)
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", filepath.Dir(dir), file, err)
		}
		if err := writeFile(dir, file, parents); err != nil {
			return fmt.Errorf("write %s into %s/%s: %w", parents, dir, file, err)
		}
	}
	return nil
}

// find records PARENT/ID in each mounted hierarchy that has it.
func (m *v1Manager) find(parent, id string) error {
	for _, name := range v1Hierarchies {
		hierarchy, ok := v1Hierarchy(name)
		if dir := filepath.Join(hierarchy, parent, id); ok && isFolder(dir) {
			m.dirs[name] = dir
		}
	}
	if len(m.dirs) == 0 {
		return fmt.Errorf("no cgroup %s/%s in any hierarchy below %s: %w", parent, id, Root, os.ErrNotExist)
	}
	return nil
}

func (m *v1Manager) dir(controller string) string { return m.dirs[controller] }

func (m *v1Manager) paths() map[string]string { return maps.Clone(m.dirs) }

// oomFile: on v1, memory.oom_control counts the kills (kernel 4.13 on).
func (m *v1Manager) oomFile() string { return "memory.oom_control" }

// intoFD: v1 cannot start a child in a cgroup; the caller uses Add.
func (m *v1Manager) intoFD() (*os.File, error) { return nil, nil }
