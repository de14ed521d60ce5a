package testkit

// Devices is the end-to-end suite of the device cgroup and --device
// (issue 20): root inside a default container, holding CAP_MKNOD, makes
// a node for the host's disk and cannot open it; the default devices
// work; --device gives one device, as its permissions say; --privileged
// is the control. Nothing is ever written to a device but the test's own
// loop device, and the host's disk is only ever opened by a container
// the device cgroup confines.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// devicesSuite is what the subtests share: the top test, whose sandbox
// holds the loaded image, and a loop device of the test's own holding
// diskMarker at its start.
type devicesSuite struct {
	top  *testing.T
	loop string
}

const diskMarker = "boxcraft-devices"

// Devices checks the device cgroup and --device, end to end.
func Devices(t *testing.T) {
	RequireRoot(t)
	s := &devicesSuite{top: t, loop: LoopDevice(t, 1<<20)}
	disk, err := os.OpenFile(s.loop, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = disk.WriteString(diskMarker)
	require.NoError(t, err)
	require.NoError(t, disk.Close())
	busybox := newNamedImage(t, "docker.io/library/busybox:latest", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, BaseLayer(t))
	loaded(t, Run(t, "load", "-i", busybox.layout(t)), "Loaded image: busybox:latest")

	t.Run("DefaultDevicesWork", s.defaults)
	t.Run("HostDiskRefused", s.hostDisk)
	t.Run("MadeNodeRefusedPrivilegedAllowed", s.madeNode)
	t.Run("AddedDevice", s.added)
	t.Run("AddedDeviceUserNamespace", s.userNamespace)
	t.Run("Refused", s.refused)
}

// defaults: /dev/null, zero, urandom open and read inside.
func (s *devicesSuite) defaults(t *testing.T) {
	ShareSandbox(t, s.top)
	f := Probe(t, Run(t, "run", "--rm", "busybox", "/probe", "readdev=/dev/null", "readdev=/dev/zero", "readdev=/dev/urandom"))
	for _, dev := range []string{"/dev/null", "/dev/zero", "/dev/urandom"} {
		if a := f.Experiments.Attacks["readdev="+dev]; assert.NotNil(t, a, dev) {
			assert.True(t, a.OK, "%s reads: %s", dev, a.Error)
		}
	}
}

// hostDisk: the node for the host's root disk is made (CAP_MKNOD, and
// the device cgroup allows mknod), and its open is refused: EPERM, the
// device cgroup's answer. The control is madeNode's, on a loop device:
// this disk is never opened by an unconfined container. (Some hosts, a
// sandboxed VM, refuse their root disk even to the host's root: there
// this test passes without the device cgroup, and madeNode is the one
// that fails.)
func (s *devicesSuite) hostDisk(t *testing.T) {
	ShareSandbox(t, s.top)
	arg := "disk=b:" + deviceNumbers(t, s.loop)
	if kind, major, minor, ok := hostRootDisk(t); ok {
		arg = fmt.Sprintf("disk=%s:%d:%d", kind, major, minor)
	} else {
		// The v2 VM's root is a tmpfs, and it has no disk: the test's
		// loop device stands for one.
		t.Logf("the host has no disk (neither / nor /sys/block names one): the loop device %s stands for it", s.loop)
	}
	f := Probe(t, Run(t, "run", "--rm", "busybox", "/probe", arg))
	assertOpenRefused(t, f.Experiments.Attacks[arg], "the host's disk "+arg)
}

// assertOpenRefused checks that the node was made and its open refused
// with EPERM.
func assertOpenRefused(t *testing.T, a *facts.Attempt, what string) {
	t.Helper()
	if !assert.NotNil(t, a, what) {
		return
	}
	assert.False(t, a.OK, "%s: opened inside a default container", what)
	assert.Equal(t, "EPERM", a.Errno, "%s: %s", what, a.Error)
	assert.True(t, strings.HasPrefix(a.Error, "open "), "%s: the node was made, its open refused: %s", what, a.Error)
}

// madeNode: a node made inside for the test's loop device does not open
// by default, and does under --privileged (the control: the same node,
// the same open, every device allowed).
func (s *devicesSuite) madeNode(t *testing.T) {
	ShareSandbox(t, s.top)
	arg := "disk=b:" + deviceNumbers(t, s.loop)
	f := Probe(t, Run(t, "run", "--rm", "busybox", "/probe", arg))
	assertOpenRefused(t, f.Experiments.Attacks[arg], "the loop device "+arg)
	f = Probe(t, Run(t, "run", "--rm", "--privileged", "busybox", "/probe", arg))
	if a := f.Experiments.Attacks[arg]; assert.NotNil(t, a) {
		assert.True(t, a.OK, "control: --privileged opens the node it made: %s", a.Error)
	}
}

// added: --device gives the loop device at the path asked, readable
// (the host's marker read inside); with :r it is not writable; without
// --device there is no such node.
func (s *devicesSuite) added(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "--rm", "--device", s.loop+":/dev/xdisk", "busybox", "head", "-c", fmt.Sprint(len(diskMarker)), "/dev/xdisk")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, diskMarker, r.Stdout, "the host's device, read inside")
	r = Run(t, "run", "--rm", "--device", s.loop+":/dev/xdisk:r", "busybox", "sh", "-c",
		"head -c 4 /dev/xdisk; echo; echo XXXX > /dev/xdisk")
	assert.NotEqual(t, 0, r.Code, r)
	assert.Equal(t, diskMarker[:4]+"\n", r.Stdout, "read: %s", r)
	assert.Contains(t, r.Stderr, "Operation not permitted", ":r, no write: EPERM")
	written, err := os.ReadFile(s.loop)
	require.NoError(t, err)
	assert.Equal(t, diskMarker, string(written[:len(diskMarker)]), "the device is unchanged")
	r = Run(t, "run", "--rm", "busybox", "ls", "/dev/xdisk")
	assert.NotEqual(t, 0, r.Code, "without --device, no node: %s", r)
}

// userNamespace: with --uidmap, mknod is refused to root inside, and the
// host's node with the same numbers is bound instead, under the name
// asked for.
func (s *devicesSuite) userNamespace(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "run", "--rm", "--uidmap", "0:100000:65536", "--device", "/dev/zero:/dev/myzero:r", "busybox", "sh", "-c",
		"head -c 5 /dev/myzero | wc -c; grep -c ' /dev/myzero ' /proc/self/mountinfo")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "5\n1\n", r.Stdout, "five bytes read, through a bind mount of the host's node")
}

// refused: a --device that is missing, not a device, or malformed is
// refused in one line, with nothing made.
func (s *devicesSuite) refused(t *testing.T) {
	ShareSandbox(t, s.top)
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct{ value, names string }{
		{missing, missing},
		{"/etc/hostname", "not a device"},
		{"/dev/null:relative", "relative"},
		{"/dev/null:/etc/null", "/etc/null"},
		{"/dev/null:/dev/n:rwx", "rwx"},
	} {
		assertLeavesNothing(t, "--device "+tc.value, func() {
			assertFailedOneLine(t, Run(t, "run", "--rm", "--device", tc.value, "busybox", "true"), 125, tc.names)
		})
	}
}

// hostRootDisk is the block device of the host's root, as the host sees
// it: the numbers of the mount on / (/proc/self/mountinfo's MAJ:MIN), or
// where / is on no block device (an overlay, a virtual filesystem), the
// first disk the kernel lists in /sys/block.
func hostRootDisk(t *testing.T) (kind string, major, minor uint32, ok bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == "/" {
			_, _ = fmt.Sscanf(fields[2], "%d:%d", &major, &minor)
		}
	}
	if major != 0 {
		return "b", major, minor, true
	}
	disks, _ := filepath.Glob("/sys/block/*/dev")
	for _, dev := range disks {
		name := filepath.Base(filepath.Dir(dev))
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "zram") {
			continue
		}
		numbers, err := os.ReadFile(dev)
		if err == nil {
			if _, err := fmt.Sscanf(string(numbers), "%d:%d", &major, &minor); err == nil {
				return "b", major, minor, true
			}
		}
	}
	return "", 0, 0, false
}
