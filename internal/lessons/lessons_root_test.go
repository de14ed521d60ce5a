//go:build lessons

// The lessons' check needs root, Go, git and the machine's tools, so it
// runs only when asked (go test -tags lessons, which make test does as
// root): the make test-v2 VM, which runs every package's tests, has none
// of them.

package lessons

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLessons runs the checked blocks of every lesson, as root, in a copy
// of the repository at another path, as a learner would from a clone. It
// builds the steps and the default image there first. Each lesson runs in
// one shell, so that what a block sets (IMG=…, a cd) serves the next.
func TestLessons(t *testing.T) {
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root, and CI=true: a skipped check would pass unchecked")
		}
		t.Skip("needs root: run the tests with sudo make test")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readmes, err := filepath.Glob(filepath.Join(repo, "step[0-9][0-9]-*", "README.md"))
	if err != nil || len(readmes) == 0 {
		t.Fatalf("no lesson READMEs in %s (%v)", repo, err)
	}
	copyDir := copyRepository(t, repo)
	for _, readme := range readmes {
		lesson := filepath.Base(filepath.Dir(readme))
		t.Run(lesson, func(t *testing.T) { checkLesson(t, readme, copyDir) })
	}
}

// copyRepository copies the files git knows, as they are in the working
// tree, into a new folder, and builds there what the lessons use.
func copyRepository(t *testing.T, repo string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "boxcraft")
	run(t, repo, "bash", "-c", `mkdir -p "$1" && git ls-files -z | tar --null -T - -cf - | tar -C "$1" -xf -`, "copy", dir)
	// -trimpath: the copy's folder is new each time, and without it the
	// build cache, keyed by the source's folder, would serve nothing.
	run(t, dir, "bash", "-c", `mkdir -p _build/bin && for d in step[0-9][0-9]-*; do go build -trimpath -o "_build/bin/${d%%-*}" "./$d" || exit 1; done && go build -trimpath -o _build/bin/probe ./internal/probe && make -s rootfs`)
	return dir
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH=/usr/local/go/bin:"+os.Getenv("PATH"), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func checkLesson(t *testing.T, readme, copyDir string) {
	data, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	all, err := Parse(string(data), BashComplete)
	if err != nil {
		t.Fatalf("%s: %v", readme, err)
	}
	version := cgroupVersion(t)
	var blocks []Block
	for _, b := range all {
		if b.When == "" || b.When == version {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		t.Skipf("%s marks no block as checked", readme)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The script is a file, and the commands' stdin is empty, as in a
	// shell whose input is not a terminal: a command that reads stdin
	// must not read the script. The steps keep their state in a folder of
	// the test's (removed at its end), shown as their default folder.
	script := filepath.Join(t.TempDir(), "lesson.sh")
	if err := os.WriteFile(script, []byte(Script(copyDir, blocks)), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	step := strings.SplitN(filepath.Base(filepath.Dir(readme)), "-", 2)[0]
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", script)
	cmd.Dir = copyDir
	cmd.Env = append(os.Environ(), "PATH=/usr/local/go/bin:"+os.Getenv("PATH"), "LC_ALL=C.UTF-8", "BOXCRAFT_STATE_DIR="+state)
	start := time.Now()
	out, err := cmd.Output()
	t.Logf("%d blocks ran in %.1f s", len(blocks), time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		t.Fatalf("the lesson's commands took more than 90 s: %v", ctx.Err())
	}
	got := Split(bytes.ReplaceAll(out, []byte(state), []byte("/var/lib/boxcraft/"+step)))
	n := 0
	for _, b := range blocks {
		for _, c := range b.Commands {
			if n >= len(got) {
				t.Fatalf("README.md:%d: $ %s: it never ran (the shell stopped: %v)", c.Line, c.Text, err)
			}
			if os.Getenv("LESSONS_SHOW") != "" {
				t.Logf("README.md:%d: $ %s\n%s", c.Line, c.Text, strings.Join(got[n], "\n"))
			}
			if !Matches(c.Want, got[n]) {
				t.Errorf("README.md:%d: $ %s\nthe lesson shows:\n%s\nit printed:\n%s", c.Line, c.Text, strings.Join(c.Want, "\n"), strings.Join(got[n], "\n"))
			}
			n++
		}
	}
}

// cgroupVersion is cgroup-v2 when /sys/fs/cgroup is the v2 tree, else
// cgroup-v1 (a tmpfs of v1 hierarchies), as step03 tells them apart.
func cgroupVersion(t *testing.T) string {
	var fs syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
		return "cgroup-v2"
	}
	return "cgroup-v1"
}
