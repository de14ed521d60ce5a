package testkit

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// HostNamespaces returns the inode of each namespace the test process is
// in, keyed as in /proc/self/ns (uts, pid, mnt, …).
func HostNamespaces(t testing.TB) map[string]uint64 {
	t.Helper()
	ns, err := facts.ReadNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// MountPoints returns the host's mount points, from this process's
// mountinfo.
func MountPoints(t testing.TB) map[string]bool {
	t.Helper()
	points := map[string]bool{}
	for _, point := range MountPointsOfType(t, "") {
		points[point] = true
	}
	return points
}

// MountPointsOfType lists the host's mounts of one filesystem type (nsfs,
// cgroup2, …), or of every type when fstype is "".
func MountPointsOfType(t testing.TB, fstype string) []string {
	t.Helper()
	points, err := mountPointsOfType(fstype)
	if err != nil {
		t.Fatal(err)
	}
	return points
}

func mountPointsOfType(fstype string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		if _, point, typ, _, ok := facts.ParseMount(line); ok && (fstype == "" || typ == fstype) {
			points = append(points, point)
		}
	}
	return points, nil
}

// Mount mounts a filesystem on the host for the test, and unmounts it when
// the test ends.
func Mount(t testing.TB, source, target, fstype string) {
	t.Helper()
	if err := unix.Mount(source, target, fstype, 0, ""); err != nil {
		t.Fatalf("mount %s on %s: %v", fstype, target, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", target, err)
		}
	})
}

// ProcessesRootedIn returns the pids of the processes whose root directory
// is dir or below it: on the host, that is how a chrooted container's
// processes show.
func ProcessesRootedIn(dir string) []int {
	return processes(func(proc string) bool {
		root, err := os.Readlink(filepath.Join(proc, "root"))
		return err == nil && (root == dir || strings.HasPrefix(root, dir+"/"))
	})
}

// ProcessesInNamespace returns the pids of the host's processes that are
// in the namespace of the given type (uts, pid, …) with the given inode.
func ProcessesInNamespace(kind string, inode uint64) []int {
	return processes(func(proc string) bool {
		var st unix.Stat_t
		return unix.Stat(filepath.Join(proc, "ns", kind), &st) == nil && st.Ino == inode
	})
}

// processes returns the pids of the processes whose /proc folder matches.
func processes(match func(proc string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && match(filepath.Join("/proc", e.Name())) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// CheckNothingLeft notes the host's mounts now and, when the test ends
// (after the cleanups the test registers later, such as its own mounts),
// fails the test if the workshop left a mount behind or a process still
// runs with its root in rootfs. Mounts count as the workshop's when they
// lie in the test's own temporary folder (rootfs's parent) or in a path
// naming boxcraft (its state folders): the rest of the host mounts and
// unmounts as it likes meanwhile.
func CheckNothingLeft(t testing.TB, rootfs string) {
	t.Helper()
	before := MountPoints(t)
	testDir := filepath.Dir(rootfs)
	t.Cleanup(func() {
		var left []string
		for point := range MountPoints(t) {
			ours := strings.HasPrefix(point, testDir+"/") || strings.Contains(point, "boxcraft")
			if ours && !before[point] {
				left = append(left, point)
			}
		}
		// Deepest first, and unmounted, so that removing the test's
		// folders afterwards cannot reach through a mount into the host.
		sort.Sort(sort.Reverse(sort.StringSlice(left)))
		for _, point := range left {
			t.Errorf("left behind: a mount on %s", point)
			_ = unix.Unmount(point, unix.MNT_DETACH)
		}
		for _, pid := range ProcessesRootedIn(rootfs) {
			t.Errorf("left behind: process %d, rooted in %s", pid, rootfs)
			_ = unix.Kill(pid, unix.SIGKILL) // ours: its root is this test's rootfs
		}
	})
}
