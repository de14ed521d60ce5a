package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
)

// The cgroup filesystem, and the workshop's own cgroup: the package never
// makes, writes or removes a cgroup anywhere else.
const (
	Root     = "/sys/fs/cgroup"
	Workshop = "boxcraft"
)

// CheckParent refuses a parent outside the workshop's cgroup: parent is
// relative to each hierarchy's root, and is Workshop or a folder below it.
func CheckParent(parent string) error {
	if !filepath.IsLocal(parent) || !strings.HasPrefix(filepath.Clean(parent)+"/", Workshop+"/") {
		return fmt.Errorf("cgroup parent %q: name a cgroup below %s", parent, Workshop)
	}
	return nil
}

// checkID refuses a container's name that is not one folder's name.
func checkID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsRune(id, '/') {
		return fmt.Errorf("cgroup name %q: want one folder's name", id)
	}
	return nil
}

// IsV2 tells the versions apart by what is mounted on /sys/fs/cgroup: the
// v2 filesystem itself, or (v1) a tmpfs holding one mount per hierarchy.
// statfs(2) names a filesystem's type by a number.
func IsV2() (bool, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(Root, &fs); err != nil {
		return false, fmt.Errorf("statfs %s: %w", Root, err)
	}
	switch fs.Type {
	case unix.CGROUP2_SUPER_MAGIC:
		return true, nil
	case unix.TMPFS_MAGIC:
		return false, nil
	}
	return false, fmt.Errorf("%s holds neither cgroup v2 nor v1's hierarchies (filesystem type %#x)", Root, fs.Type)
}

// manager is what differs between the versions: where the container's
// folders are, and how a process gets in. runc calls it the same.
type manager interface {
	// limits is each limit r asks for, in this version's files.
	limits(r spec.Resources) []limit
	// make makes the container's folders, and the parent's where
	// missing; it records each it made, for remove, even when it fails.
	make(parent, id string, limits []limit) error
	// find records the container's folders that New made.
	find(parent, id string) error
	// dir is the container's folder that holds a controller's files.
	dir(controller string) string
	// paths are the container's folders, by hierarchy ("" on v2).
	paths() map[string]string
	// oomFile is the memory controller's file that counts OOM kills.
	oomFile() string
	// intoFD opens the folder for CLONE_INTO_CGROUP (v2), or is nil (v1).
	intoFD() (*os.File, error)
	// stats reads what the cgroup's processes use (stats.go).
	stats() (Stats, error)
	// limitDevices allows the rules' devices alone, or every device
	// (devices_v1.go, devices_v2.go).
	limitDevices(rules []deviceRule, allowAll bool) error
}

// Cgroup is one container's cgroup: a folder in each v1 hierarchy it
// uses, or one folder on v2.
type Cgroup struct {
	m  manager
	tr *trace.Tracer // --trace: each file written is reported
}

// newManager chooses the version's implementation, once.
func newManager() (manager, error) {
	v2, err := IsV2()
	if err != nil {
		return nil, err
	}
	if v2 {
		return &v2Manager{}, nil
	}
	return &v1Manager{dirs: map[string]string{}}, nil
}

// New makes the container's cgroup, named id, below parent, and writes
// r's limits; it removes what it made when it fails. An error about a
// limit names its flag (--blkio-weight): a limit whose file this kernel
// lacks (BFQ's weight, swap accounting, throttling) is refused here.
// It reports to tr (--trace, final/trace; nil when not traced) the
// folders it makes and each file it writes, with its value.
func New(parent, id string, r spec.Resources, tr *trace.Tracer) (*Cgroup, error) {
	m, err := managerFor(parent, id)
	if err != nil {
		return nil, err
	}
	c := &Cgroup{m: m, tr: tr}
	limits := m.limits(r)
	err = tr.Do("step03", "mkdir", func() string { return "the container's cgroup: " + c.describeFolders() },
		func() error { return m.make(parent, id, limits) })
	if err == nil {
		err = c.writeLimits(limits)
	}
	if err != nil {
		_ = c.Remove() // its own error would hide the one that matters
		return nil, err
	}
	return c, nil
}

// Open finds the cgroup New made, for a later command. It fails with an
// error that wraps os.ErrNotExist when there is none.
func Open(parent, id string) (*Cgroup, error) {
	m, err := managerFor(parent, id)
	if err != nil {
		return nil, err
	}
	if err := m.find(parent, id); err != nil {
		return nil, err
	}
	return &Cgroup{m: m}, nil
}

// managerFor checks a container's parent and id, and returns the manager
// of this machine's cgroup version, for New and Open.
func managerFor(parent, id string) (manager, error) {
	if err := CheckParent(parent); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	return newManager()
}

// IntoFD is, on v2, the cgroup's folder opened for CLONE_INTO_CGROUP
// (os/exec's SysProcAttr.UseCgroupFD and CgroupFD), so that the child is
// born in it; nil on v1, which has no such thing: use Add. The caller
// closes it.
func (c *Cgroup) IntoFD() (*os.File, error) { return c.m.intoFD() }

// Add moves pid into the cgroup: writing a pid to cgroup.procs moves the
// process, with all its threads. On v1, where clone cannot start a child
// in a cgroup, it is how the container's first process gets in; on both,
// how a process joins a running container.
func (c *Cgroup) Add(pid int) error {
	for _, dir := range c.folders() {
		if err := writeFile(dir, "cgroup.procs", fmt.Sprint(pid)); err != nil {
			return fmt.Errorf("move process %d into the cgroup %s: %w", pid, dir, err)
		}
	}
	return nil
}

// OOMKills is how many processes the kernel's OOM killer ended in the
// cgroup: "oom_kill N" in memory.events (v2) or memory.oom_control (v1).
// It is 0 where nothing is counted (no memory hierarchy).
func (c *Cgroup) OOMKills() int {
	dir := c.m.dir("memory")
	if dir == "" {
		return 0
	}
	data, _ := os.ReadFile(filepath.Join(dir, c.m.oomFile()))
	for _, line := range strings.Split(string(data), "\n") {
		if count, ok := strings.CutPrefix(line, "oom_kill "); ok {
			var n int
			_, _ = fmt.Sscan(count, &n)
			return n
		}
	}
	return 0
}

// Paths are its folders, by hierarchy ("" on v2). Co-mounted v1
// hierarchies (cpu,cpuacct) share one folder.
func (c *Cgroup) Paths() map[string]string { return c.m.paths() }

// folders lists the container's folders, each once.
func (c *Cgroup) folders() []string {
	var list []string
	for _, dir := range c.m.paths() {
		if dir != "" && !slices.Contains(list, dir) {
			list = append(list, dir)
		}
	}
	return list
}

// writeLimits writes each limit into its file: the kernel checks the
// value there and applies it at once.
func (c *Cgroup) writeLimits(limits []limit) error {
	for _, l := range limits {
		err := c.tr.Do("step03", "write", func() string { return c.describeWrite(l) },
			func() error { return writeFile(c.m.dir(l.controller), l.file, l.value) })
		switch {
		case errors.Is(err, os.ErrNotExist) && l.orElse != nil:
			err = c.writeLimits([]limit{*l.orElse})
		case errors.Is(err, os.ErrNotExist) && l.optional:
			continue // the kernel does not count swap: nothing to limit
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%s: this kernel has no %s in its %s controller", l.flag, l.file, l.controller)
		case err != nil:
			return fmt.Errorf("%s: the kernel refused %s in %s: %w", l.flag, l.value, l.file, err)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
