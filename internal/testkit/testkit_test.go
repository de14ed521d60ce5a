package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A root test run by a normal user skips with the reason, and with CI=true
// it fails instead: a green CI cannot hide an untested change. The test
// runs this very test binary again as nobody, where RequireRoot must stop
// it, by a skip or by a failure.
func TestRequireRootSkipsForAUserAndFailsInCI(t *testing.T) {
	if os.Getenv("BOXCRAFT_AS_NOBODY") == "1" {
		RequireRoot(t)
		t.Fatal("RequireRoot let a normal user through")
	}
	RequireRoot(t)
	// go's own build folder is private to root: run a copy nobody can reach.
	bin, err := copyExecutable(os.Args[0], filepath.Join(work(t), "testkit.test"))
	require.NoError(t, err)

	for ci, want := range map[string]string{"": "--- SKIP", "true": "--- FAIL"} {
		cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Dir = work(t)
		cmd.Env = append(os.Environ(), "CI="+ci, "BOXCRAFT_AS_NOBODY=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		assert.Contains(t, string(out), want+": "+t.Name(), "CI=%q:\n%s", ci, out)
		assert.Contains(t, string(out), "needs root: run the tests with sudo make test", "CI=%q:\n%s", ci, out)
		assert.NotContains(t, string(out), "let a normal user through", "CI=%q:\n%s", ci, out)
	}
}

func TestMain(m *testing.M) { Main(m) }

// A step's run flags become boxcraft's: the namespaces left out of --ns
// are the host's, a user namespace is a map given, and what boxcraft
// cannot say is left for it to refuse.
func TestDockerFlags(t *testing.T) {
	maps := []string{"--uidmap", defaultIDMap, "--gidmap", defaultIDMap}
	for _, tc := range []struct {
		step, docker []string
	}{
		{nil, append([]string{"--network", "none"}, maps...)},
		{[]string{withoutUser}, []string{"--network", "none"}},
		{[]string{"--ns=uts,mnt,ipc,net,cgroup"}, []string{"--pid", "host", "--network", "none"}},
		{[]string{Boxcraft.without("net")}, append([]string{"--network", "host"}, maps...)},
		{[]string{"--ns", "pid,mnt", "--hostname", "x"}, []string{"--hostname", "x", "--uts", "host", "--ipc", "host", "--network", "host", "--cgroupns", "host"}},
		{[]string{"--uid-map", "0:200000:1000", "--gid-map", "0:300000:1000"}, []string{"--uidmap", "0:200000:1000", "--gidmap", "0:300000:1000", "--network", "none"}},
		{[]string{"--gid-map", "a:b:c"}, []string{"--gidmap", "a:b:c", "--network", "none", "--uidmap", defaultIDMap}},
		{[]string{"-m", "32m", "--read-only"}, append([]string{"-m", "32m", "--read-only", "--network", "none"}, maps...)},
		{[]string{"--ns", "none"}, append([]string{"--ns=none", "--network", "none"}, maps...)},
		{[]string{"--ns=uts,pid,mnt,ipc,net,cgroup,time"}, []string{"--ns=uts,pid,mnt,ipc,net,cgroup,time", "--network", "none", "--uidmap", defaultIDMap, "--gidmap", defaultIDMap}},
	} {
		assert.Equal(t, tc.docker, dockerFlags(tc.step), "%q", tc.step)
	}
	assert.Equal(t, append(append([]string{"run", "--rm"}, stepsSecurity...), "--pid", "host", "--network", "none", "--rootfs", "/r", "sh"), Boxcraft.Args([]string{"--ns=uts,mnt,ipc,net,cgroup"}, "/r", "sh"))
	assert.Equal(t, []string{"run", "--ns=uts,pid", "/r", "sh"}, Step{}.Args([]string{"--ns=uts,pid"}, "/r", "sh"))
}
