package cgroups_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/internal/testkit"
)

// opensScript tries, with the shell's redirections, to open each device
// for reading and for writing, and says which opens worked; an open the
// device cgroup refuses fails with EPERM before the device is reached.
// Nothing is read from or written to the disk: ": <" and ": >>" open
// and close.
func opensScript(devices ...string) string {
	var s strings.Builder
	for _, d := range devices {
		fmt.Fprintf(&s, "(: < %[1]s) 2>/dev/null && echo read %[1]s; (: >> %[1]s) 2>/dev/null && echo write %[1]s; ", d)
	}
	return s.String() + "true"
}

// runIn runs sh -c script in the cgroup (started in it on v2, moved in
// before it goes on on v1), or where the test is with cg nil, and
// returns its output.
func runIn(t *testing.T, cg *cgroups.Cgroup, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read go; "+script)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	cmd.SysProcAttr = &unix.SysProcAttr{}
	var into *os.File
	if cg != nil {
		into, err = cg.IntoFD()
		require.NoError(t, err)
	}
	if into != nil {
		defer into.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(into.Fd())
	}
	var out strings.Builder
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	if cg != nil && into == nil {
		assert.NoError(t, cg.Add(cmd.Process.Pid))
	}
	_, _ = stdin.Write([]byte("go\n"))
	stdin.Close()
	require.NoError(t, cmd.Wait())
	return out.String()
}

// TestLimitDevices: in a container's cgroup the default devices open, a
// block device does not until a rule allows it, and then only as the
// rule says; --privileged allows it. The device is a loop device of the
// test's own; its open is only an open.
func TestLimitDevices(t *testing.T) {
	parent := testParent(t)
	loop := testkit.LoopDevice(t, 1<<20)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(loop, &st))
	asDevice := spec.Device{Path: "/dev/disk", Type: "b", Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)), Access: "r"}
	script := opensScript("/dev/zero", "/dev/urandom", loop)
	for name, c := range map[string]struct {
		security spec.Security
		want     string
	}{
		"Default":    {spec.Security{}, "read /dev/zero\nwrite /dev/zero\nread /dev/urandom\nwrite /dev/urandom\n"},
		"ReadOnly":   {spec.Security{Devices: []spec.Device{asDevice}}, "read /dev/zero\nwrite /dev/zero\nread /dev/urandom\nwrite /dev/urandom\nread " + loop + "\n"},
		"Privileged": {spec.Security{Privileged: true}, "read /dev/zero\nwrite /dev/zero\nread /dev/urandom\nwrite /dev/urandom\nread " + loop + "\nwrite " + loop + "\n"},
	} {
		t.Run(name, func(t *testing.T) {
			cg, err := cgroups.New(parent, "devices-"+name, spec.Resources{}, nil)
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, cg.Remove()) })
			require.NoError(t, cg.LimitDevices(c.security))
			if dir := cg.Paths()["devices"]; dir != "" && name == "Default" {
				list, err := os.ReadFile(filepath.Join(dir, "devices.list"))
				require.NoError(t, err)
				assert.Equal(t, v1DefaultList, string(list), "v1: the kernel's list is the rules")
			}
			assert.Equal(t, c.want, runIn(t, cg, script))
		})
	}
	assert.Contains(t, runIn(t, nil, script), "write "+loop, "control: outside the cgroup, the test opens the device")
}

// v1DefaultList is devices.list as the kernel shows the default rules.
const v1DefaultList = "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:8 rwm\nc 1:7 rwm\nc 5:0 rwm\nc 1:5 rwm\nc 1:9 rwm\nc 136:* rwm\nc 5:2 rwm\nc 10:200 rwm\n"

// TestDeviceProgramOnCgroup2 loads the v2 device program into the kernel
// and attaches it to a cgroup2 folder of the test's: on v2 the one tree,
// on a v1 host with v2's tree beside the hierarchies (systemd's hybrid
// layout, at /sys/fs/cgroup/unified), that tree, where the kernel runs
// the program as it would on v2. The program's descriptor is closed once
// attached: the attachment alone keeps it answering. Where no cgroup2
// tree is mounted, the verifier's acceptance is what is checked.
func TestDeviceProgramOnCgroup2(t *testing.T) {
	parent := testParent(t)
	root := cgroup2Root(t)
	if root == "" {
		require.NoError(t, cgroups.LoadDeviceProgram("c 1:3 rw"), "the verifier accepts the program")
		return
	}
	dir := filepath.Join(root, parent)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, cgroups.AttachDeviceProgram(dir, "c 1:3 rw", "c 1:5 r"))
	script := opensScript("/dev/zero", "/dev/urandom")
	assert.Equal(t, "read /dev/zero\n", runInFolder(t, dir, script), "null read and written, zero read, nothing else")
	assert.Equal(t, "read /dev/zero\nwrite /dev/zero\nread /dev/urandom\nwrite /dev/urandom\n", runIn(t, nil, script), "control")
}

// cgroup2Root is where a cgroup2 tree is mounted, or "".
func cgroup2Root(t *testing.T) string {
	for _, dir := range []string{cgroups.Root, filepath.Join(cgroups.Root, "unified")} {
		var fs unix.Statfs_t
		if unix.Statfs(dir, &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	t.Log("no cgroup2 tree mounted: the program is only loaded")
	return ""
}

// runInFolder runs sh -c script started in the cgroup2 folder dir
// (CLONE_INTO_CGROUP), and returns its output.
func runInFolder(t *testing.T, dir, script string) string {
	t.Helper()
	folder, err := os.Open(dir)
	require.NoError(t, err)
	defer folder.Close()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &unix.SysProcAttr{UseCgroupFD: true, CgroupFD: int(folder.Fd())}
	out, err := cmd.Output()
	require.NoError(t, err)
	return string(out)
}
