package testkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The two environment variables by which a test tells the runtime where
// to keep what it makes (docs/contract.md): a state folder, and the cgroup
// below which its containers' cgroups go. Each test gives it its own, so
// that it looks only at what its own runs made, however many other runs
// (another package's tests, a learner's `make run`) share the machine.
const (
	StateDirEnv     = "BOXCRAFT_STATE_DIR"
	CgroupParentEnv = "BOXCRAFT_CGROUP_PARENT"
)

// Parent is the workshop's own cgroup, in every hierarchy: tests and
// containers make their cgroups below it and nowhere else.
const Parent = "boxcraft"

// v1Hierarchies are the cgroup v1 hierarchies a runtime may make a
// container's cgroup in (boxcraft's device cgroup among them): the
// test's own parent is made, and removed, in each.
var v1Hierarchies = []string{"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer"}

// sandbox is what one test gives the runtime: a state folder and a cgroup
// parent of its own.
type sandbox struct {
	state  string            // the state folder
	parent string            // the cgroup parent, relative to a hierarchy: boxcraft/t-…
	dirs   map[string]string // the parent's folders: hierarchy (or "" on v2) → path
	netns  *netns            // the network namespace its commands run in (netns.go)
}

var sandboxes sync.Map // testing.TB → *sandbox

// StateDir is the state folder that the test's runs are given in
// $BOXCRAFT_STATE_DIR: empty when the test starts, and removed with it.
func StateDir(t testing.TB) string {
	t.Helper()
	return sandboxOf(t).state
}

// CgroupParent is the cgroup that the test's runs are given in
// $BOXCRAFT_CGROUP_PARENT ("boxcraft/t-…", below the workshop's parent),
// and its folder in each hierarchy: the v1 hierarchy's name, or "" on v2.
func CgroupParent(t testing.TB) (string, map[string]string) {
	t.Helper()
	s := sandboxOf(t)
	return s.parent, s.dirs
}

// sandboxEnv is the environment that gives a command the test's sandbox.
// As a normal user, nothing is made: the runtime refuses to run then.
func sandboxEnv(t testing.TB) []string {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	s := sandboxOf(t)
	return []string{StateDirEnv + "=" + s.state, CgroupParentEnv + "=" + s.parent}
}

// sandboxOf makes the test's sandbox on first use, and removes it when
// the test ends.
func sandboxOf(t testing.TB) *sandbox {
	t.Helper()
	if s, ok := sandboxes.Load(t); ok {
		return s.(*sandbox)
	}
	RequireRoot(t)
	// Named for the workshop, so that make clean finds what a killed test
	// run left mounted there.
	s := &sandbox{state: filepath.Join(t.TempDir(), "boxcraft-state")}
	if err := os.Mkdir(s.state, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	for try := 0; ; try++ {
		s.parent = fmt.Sprintf("%s/t-%d-%d", Parent, os.Getpid(), rand.Uint32())
		s.dirs, err = makeCgroupParent(s.parent)
		if err == nil {
			break
		}
		for _, dir := range s.dirs { // made by this try, so the test's own
			removeCgroupTree(t, dir)
		}
		if !errors.Is(err, unix.EEXIST) || try == 10 {
			t.Fatalf("make the test's cgroup parent %s: %v", s.parent, err)
		}
	}
	s.netns = newNetns(t)
	sandboxes.Store(t, s)
	// A mount left below the state folder is a run's that did not unmount
	// its container's root: a failure, unmounted so that the folder can
	// go (the runs have ended: their cleanups came later, and ran first).
	// A run whose runtime was killed leaves its cgroup to the next run
	// (CgroupIsRemoved tests that): what is left goes with the test.
	t.Cleanup(func() {
		sandboxes.Delete(t)
		for _, point := range mountsBelow(t, s.state) {
			t.Errorf("left behind: a mount on %s, below the state folder: a run unmounts what it mounted for its container", point)
			_ = unix.Unmount(point, unix.MNT_DETACH) // the test's own
		}
		for _, dir := range s.dirs {
			removeCgroupTree(t, dir)
		}
	})
	return s
}

// ShareSandbox gives the subtest t the sandbox of the test that runs it,
// for a subtest that works on what its parent's runs made (a kept
// container, a stored layer).
func ShareSandbox(t, parent testing.TB) {
	t.Helper()
	sandboxes.Store(t, sandboxOf(parent))
	t.Cleanup(func() { sandboxes.Delete(t) })
}

// makeCgroupParent makes parent (boxcraft/t-…) in every hierarchy a
// runtime uses, ready to hold containers' cgroups: on v1, each level's
// cpuset filled from its parent's (an empty cpuset takes no process); on
// v2, every controller the root hands down turned on for the children of
// each level. On failure, it returns the folders it made.
func makeCgroupParent(parent string) (map[string]string, error) {
	v2, err := isCgroupV2()
	if err != nil {
		return nil, err
	}
	if v2 {
		dir, err := makeCgroupPath("/sys/fs/cgroup", parent, enableControllers)
		if err != nil {
			return nil, err
		}
		return map[string]string{"": dir}, nil
	}
	dirs := map[string]string{}
	made := map[string]string{} // co-mounted hierarchies share one folder
	for _, name := range v1Hierarchies {
		hierarchy, err := filepath.EvalSymlinks(filepath.Join("/sys/fs/cgroup", name))
		if err != nil {
			continue // not mounted here
		}
		if dir, ok := made[hierarchy]; ok {
			dirs[name] = dir
			continue
		}
		fill := func(string) error { return nil }
		if name == "cpuset" {
			fill = fillCpuset
		}
		dir, err := makeCgroupPath(hierarchy, parent, fill)
		if err != nil {
			return dirs, err
		}
		made[hierarchy], dirs[name] = dir, dir
	}
	return dirs, nil
}

// isCgroupV2 tells the cgroup versions apart by what is mounted on
// /sys/fs/cgroup: the cgroup2 filesystem itself, or (v1) a tmpfs that
// holds a mount for each hierarchy.
func isCgroupV2() (bool, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil {
		return false, err
	}
	return fs.Type == unix.CGROUP2_SUPER_MAGIC, nil
}

// makeCgroupPath makes each folder of path below root that is not there
// yet, and readies each with ready. The last must be new: the test's own,
// never one that another run made (EEXIST).
func makeCgroupPath(root, path string, ready func(dir string) error) (string, error) {
	dir := root
	parts := strings.Split(path, "/")
	for i, part := range parts {
		dir = filepath.Join(dir, part)
		if err := unix.Mkdir(dir, 0o755); err != nil && (i == len(parts)-1 || !errors.Is(err, unix.EEXIST)) {
			return dir, err
		}
		if err := ready(dir); err != nil {
			return dir, err
		}
	}
	return dir, nil
}

// fillCpuset gives a v1 cpuset with none the CPUs and memory nodes of its
// parent.
func fillCpuset(dir string) error {
	for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
		own, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(own)) != "" {
			continue
		}
		parents, err := os.ReadFile(filepath.Join(filepath.Dir(dir), file))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file), parents, 0); err != nil {
			return err
		}
	}
	return nil
}

// enableControllers turns on, for a v2 folder's children, every
// controller its parent turned on for it.
func enableControllers(dir string) error {
	offered, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	var enable []string
	for _, name := range strings.Fields(string(offered)) {
		enable = append(enable, "+"+name)
	}
	if len(enable) == 0 {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte(strings.Join(enable, " ")), 0)
}

// childCgroups lists the cgroups below dir, deepest first.
func childCgroups(dir string) []string {
	var found []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && path != dir {
			found = append(found, path)
		}
		return nil
	})
	slices.Reverse(found)
	return found
}

// removeCgroupTree removes a cgroup of the test's own and every cgroup
// below it. A process still in one is the test's (its runs started it):
// it is killed by pid, and the kernel refuses (EBUSY) until it is reaped.
func removeCgroupTree(t testing.TB, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, cg := range append(childCgroups(dir), dir) {
		for {
			err := unix.Rmdir(cg)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				t.Errorf("cannot remove the test's cgroup %s: %v", cg, err)
				return
			}
			killCgroup(cg)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// killCgroup sends SIGKILL to each process in a cgroup of the test's own.
func killCgroup(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, field := range strings.Fields(string(data)) {
		var pid int
		if _, err := fmt.Sscan(field, &pid); err == nil && pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}
