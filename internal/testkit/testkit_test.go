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
