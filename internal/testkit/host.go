package testkit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// HostNamespaces returns the inode of each namespace the test process is
// in, keyed as in /proc/self/ns (uts, pid, mnt, …), but for net: a root
// test's runs have the test's own network namespace as their host's.
func HostNamespaces(t testing.TB) map[string]uint64 {
	t.Helper()
	ns, err := facts.ReadNamespaces()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 { // the host of the test's runs is its own network namespace (netns.go)
		_, ns["net"] = TestNetns(t)
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
// processes show. A root that pivot_root made lies in a mount the host
// does not have, and reads as "/" there: it is dir when it is the same
// folder (device and inode).
func ProcessesRootedIn(dir string) []int {
	var want unix.Stat_t
	known := unix.Stat(dir, &want) == nil
	return processes(func(proc string) bool {
		root, err := os.Readlink(filepath.Join(proc, "root"))
		if err == nil && (root == dir || strings.HasPrefix(root, dir+"/")) {
			return true
		}
		var st unix.Stat_t
		return known && unix.Stat(filepath.Join(proc, "root"), &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino
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

// ChildrenOf returns the pids of the processes whose parent is pid.
func ChildrenOf(pid int) []int {
	return processes(func(proc string) bool {
		stat, err := os.ReadFile(filepath.Join(proc, "stat"))
		// "PID (COMM) STATE PPID …": COMM may hold spaces, so look after it.
		end := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[end+1:]))
		return err == nil && end > 0 && len(fields) > 1 && fields[1] == strconv.Itoa(pid)
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
// fails the test if its runs left a mount behind or a process still runs
// with its root in rootfs. Mounts count as the test's when they lie in
// its own temporary folders (where rootfs and its state folder are): the
// rest of the host, a learner's `make run` in another terminal included,
// mounts and unmounts as it likes meanwhile.
func CheckNothingLeft(t testing.TB, rootfs string) {
	t.Helper()
	before := MountPoints(t)
	testDir := filepath.Dir(filepath.Dir(rootfs)) // t.TempDir()'s parent: every folder of the test's
	t.Cleanup(func() {
		var left []string
		for point := range MountPoints(t) {
			ours := strings.HasPrefix(point, testDir+"/")
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

// LoopDevice attaches a loop device to a new file of size bytes, for a
// test to read and write as a block device, and detaches it when the test
// ends. It returns the device's path.
func LoopDevice(t testing.TB, size int64) string {
	t.Helper()
	RequireRoot(t)
	backing, err := os.Create(filepath.Join(t.TempDir(), "disk.img"))
	require.NoError(t, err)
	defer backing.Close()
	require.NoError(t, backing.Truncate(size))
	control, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		Skip(t, fmt.Sprintf("no loop devices here: %v", err))
	}
	defer control.Close()
	// Another program may take the free device first (EBUSY): ask again.
	for try := 0; try < 10; try++ {
		n, err := unix.IoctlRetInt(int(control.Fd()), unix.LOOP_CTL_GET_FREE)
		require.NoError(t, err, "find a free loop device")
		path := fmt.Sprintf("/dev/loop%d", n)
		dev, err := openWhenThere(path)
		require.NoError(t, err)
		err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(backing.Fd()))
		if errors.Is(err, unix.EBUSY) {
			dev.Close()
			continue
		}
		require.NoError(t, err, "attach %s", path)
		t.Cleanup(func() {
			defer dev.Close()
			assert.NoError(t, unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0), "detach %s", path)
		})
		return path
	}
	t.Fatal("every free loop device was taken before the test could attach it")
	return ""
}

// openWhenThere opens a device node that the kernel may only just have
// made (devtmpfs adds a new loop device's node a moment later).
func openWhenThere(path string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || try == 100 {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deviceNumbers is a device's MAJOR:MINOR, as cgroup files name it.
func deviceNumbers(t testing.TB, path string) string {
	t.Helper()
	dev := deviceOf(t, path)
	return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
}

// deviceOf is the device number of the device node at path.
func deviceOf(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Rdev
}

// devNull gives a rootfs a /dev/null, which busybox's sh opens as the
// stdin of a command run in the background (&). A background command that
// cannot open it ends at once, which a test would mistake for one that ran.
func devNull(t testing.TB, rootfs string) {
	t.Helper()
	addDevice(t, rootfs, "dev/null", unix.S_IFCHR, unix.Mkdev(1, 3))
}

// addDevice gives a rootfs a device node at path (such as dev/null), of
// type kind (S_IFCHR or S_IFBLK) and number dev, that anyone may open: the
// container's root is an ordinary user on the host. The node's folder is a
// tmpfs of the test's own, because /tmp may be mounted nodev (the v2 VM's
// is), and no device opens there.
func addDevice(t testing.TB, rootfs, path string, kind uint32, dev uint64) {
	t.Helper()
	node := filepath.Join(rootfs, path)
	require.NoError(t, os.MkdirAll(filepath.Dir(node), 0o755))
	Mount(t, "boxcraft-dev", filepath.Dir(node), "tmpfs")
	require.NoError(t, unix.Mknod(node, kind|0o666, int(dev)))
	require.NoError(t, os.Chmod(node, 0o666)) // past the umask
}
