// Command workspace gives a learner a lesson to write: make
// workspace-stepNN runs it.
//
//	go run ./internal/workspace stepNN   make workspace/stepNN, and say what to write
//	go run ./internal/workspace -check   check that every step's workspace builds (make lint)
//
// -written N makes a workspace as a learner has it who wrote the first N
// pieces: the lesson's code stays in for those. It is how a lesson's
// README checks the order in which the tests start passing.
//
// workspace/stepNN is step NN's program with the lesson's own code taken
// out: the functions and lines that the lesson's list (stepNN.go here)
// names. Each piece is replaced by a TODO(stepNN) comment, which says what
// to write and which man pages to read, and by a stub that keeps the
// program building and running as if the lesson's code were absent. What
// is left is step NN-1's program, renamed, with the lesson's scaffolding:
// the flags, the checks and the plumbing that the lesson needs but does
// not teach. The learner writes the pieces, and step NN's own tests judge
// the program: make test-stepNN BOXCRAFT_BIN=workspace/stepNN/stepNN.
//
// workspace/ is a Go module of its own (its go.mod is the repository's,
// renamed), so that the repository's go test, go vet and staticcheck
// (./...) never build a learner's half-written program.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("out", "workspace", "the folder that holds the workspaces")
	check := flag.Bool("check", false, "make every step's workspace in a temporary folder, and build it")
	written := flag.Int("written", 0, "leave the lesson's first `N` pieces in, as if written")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/workspace [-out DIR] [-written N] stepNN | -check")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *check {
		if err := checkAll(); err != nil {
			fmt.Fprintf(os.Stderr, "workspace: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	name := flag.Arg(0)
	if err := makeWorkspace(name, *out, *written); err != nil {
		fmt.Fprintf(os.Stderr, "workspace-%s: %v\n", name, err)
		os.Exit(2)
	}
}

// stepPattern is a step's name, as the make target gives it.
var stepPattern = regexp.MustCompile(`^step[0-9][0-9]$`)

// checkStepName refuses a name that is not a step's by its form alone,
// whatever folders the repository holds.
func checkStepName(name string) error {
	if stepPattern.MatchString(name) {
		return nil
	}
	steps, _ := filepath.Glob("step[0-9][0-9]-*")
	return fmt.Errorf("%q is not a step: name one of %s", name, stepNames(steps))
}

// stepDir is the folder of the step named name (step02-namespaces for
// step02), in the repository, which is the working folder.
func stepDir(name string) (string, error) {
	if err := checkStepName(name); err != nil {
		return "", err
	}
	steps, _ := filepath.Glob("step[0-9][0-9]-*")
	for _, dir := range steps {
		if strings.HasPrefix(dir, name+"-") {
			return dir, nil
		}
	}
	return "", fmt.Errorf("there is no %s: the steps are %s", name, stepNames(steps))
}

func stepNames(dirs []string) string {
	var names []string
	for _, dir := range dirs {
		names = append(names, dir[:len("stepNN")])
	}
	return strings.Join(names, " ")
}

// makeWorkspace makes out/name from the step's program, builds it, and
// tells the learner what to write and how to test it.
func makeWorkspace(name, out string, written int) error {
	// The name's form first: out/name must never reach beyond out (a
	// name such as ".." would name out's parent, which exists).
	if err := checkStepName(name); err != nil {
		return err
	}
	// Then a workspace there already, before the step is looked for: a
	// learner's work is kept, whatever the repository holds.
	dest := filepath.Join(out, name)
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s exists already, and may hold your work: it is left as it is. To start over, move it away (mv %s %s.old) and run make workspace-%s again", dest, dest, dest, name)
	}
	dir, err := stepDir(name)
	if err != nil {
		return err
	}
	l, ok := lessons[name]
	if !ok {
		return fmt.Errorf("%s has no lesson to write yet (internal/workspace/%s.go)", dir, name)
	}
	if written < 0 || written > len(l) {
		return fmt.Errorf("-written %d: %s's lesson has %s", written, name, count(len(l)))
	}
	l = l[written:]
	todos, err := write(dir, name, l, out)
	if err != nil {
		return err
	}
	if err := giveToSudoUser(out, name); err != nil {
		return err
	}
	fmt.Printf("workspace-%s: made %s from %s, with the lesson's code taken out: %s.\n", name, dest, dir, count(len(todos)))
	fmt.Printf("Write them in this order (each is marked // TODO(%s): in the code, with a hint and the man pages to read):\n", name)
	width := 0
	for _, t := range todos {
		width = max(width, len(fmt.Sprintf("%s:%d", filepath.Join(dest, t.File), t.Line)))
	}
	for i, t := range todos {
		where := fmt.Sprintf("%s:%d", filepath.Join(dest, t.File), t.Line)
		fmt.Printf("  %d. %-*s  %s\n", i+1, width, where, t.What)
	}
	fmt.Printf("Then run %s's tests against your program (make builds it first):\n", name)
	fmt.Printf("  sudo make test-%s BOXCRAFT_BIN=%s\n", name, filepath.Join(dest, name))
	return nil
}

func count(n int) string {
	if n == 1 {
		return "1 piece"
	}
	return strconv.Itoa(n) + " pieces"
}

// write makes out/name: the module file, then the program in a folder
// beside it, which it builds before giving it its name. So a workspace
// that would not build is never left.
func write(dir, name string, l lesson, out string) ([]placed, error) {
	files, todos, err := scaffold(dir, name, l)
	if err != nil {
		return nil, err
	}
	kept, err := writeModule(out)
	if err != nil {
		return nil, err
	}
	building := filepath.Join(out, name+".new")
	if err := os.RemoveAll(building); err != nil { // an earlier run's, stopped halfway
		return nil, err
	}
	if err := os.Mkdir(building, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(building)
	for file, src := range files {
		if err := os.WriteFile(filepath.Join(building, file), src, 0o644); err != nil {
			return nil, err
		}
	}
	build := exec.Command("go", "build", "-o", name, ".")
	build.Dir = building
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if msg, err := build.CombinedOutput(); err != nil {
		why := fmt.Sprintf("internal/workspace/%s.go's stubs", name)
		if kept {
			why += fmt.Sprintf(", or %s, kept from an earlier workspace, which may lack a requirement of the repository's go.mod", filepath.Join(out, "go.mod"))
		}
		return nil, fmt.Errorf("%s with the lesson's code taken out does not build (%s): %v\n%s", dir, why, err, msg)
	}
	return todos, os.Rename(building, filepath.Join(out, name))
}

// writeModule makes out a module of its own, which requires what the
// repository's does: the steps use pflag and x/sys. A go.mod that is
// there already, made for an earlier workspace, is the learner's, who may
// have added requirements of their own: it is kept as it is (kept says
// so), and go.sum only gains the repository's lines it lacks.
func writeModule(out string) (kept bool, err error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return false, err
	}
	kept, err = writeGoMod(out)
	if err != nil {
		return kept, err
	}
	return kept, mergeGoSum(out)
}

// writeGoMod writes out/go.mod, the repository's renamed, unless there is
// one.
func writeGoMod(out string) (kept bool, err error) {
	dest := filepath.Join(out, "go.mod")
	if _, err := os.Lstat(dest); err == nil {
		return true, nil
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		return false, err
	}
	lines := strings.Split(string(mod), "\n")
	i := slices.IndexFunc(lines, func(line string) bool { return strings.HasPrefix(line, "module ") })
	if i < 0 {
		return false, errors.New("go.mod has no module line")
	}
	lines[i] = "// Made by make workspace-stepNN from the repository's go.mod: the learner's\n" +
		"// programs, in a module of their own, which ./... in the repository leaves out.\n" +
		"module boxcraft-workspace"
	return false, os.WriteFile(dest, []byte(strings.Join(lines, "\n")), 0o644)
}

// mergeGoSum adds to out/go.sum the repository's lines that it lacks,
// keeping those it has.
func mergeGoSum(out string) error {
	sum, err := os.ReadFile("go.sum")
	if err != nil {
		return err
	}
	dest := filepath.Join(out, "go.sum")
	have, err := os.ReadFile(dest)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(string(have), "\n"), "\n")
	if len(have) == 0 {
		lines = nil
	}
	n := len(lines)
	for _, line := range strings.Split(string(sum), "\n") {
		if strings.TrimSpace(line) != "" && !slices.Contains(lines, line) {
			lines = append(lines, line)
		}
	}
	if len(lines) == n {
		return nil
	}
	return os.WriteFile(dest, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// giveToSudoUser makes the learner the owner of what was made, when make
// ran under sudo: the workspace is theirs to edit.
func giveToSudoUser(out, name string) error {
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	if err1 != nil || err2 != nil || os.Geteuid() != 0 {
		return nil
	}
	for _, p := range []string{out, filepath.Join(out, "go.mod"), filepath.Join(out, "go.sum")} {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(out, name), func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// checkAll makes every step's workspace in a temporary folder and builds
// it: a lesson that names code the step no longer has, or whose stubs no
// longer build, fails here rather than in a learner's hands.
func checkAll() error {
	steps, _ := filepath.Glob("step[0-9][0-9]-*")
	if len(steps) == 0 {
		return errors.New("no step folders here: run it from the repository")
	}
	tmp, err := os.MkdirTemp("", "boxcraft-workspace-check-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var failed []error
	var made []string
	for _, dir := range steps {
		name := dir[:len("stepNN")]
		l, ok := lessons[name]
		if !ok {
			failed = append(failed, fmt.Errorf("%s has no lesson: add internal/workspace/%s.go, and name it in lessons.go", dir, name))
			continue
		}
		todos, err := write(dir, name, l, tmp)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		made = append(made, fmt.Sprintf("%s (%s)", name, count(len(todos))))
	}
	for name := range lessons {
		if _, err := stepDir(name); err != nil {
			failed = append(failed, fmt.Errorf("internal/workspace has a lesson for %s, which is not a step", name))
		}
	}
	if err := errors.Join(failed...); err != nil {
		return err
	}
	fmt.Printf("workspace: every step's workspace builds: %s\n", strings.Join(made, ", "))
	return nil
}
