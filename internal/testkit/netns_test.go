package testkit

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Every command the kit starts runs in the test's own network namespace,
// with its loopback up and nothing else, and each command of one test in
// the same one; a subtest that shares its parent's sandbox shares it.
func TestCommandsRunInTheTestsNetns(t *testing.T) {
	RequireRoot(t)
	var own unix.Stat_t
	require.NoError(t, unix.Stat("/proc/self/ns/net", &own))
	path, inode := TestNetns(t)
	require.NotEqual(t, own.Ino, inode, "the test's namespace is the machine's")
	assert.Equal(t, inode, HostNamespaces(t)["net"], "HostNamespaces names the test's network namespace")

	for range 2 {
		r := RunCmd(t, HostCommand(t, "stat", "-L", "-c", "%i", "/proc/self/ns/net"))
		require.Equal(t, 0, r.Code, "%s", r)
		assert.Equal(t, strconv.FormatUint(inode, 10), strings.TrimSpace(r.Stdout), "a command ran outside the test's namespace %s", path)
	}
	r := RunCmd(t, HostCommand(t, "cat", "/proc/net/dev"))
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, 3, strings.Count(r.Stdout, "\n"), "two heading lines and the loopback, nothing else:\n%s", r.Stdout)
	assert.Contains(t, r.Stdout, "lo:")
	assert.True(t, loopbackIsUp(t, path), "the loopback of the test's namespace is down")

	r = RunCmd(t, HostCommand(t, "env"))
	assert.NotContains(t, r.Stdout, "BOXCRAFT_TESTKIT_", "the kit's own variables reach the program")

	t.Run("shared", func(sub *testing.T) {
		ShareSandbox(sub, t)
		_, shared := TestNetns(sub)
		assert.Equal(sub, inode, shared)
	})
}

// loopbackIsUp looks at lo's flags from inside the namespace at path, on
// a thread of its own that is never handed back: it ends with its
// goroutine, still locked, so the namespace it joined leaves with it.
func loopbackIsUp(t *testing.T, path string) bool {
	up := make(chan bool)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread goes
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			up <- false
			return
		}
		defer unix.Close(fd)
		if unix.Setns(fd, unix.CLONE_NEWNET) != nil {
			up <- false
			return
		}
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			up <- false
			return
		}
		defer unix.Close(s)
		req, _ := unix.NewIfreq("lo")
		err = unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, req)
		up <- err == nil && req.Uint16()&unix.IFF_UP != 0
	}()
	return <-up
}
