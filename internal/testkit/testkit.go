// Package testkit is what every step's tests share: the root check, the
// binary under test, a fresh rootfs with the probe in it, a way to run the
// binary and read the probe's report, and checks that nothing was left
// behind on the host.
//
// Environment variables replace what the kit would otherwise build, so that
// compiled test binaries (go test -c) run where there is no Go toolchain,
// and so that one step's tests can be pointed at another step's binary:
//
//	BOXCRAFT_BIN     the step binary under test (default: built from the test's package)
//	BOXCRAFT_PROBE   the probe binary (default: built from internal/probe)
//	BOXCRAFT_ROOTFS  the image tar to unpack as each test's rootfs (default: made from busybox-static)
//	CI=true          a test that would skip fails instead
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/internal/busybox"
)

// Timeout bounds every command a test runs, so a hung container fails its
// test instead of hanging the whole run.
const Timeout = 2 * time.Minute

// Main runs a package's tests and then removes what the kit built for
// them. Each step's tests call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// Skip skips the test with a reason, except when CI=true: there a skipped
// test would let an untested change pass, so it fails instead.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, where a skipped test fails)", reason)
	}
	t.Skip(reason)
}

// RequireRoot skips a test that needs root when run as a normal user.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root: run the tests with sudo make test")
	}
}

var (
	workOnce sync.Once
	workDir  string
	workErr  error
)

// work is a directory of this test process's own, readable by every user,
// for what the kit builds once and shares between tests.
func work(t testing.TB) string {
	t.Helper()
	workOnce.Do(func() {
		workDir, workErr = os.MkdirTemp("", "boxcraft-testkit-")
		if workErr == nil {
			workErr = os.Chmod(workDir, 0o755) // a test may run the binary as another user
		}
	})
	if workErr != nil {
		t.Fatalf("testkit work directory: %v", workErr)
	}
	return workDir
}

// once builds or reads something a single time per test process and hands
// every caller the same result.
type once struct {
	sync.Once
	value string
	err   error
}

func (o *once) get(t testing.TB, make func() (string, error)) string {
	t.Helper()
	o.Do(func() { o.value, o.err = make() })
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.value
}

var binary, probe, image once

// RuntimePackage is the package Binary builds when $BOXCRAFT_BIN is not
// set: the test's own folder, a step's; boxcraft's end-to-end tests,
// which live in packages of their own (final/e2e), name boxcraft's.
var RuntimePackage = "."

// BoxcraftPackage is the package of final/'s runtime, for RuntimePackage.
const BoxcraftPackage = "github.com/boxcraft/boxcraft/final/cmd/boxcraft"

// Binary returns the step binary under test: $BOXCRAFT_BIN when it is set,
// otherwise RuntimePackage, built once.
func Binary(t testing.TB) string {
	t.Helper()
	bin := givenOrBuilt(t, &binary, "BOXCRAFT_BIN", "step", RuntimePackage)
	if RuntimePackage == BoxcraftPackage {
		boxcraftHelpers(t, bin)
	}
	return bin
}

// ProbeBinary returns the probe: $BOXCRAFT_PROBE, or built once, static.
func ProbeBinary(t testing.TB) string {
	t.Helper()
	return givenOrBuilt(t, &probe, "BOXCRAFT_PROBE", "probe", "github.com/boxcraft/boxcraft/internal/probe")
}

// givenOrBuilt returns the binary the environment variable env names, or
// else builds pkg once into the work directory.
func givenOrBuilt(t testing.TB, o *once, env, name, pkg string) string {
	t.Helper()
	return o.get(t, func() (string, error) {
		if bin := os.Getenv(env); bin != "" {
			return copyExecutable(bin, filepath.Join(work(t), name))
		}
		return build(work(t), name, pkg)
	})
}

// copyExecutable copies a binary to where it is needed, executable by
// every user: into the work directory, since some tests run the binary
// under test as a normal user and the folder it was given in may be
// private (a home folder); and into each test's rootfs, for the probe.
func copyExecutable(from, to string) (string, error) {
	data, err := os.ReadFile(from)
	if err != nil {
		return "", err
	}
	return to, os.WriteFile(to, data, 0o755)
}

// build compiles a package into dir/name as a static binary: without
// cgo, or, for a package that needs it (boxcraft-exec-init: it joins
// namespaces in C, final/nsenter/nsexec), with cgo, linked statically.
func build(dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	args, cgo := []string{"build", "-o", out}, "CGO_ENABLED=0"
	if needsCgo(pkg) {
		args, cgo = append(args, StaticCgoFlags...), "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), cgo)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}

// StaticCgoFlags build a program that uses cgo as a static binary, as the
// Makefile builds boxcraft-exec-init: the C library linked in, and Go's
// own DNS and user lookups rather than the C library's, which a static
// binary cannot load.
var StaticCgoFlags = []string{"-tags", "netgo,osusergo", "-ldflags", "-linkmode external -extldflags -static"}

// needsCgo says whether pkg, or a package outside the standard library
// that it imports, has cgo files.
func needsCgo(pkg string) bool {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// imageTar returns the path of the test image: $BOXCRAFT_ROOTFS, or the
// workshop's busybox image written once.
func imageTar(t testing.TB) string {
	t.Helper()
	return image.get(t, func() (string, error) {
		if tar := os.Getenv("BOXCRAFT_ROOTFS"); tar != "" {
			return filepath.Abs(tar)
		}
		bb, err := busybox.Find()
		if err != nil {
			return "", err
		}
		data, err := busybox.Tar(bb)
		if err != nil {
			return "", err
		}
		path := filepath.Join(work(t), "busybox.tar")
		return path, os.WriteFile(path, data, 0o644)
	})
}

// Rootfs unpacks a fresh copy of the test image into a directory of the
// test's own, with the probe at /probe, and returns the directory. It is
// removed when the test ends.
func Rootfs(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("tar", "-xf", imageTar(t), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack the test image: %v\n%s", err, msg)
	}
	if _, err := copyExecutable(ProbeBinary(t), filepath.Join(dir, "probe")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Result is what a finished command left: its output and exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit status %d\n--- stdout:\n%s--- stderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Command prepares the binary under test with args, bounded by Timeout.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	return HostCommand(t, Binary(t), args...)
}

// HostCommand prepares a program of the host with args, bounded by
// Timeout, with the test's sandbox in its environment (sandbox.go): a
// runtime it starts keeps its state and cgroups in the test's own, and
// runs in the test's own network namespace (netns.go), never the
// machine's.
func HostCommand(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	env := append(os.Environ(), sandboxEnv(t)...) // first: its cleanup then runs after the command's
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return InTestNetns(t, cmd)
}

// Run runs the binary under test with args and no input.
func Run(t testing.TB, args ...string) Result {
	t.Helper()
	return RunCmd(t, Command(t, args...))
}

// RunCmd runs cmd to the end and collects its output and exit status. A
// command that could not start at all fails the test.
func RunCmd(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	return Start(t, cmd).Wait(t)
}

// Running is a command started in the background.
type Running struct {
	Cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when the command has ended
}

// Start starts cmd and returns at once. Wait collects what it left; a
// command still running when the test ends is killed.
func Start(t testing.TB, cmd *exec.Cmd) *Running {
	t.Helper()
	r := &Running{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	go func() {
		_ = cmd.Wait() // a non-zero exit is an error to os/exec; the status says all
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // harmless when it has ended
		<-r.done
	})
	return r
}

// Wait waits for the command to end and returns its output and status.
func (r *Running) Wait(t testing.TB) Result {
	t.Helper()
	<-r.done
	return Result{Stdout: r.stdout.String(), Stderr: r.stderr.String(), Code: r.Cmd.ProcessState.ExitCode()}
}

// WaitForFile waits until path exists: how a container's command tells a
// test that it has got to a given point. A command that ends first fails
// the test at once.
func (r *Running) WaitForFile(t testing.TB, path string) {
	t.Helper()
	deadline := time.After(Timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-r.done:
			t.Fatalf("the command ended before %s appeared:\n%s", path, r.Wait(t))
		case <-deadline:
			t.Fatalf("%s never appeared", path)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
