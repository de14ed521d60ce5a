package rootfs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/facts"
	"github.com/boxcraft/boxcraft/internal/testkit"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// childEnv, set to a container's JSON, makes the test binary a container's
// init instead: Setup needs a new mount namespace of its own, which a
// test process cannot make for itself alone (it is multithreaded).
const childEnv = "BOXCRAFT_ROOTFS_TEST_CHILD"

func TestMain(m *testing.M) {
	if dirs := os.Getenv(refusedEnv); dirs != "" {
		if err := readOnlyRefused(strings.Split(dirs, ":")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if c := os.Getenv(childEnv); c != "" {
		if err := childSetup(c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testkit.Main(m) // removes what the kit built: the test image, the probe
}

// seen is what the child reports after Setup, as init would leave it.
type seen struct {
	Mountinfo string
	Dev       map[string]entry
	Cwd       string
	Marker    string // /marker's content, which the test wrote in the rootfs
}

// entry is one file in /dev.
type entry struct {
	Mode os.FileMode
	Rdev uint64
	Link string
}

// childSetup runs Setup and ReadOnlyProcSys, then prints what it sees.
func childSetup(settings string) error {
	var c spec.Container
	if err := json.Unmarshal([]byte(settings), &c); err != nil {
		return err
	}
	if err := Setup(&c, nil, nil, nil); err != nil {
		return err
	}
	if err := ReadOnlyProcSys(&c); err != nil {
		return err
	}
	var s seen
	var err error
	if s.Cwd, err = os.Getwd(); err != nil {
		return err
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	s.Mountinfo = string(mountinfo)
	marker, _ := os.ReadFile("/marker")
	s.Marker = string(marker)
	if s.Dev, err = listDev(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(s)
}

func listDev() (map[string]entry, error) {
	names, err := os.ReadDir("/dev")
	if err != nil {
		return nil, err
	}
	dev := map[string]entry{}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Lstat("/dev/"+n.Name(), &st); err != nil {
			return nil, err
		}
		info, _ := n.Info()
		link, _ := os.Readlink("/dev/" + n.Name())
		dev[n.Name()] = entry{Mode: info.Mode(), Rdev: st.Rdev, Link: link}
	}
	return dev, nil
}

// runSetup runs Setup for c in a child in new namespaces (flags, and
// always a mount namespace) and returns what the child saw.
func runSetup(t *testing.T, c spec.Container, flags uintptr) seen {
	t.Helper()
	settings, err := json.Marshal(c)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(settings))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | flags, Pdeathsig: unix.SIGKILL}
	require.NoError(t, cmd.Run(), "Setup in a child: %s", stderr.String())
	var s seen
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &s), stdout.String())
	return s
}

// mount is one line of mountinfo, parsed.
type mount struct{ root, fstype, mountOptions, fsOptions string }

func mounts(t *testing.T, mountinfo string) map[string]mount {
	t.Helper()
	byPoint := map[string]mount{}
	for _, line := range strings.Split(mountinfo, "\n") {
		if root, point, fstype, options, ok := facts.ParseMount(line); ok {
			byPoint[point] = mount{root, fstype, facts.MountOptions(line), options}
		}
	}
	return byPoint
}

func hasOption(options, want string) bool { return slices.Contains(strings.Split(options, ","), want) }

// hostMounts is the host's mount table where this test could change it:
// "/" (whose propagation makeMountsPrivate must not change on the host)
// and anything below the test's folders. Other tests on the machine may
// mount elsewhere meanwhile.
func hostMounts(t *testing.T, dirs ...string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	var lines []string
	for _, line := range strings.Split(string(data), "\n") {
		_, point, _, _, ok := facts.ParseMount(line)
		if ok && (point == "/" || slices.ContainsFunc(dirs, func(dir string) bool { return strings.HasPrefix(point, dir) })) {
			lines = append(lines, line)
		}
	}
	require.NotEmpty(t, lines)
	return lines
}

func TestSetupInNewNamespaces(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	require.NoError(t, os.WriteFile(filepath.Join(rootfs, "marker"), []byte("inside\n"), 0o644))
	volume := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(volume, "file"), []byte("volume\n"), 0o644))
	before := hostMounts(t, rootfs, volume)

	c := spec.Container{
		Root:       spec.Root{Path: rootfs, ReadOnly: true},
		Namespaces: spec.Namespaces{PID: true, IPC: true, Net: true, UTS: true},
		Mounts: []spec.Mount{
			{Source: volume, Target: "/data/volume", Type: "bind", Options: []string{"rbind", "ro", "nosuid"}},
			{Target: "/scratch", Type: "tmpfs", Options: []string{"size=1m", "mode=1777", "nodev"}},
		},
	}
	s := runSetup(t, c, unix.CLONE_NEWPID|unix.CLONE_NEWIPC|unix.CLONE_NEWUTS|unix.CLONE_NEWNET)

	require.Equal(t, before, hostMounts(t, rootfs, volume), "the host's mount table changed")
	require.Equal(t, "/", s.Cwd, "Setup leaves init in the new root's /")
	require.Equal(t, "inside\n", s.Marker, "/ is not the rootfs")
	m := mounts(t, s.Mountinfo)
	for point := range m {
		require.False(t, strings.HasPrefix(point, rootfs), "a host path %s is still mounted: the old root was not detached", point)
	}
	require.True(t, hasOption(m["/"].mountOptions, "ro"), "--read-only: / is %v", m["/"])
	require.Equal(t, "proc", m["/proc"].fstype)
	require.Equal(t, "/", m["/proc"].root, "a new proc, not a bind of the host's")
	require.True(t, hasOption(m["/proc/sys"].mountOptions, "ro"), "/proc/sys: %v", m["/proc/sys"])
	require.False(t, hasOption(m["/proc"].mountOptions, "ro"), "only /proc/sys is read-only: %v", m["/proc"])
	require.Equal(t, "sysfs", m["/sys"].fstype)
	require.True(t, hasOption(m["/sys"].mountOptions, "ro"), "/sys: %v", m["/sys"])
	require.Equal(t, "tmpfs", m["/dev"].fstype)
	require.True(t, hasOption(m["/dev"].mountOptions, "nosuid"), "/dev: %v", m["/dev"])
	require.Equal(t, "devpts", m["/dev/pts"].fstype)
	require.True(t, hasOption(m["/dev/pts"].fsOptions, "ptmxmode=666"), "/dev/pts: %v", m["/dev/pts"])
	require.True(t, hasOption(m["/dev/pts"].fsOptions, "gid=5"), "/dev/pts's terminals are the tty group's: %v", m["/dev/pts"])
	require.Equal(t, "tmpfs", m["/dev/shm"].fstype)
	require.Equal(t, "mqueue", m["/dev/mqueue"].fstype, "an IPC namespace of its own gets its mqueue")
	require.Equal(t, "tmpfs", m["/scratch"].fstype)
	require.True(t, hasOption(m["/scratch"].mountOptions, "nodev"), "/scratch: %v", m["/scratch"])
	require.True(t, hasOption(m["/data/volume"].mountOptions, "ro"), "/data/volume: %v", m["/data/volume"])
	require.True(t, hasOption(m["/data/volume"].mountOptions, "nosuid"), "/data/volume: %v", m["/data/volume"])
	require.NotContains(t, m, "/dev/console", "stdin is no terminal: no console")

	checkDev(t, s.Dev)
}

func checkDev(t *testing.T, dev map[string]entry) {
	t.Helper()
	names := []string{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"}
	got := make([]string, 0, len(dev))
	for name := range dev {
		got = append(got, name)
	}
	slices.Sort(got)
	require.Equal(t, names, got, "/dev holds what every container's does, nothing of the host's")
	for _, d := range devices() {
		e := dev[d.name]
		require.Equal(t, os.ModeDevice|os.ModeCharDevice|0o666, e.Mode, "/dev/%s", d.name)
		require.Equal(t, unix.Mkdev(d.major, d.minor), e.Rdev, "/dev/%s", d.name)
	}
	require.Equal(t, "pts/ptmx", dev["ptmx"].Link)
}

func TestSetupSharingTheHostsNamespaces(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	before := hostMounts(t, rootfs)
	s := runSetup(t, spec.Container{Root: spec.Root{Path: rootfs}}, 0)

	require.Equal(t, before, hostMounts(t, rootfs), "the host's mount table changed")
	m := mounts(t, s.Mountinfo)
	require.False(t, hasOption(m["/"].mountOptions, "ro"), "no --read-only: / is %v", m["/"])
	require.Equal(t, "proc", m["/proc"].fstype, "the host's /proc, bound")
	require.True(t, hasOption(m["/proc/sys"].mountOptions, "ro"), "/proc/sys: %v", m["/proc/sys"])
	require.NotContains(t, m, "/dev/mqueue", "the host's IPC namespace: no mqueue of its own")
	require.NotContains(t, s.Dev, "mqueue")
}

// TestMountTargetsStayInTheRoot: an image's symlink, absolute or
// climbing with "..", leads a mount's target back into the root, never
// to the host's folder of that name.
func TestMountTargetsStayInTheRoot(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	host := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(rootfs, host), 0o755))
	require.NoError(t, os.Symlink(host, filepath.Join(rootfs, "absolute")))
	require.NoError(t, os.Symlink("../../../../../../.."+host, filepath.Join(rootfs, "climbing")))
	c := spec.Container{
		Root: spec.Root{Path: rootfs},
		Mounts: []spec.Mount{
			{Target: "/absolute/a", Type: "tmpfs"},
			{Target: "/climbing/b", Type: "tmpfs"},
			{Target: "/../../c", Type: "tmpfs"},
		},
	}
	s := runSetup(t, c, unix.CLONE_NEWPID)

	m := mounts(t, s.Mountinfo)
	for _, point := range []string{host + "/a", host + "/b", "/c"} {
		require.Equal(t, "tmpfs", m[point].fstype, "%s inside the root: %v", point, m)
	}
	entries, err := os.ReadDir(host)
	require.NoError(t, err)
	require.Empty(t, entries, "a target was made in the host's folder")
	for _, name := range []string{"a", "b"} {
		require.DirExists(t, filepath.Join(rootfs, host, name), "made inside the rootfs")
	}
}

func TestSetupRefusesASymlinkedProc(t *testing.T) {
	rootfs := testkit.FreshRootfs(t)
	require.NoError(t, os.RemoveAll(filepath.Join(rootfs, "proc")))
	require.NoError(t, os.Symlink("/etc", filepath.Join(rootfs, "proc")))
	settings, err := json.Marshal(spec.Container{Root: spec.Root{Path: rootfs}})
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+string(settings))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID, Pdeathsig: unix.SIGKILL}
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "Setup mounted proc through a symlink: %s", out)
	require.Contains(t, string(out), "/proc")
}
