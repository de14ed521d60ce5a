package lessons

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	readme := strings.Join([]string{
		"text",
		"```console",
		"$ not checked",
		"```",
		Marker,
		"```console",
		"$ echo one",
		"one",
		"$ python3 -c '",
		"print(2)",
		"'",
		"2",
		"$ true",
		"```",
	}, "\n")
	blocks, err := Parse(readme, BashComplete)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 || len(blocks[0].Commands) != 3 {
		t.Fatalf("want 1 block of 3 commands, got %+v", blocks)
	}
	c := blocks[0].Commands
	if c[0].Text != "echo one" || c[0].Line != 7 || strings.Join(c[0].Want, "|") != "one" {
		t.Errorf("first command: %+v", c[0])
	}
	if c[1].Text != "python3 -c '\nprint(2)\n'" || strings.Join(c[1].Want, "|") != "2" {
		t.Errorf("a command over three lines: %+v", c[1])
	}
	if len(c[2].Want) != 0 {
		t.Errorf("a command that prints nothing: %+v", c[2])
	}
	for _, bad := range []string{Marker + "\ntext", Marker + "\n```console\nout\n```", Marker + "\n```console\n$ true"} {
		if _, err := Parse(bad, BashComplete); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"exit status 2", "exit status 2", true},
		{"exit status 2", "exit status 0", false},
		{"a\n…\nd", "a\nb\nc\nd", true},
		{"a\n…\nd", "a\nd", true},
		{"a\n…\nd", "a\nb", false},
		{"image …/dotdot.tar: bad", "image /tmp/x/boxcraft/dotdot.tar: bad", true},
		{"sha256:26411734ac7b", "sha256:51db9e61fd7b", true},
		{"sha256:2641", "sha256:51db", false},
		{"-rw-r--r-- 1 root root 5 Nov 26 20:44 f", "-rw-r--r-- 1 root root 5 Dec  5 13:02 f", true},
		{"/var/lib/boxcraft/step04/run-24054/rootfs", "/var/lib/boxcraft/step04/run-7/rootfs", true},
		{"one", "one\n\n", true},
		{"one", "one\ntwo", false},
	} {
		if got := Matches(strings.Split(c.want, "\n"), strings.Split(c.got, "\n")); got != c.ok {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.want, c.got, got, c.ok)
		}
	}
}

func TestWithoutSudo(t *testing.T) {
	for in, want := range map[string]string{
		"sudo _build/bin/step01 run x":            "_build/bin/step01 run x",
		"time (sudo timeout 1 x; echo $?)":        "time (timeout 1 x; echo $?)",
		"echo pseudo sudoers":                     "echo pseudo sudoers",
		"cp a b && sudo ls /var/lib/boxcraft/x y": "cp a b && ls /var/lib/boxcraft/x y",
	} {
		if got := WithoutSudo(in); got != want {
			t.Errorf("WithoutSudo(%q) = %q, want %q", in, got, want)
		}
	}
}

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
	run(t, dir, "bash", "-c", `mkdir -p _build/bin && for d in step[0-9][0-9]-*; do go build -o "_build/bin/${d%%-*}" "./$d" || exit 1; done && go build -o _build/bin/probe ./internal/probe && make -s rootfs`)
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
	blocks, err := Parse(string(data), BashComplete)
	if err != nil {
		t.Fatalf("%s: %v", readme, err)
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
