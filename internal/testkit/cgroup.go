package testkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Parent is the workshop's own cgroup, in every hierarchy: tests and
// containers make their cgroups below it and nowhere else.
const Parent = "boxcraft"

// Cgroup2 makes a cgroup of the test's own below the workshop's parent in
// the cgroup2 hierarchy (/sys/fs/cgroup on a cgroup v2 machine,
// /sys/fs/cgroup/unified in v1's hybrid mode) and removes it when the test
// ends. It returns the cgroup's path as /proc/PID/cgroup shows it
// ("/boxcraft/test-…") and the open folder, which SysProcAttr.CgroupFD
// takes to start a command straight in it.
func Cgroup2(t testing.TB) (string, *os.File) {
	t.Helper()
	mount, err := cgroup2Mount()
	if err != nil {
		Skip(t, err.Error())
	}
	parent := filepath.Join(mount, Parent)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatalf("make the workshop's cgroup: %v", err)
	}
	dir, err := os.MkdirTemp(parent, "test-")
	if err != nil {
		t.Fatalf("make a cgroup for the test: %v", err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		removeCgroupTree(t, dir) // not the workshop's parent: another run may be making its own cgroup there
	})
	return strings.TrimPrefix(dir, mount), f
}

// cgroup2Mount finds where the cgroup2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	points, err := mountPointsOfType("cgroup2")
	if err != nil || len(points) == 0 {
		return "", fmt.Errorf("no cgroup2 hierarchy is mounted (%v)", err)
	}
	return points[0], nil
}
