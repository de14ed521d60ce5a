package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// boxcraft is final/'s runtime as the bench runs it: its state folder and
// cgroup parent are the bench's own, so that nothing it does meets the
// machine's containers or another session's, and both go at the end.
type boxcraft struct {
	bin    string
	dir    string // $BOXCRAFT_STATE_DIR
	parent string // $BOXCRAFT_CGROUP_PARENT, below boxcraft/
	names  int    // containers named so far
}

// runcIsolation are the run flags that give boxcraft the isolation of
// runc's bundle (runc spec's defaults and a 64 MiB memory limit) and no
// more, issue 26's like for like: the same new uts, pid, ipc, net
// (loopback only: --network none), mnt and cgroup namespaces; no seccomp
// filter, as runc spec writes none; no /proc view, which runc has not.
// One difference stays, which costs a start nothing (a capset(2) either
// way): boxcraft keeps Docker's 14 capabilities, runc spec's bundle 3.
// runc's bundle makes a user namespace too, which boxcraft makes only
// with --uidmap, so the like-for-like anchor is runc's bundle without
// one (runcVariant). What boxcraft's defaults add to a start is figure
// 6's other rows.
var runcIsolation = []string{"-m", "64m", "--network", "none", "--proc=host", "--security-opt", "seccomp=unconfined"}

// withIsolation is a boxcraft command line: command, runcIsolation's
// flags, then the rest.
func withIsolation(command string, rest ...string) []string {
	return append(append([]string{command}, runcIsolation...), rest...)
}

// newBoxcraft imports the busybox image into a new state folder, as
// busybox:latest. done removes every container, the state and the
// cgroup parent.
func newBoxcraft(bin, image string) (x *boxcraft, done func(), err error) {
	x = &boxcraft{
		dir:    filepath.Join(workDir, "boxcraft"),
		parent: cgroupParent + "/boxcraft", // runc's are beside it
	}
	if x.bin, err = filepath.Abs(bin); err != nil {
		return nil, nil, err
	}
	done = func() {
		if ids, err := x.output("ps", "-aq"); err == nil && ids != "" {
			_, _ = x.output(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		for _, err := range removeCgroupParent(x.parent) {
			fmt.Fprintf(os.Stderr, "bench: boxcraft left %v\n", err)
		}
		os.RemoveAll(x.dir)
	}
	if _, err := x.output("import", image, "busybox"); err != nil {
		done()
		return nil, nil, err
	}
	return x, done, nil
}

// cmd returns a maker of a boxcraft command line, in the bench's state.
func (x *boxcraft) cmd(args ...string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(x.bin, args...)
		cmd.Env = append(os.Environ(), "BOXCRAFT_STATE_DIR="+x.dir, "BOXCRAFT_CGROUP_PARENT="+x.parent)
		return cmd
	}
}

// output runs a boxcraft command and returns what it printed.
func (x *boxcraft) output(args ...string) (string, error) {
	cmd := x.cmd(args...)()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("boxcraft %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// name is a new container name.
func (x *boxcraft) name() string {
	x.names++
	return "bench-" + strconv.Itoa(x.names)
}

// removeCgroupParent removes the bench's cgroup parent in each hierarchy
// (on v1 one a controller, on v2 the one): the containers' own cgroups
// below it are boxcraft's to remove, and one still there is a leak.
func removeCgroupParent(parent string) []error {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", parent))
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	var failed []error
	for _, dir := range dirs {
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			failed = append(failed, err)
		}
	}
	return failed
}

// startUpRows are figure 6: boxcraft's start-up, from the runs of
// figure 1, taken in turn with runc's and the floor's.
func (s *b) startUpRows(results map[string]durations) {
	bx, views, dflt := results["boxcraft"], results["boxcraft views"], results["boxcraft defaults"]
	runc, runcNoUser, floor := results["runc"], results["runc no userns"], results["floor"]
	s.section("6. boxcraft: start-up, run /bin/true",
		fmt.Sprintf("`boxcraft %s busybox /bin/true` in the foreground, busybox:latest imported first (`boxcraft import`): boxcraft is its own monitor, and the container is created (its record, an overlay root), started (new uts, pid, ipc, net with loopback only, mnt and cgroup namespaces, a cgroup with a 64 MiB memory limit, /proc, /sys, /dev, pivot_root, masked paths), waited for, torn down and removed: the isolation of runc's bundle, which has no seccomp filter (runc spec writes none) and no /proc view; boxcraft keeps Docker's 14 capabilities where runc spec gives 3, a capset(2) either way. Taken in turn with figure 1's runs, against the same anchors. runc's bundle also makes a user namespace, which boxcraft makes only when asked (`--uidmap`, as podman): `runc run, no user namespace` is the same bundle without it, the like-for-like anchor. Beside it, what boxcraft's defaults add: `--network none` alone keeps its default seccomp filter and its /proc view (figures 10 and 14), and `boxcraft run --rm busybox /bin/true` is all of Docker's defaults: the bridge too (figure 15), and no memory limit.", strings.Join(withIsolation("run", "--rm"), " ")),
		ratioTable)
	s.row("boxcraft run", bx, runcNoUser, "runc run, no user namespace", 0.45)
	s.row("boxcraft run", bx, runc, "runc run", 0.45)
	s.row("boxcraft run", bx, floor, "the floor", 3)
	s.row("boxcraft run --network none (seccomp, /proc view)", views, runcNoUser, "runc run, no user namespace", 0)
	s.row("boxcraft run, Docker's defaults", dflt, runcNoUser, "runc run, no user namespace", 0)
	s.row("runc run, no user namespace", runcNoUser, floor, "the floor", 0)
	fmt.Fprintf(&s.report, "\nWhat the defaults add to a start (medians of the paired differences, run by run): the seccomp filter and the /proc view %s, then the bridge (and no memory limit) %s.\n", round(views.minus(bx).median()), round(dflt.minus(views).median()))
	fmt.Fprintf(&s.report, "\nPeak RSS (figure 5's way): boxcraft run %d KiB, runc run with no user namespace %d KiB.\n", bx.medianRSS(), runcNoUser.medianRSS())
}

// detached is figure 7: run -d until it returns, against runc run -d.
func (s *b) detached(bundle string) error {
	x := s.bx
	runcBundle, err := runcVariant(bundle, "detached", false, []string{"/bin/sleep", "600"})
	if err != nil {
		return err
	}
	runcState := filepath.Join(runcDir, "state")
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	var ours, theirs string // the last container of each, removed before the next run
	clear := func() {
		if ours != "" {
			_, _ = x.output("rm", "-f", ours)
		}
		if theirs != "" {
			_ = exec.Command("runc", "--root", runcState, "delete", "-f", theirs).Run()
		}
		ours, theirs = "", ""
	}
	defer clear()
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"boxcraft": func() *exec.Cmd {
			clear()
			ours = x.name()
			return x.cmd(append([]string{"run", "-d", "--name", ours, "-m", "64m"}, "busybox", "sleep", "600")...)()
		},
		"runc": func() *exec.Cmd {
			clear()
			theirs = "runc-" + x.name()
			// runc run -d hands its own stdio to the container: not a
			// pipe, which would hold the bench until the container ends.
			cmd := exec.Command("runc", "--root", runcState, "run", "-d", "--bundle", runcBundle, theirs)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, devNull, devNull
			return cmd
		},
	})
	if err != nil {
		return err
	}
	s.section("7. boxcraft: detached start-up",
		"`boxcraft run -d --name NAME -m 64m busybox sleep 600` until it returns, which it does once `sleep` runs (the container's init has exec'd it), and prints the ID; against `runc run -d` of runc's bundle without a user namespace, running `sleep 600` (runc's create and start in one command, which also returns once the process runs). What differs: boxcraft runs with its defaults here (the bridge network, its seccomp filter, the /proc view: figure 6 has what they add), and has also started the container's monitor (boxcraft-monitor, a small Go program of its own beside boxcraft, a third process), which stays, holds the output (the json-lines log) and will record the exit status and tear the container down; `runc run -d` leaves no process but the container's, and no one to reap it, keep its output or record its end (containerd's shim or conmon does that, started before runc). Each container is removed (`rm -f`, `runc delete -f`) before the next run, off the clock.",
		ratioTable)
	s.row("boxcraft run -d", results["boxcraft"], results["runc"], "runc run -d", 0)
	return nil
}

// monitors is figure 8: the memory of detached containers' monitors.
func (s *b) monitors() error {
	const n = 10
	x := s.bx
	var ids []string
	defer func() {
		if len(ids) > 0 {
			_, _ = x.output(append([]string{"rm", "-f"}, ids...)...)
		}
	}()
	for range n {
		id, err := x.output("run", "-d", "busybox", "sleep", "600")
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	time.Sleep(2 * time.Second) // the monitors' start-up garbage collected or not: as a user finds them
	var all []memory
	for _, id := range ids {
		m, err := x.monitorMemory(id)
		if err != nil {
			return err
		}
		all = append(all, m)
	}
	s.section("8. boxcraft: a detached container's monitor, memory",
		fmt.Sprintf("%d containers started with `boxcraft run -d busybox sleep 600`, then, 2 s later, each one's monitor (`boxcraft-monitor ID`, beside boxcraft, the parent of the container's init: `boxcraft inspect`'s State.Pid, then its PPid) as /proc/PID/smaps_rollup gives it. The monitor is the only process that a detached container has beyond its own. RSS counts the pages of the monitor's binary that it maps, which all monitors share; PSS shares them out among the processes that map them; private is what this monitor alone holds (the memory that each more container costs), anonymous its heap, stacks and runtime, none of them backed by a file. conmon, as the goal compares it, is about 1 MiB.", n),
		"| what | median (smallest–largest) | target |\n|---|---|---|\n")
	pick := func(f func(memory) int) []int {
		var v []int
		for _, m := range all {
			v = append(v, f(m))
		}
		return v
	}
	rss := pick(func(m memory) int { return m.rss })
	s.memRow("RSS", rss, fmt.Sprintf("≤ 3 MiB: %s", verdict(median(rss) <= 3<<10)))
	s.memRow("PSS", pick(func(m memory) int { return m.pss }), "—")
	s.memRow("private (USS)", pick(func(m memory) int { return m.private }), "—")
	s.memRow("anonymous", pick(func(m memory) int { return m.anon }), "—")
	threads := pick(func(m memory) int { return m.threads })
	slices.Sort(threads)
	fmt.Fprintf(&s.report, "| threads | %d (%d–%d) | — |\n", median(threads), threads[0], threads[len(threads)-1])
	total := 0
	for _, p := range pick(func(m memory) int { return m.pss }) {
		total += p
	}
	fmt.Fprintf(&s.report, "\nThe %d monitors together: %s of PSS.\n", n, kib(total))
	return nil
}

// memory is one process's, from /proc/PID/smaps_rollup and status (KiB).
type memory struct {
	rss, pss, private, anon, threads int
}

// monitorMemory finds a container's monitor, the parent of its init, and
// reads its memory.
func (x *boxcraft) monitorMemory(id string) (memory, error) {
	out, err := x.output("inspect", id)
	if err != nil {
		return memory{}, err
	}
	var inspect []struct{ State struct{ Pid int } }
	if err := json.Unmarshal([]byte(out), &inspect); err != nil || len(inspect) != 1 || inspect[0].State.Pid == 0 {
		return memory{}, fmt.Errorf("boxcraft inspect %s: no State.Pid in %.200s", id, out)
	}
	status := procFields(fmt.Sprintf("/proc/%d/status", inspect[0].State.Pid))
	monitor := status["PPid"]
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", monitor))
	if want := "monitor\x00" + id; !strings.Contains(string(cmdline), want) {
		return memory{}, fmt.Errorf("container %s: its init's parent %d is %q, not its monitor", id, monitor, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	rollup := procFields(fmt.Sprintf("/proc/%d/smaps_rollup", monitor))
	return memory{
		rss:     rollup["Rss"],
		pss:     rollup["Pss"],
		private: rollup["Private_Clean"] + rollup["Private_Dirty"],
		anon:    rollup["Anonymous"],
		threads: procFields(fmt.Sprintf("/proc/%d/status", monitor))["Threads"],
	}, nil
}

// procFields reads the "Name: number [kB]" lines of a /proc file.
func procFields(path string) map[string]int {
	fields := map[string]int{}
	data, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if f := strings.Fields(value); ok && len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				fields[name] = n
			}
		}
	}
	return fields
}

func (s *b) memRow(what string, kibs []int, target string) {
	v := slices.Clone(kibs)
	slices.Sort(v)
	fmt.Fprintf(&s.report, "| %s | %s (%s–%s) | %s |\n", what, kib(median(v)), kib(v[0]), kib(v[len(v)-1]), target)
}

func median(v []int) int {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func kib(n int) string { return fmt.Sprintf("%.2f MiB", float64(n)/1024) }

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
}

// execs is figure 9: boxcraft exec of /bin/true into a running
// container, against runc exec into a runc container.
func (s *b) execs(bundle string) error {
	x := s.bx
	runcBundle, err := runcVariant(bundle, "exec", false, []string{"/bin/sleep", "600"})
	if err != nil {
		return err
	}
	ours := x.name()
	if _, err := x.output(withIsolation("run", "-d", "--name", ours, "busybox", "sleep", "600")...); err != nil {
		return err
	}
	defer x.output("rm", "-f", ours)
	runcState := filepath.Join(runcDir, "state")
	theirs := "runc-" + ours
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	start := exec.Command("runc", "--root", runcState, "run", "-d", "--bundle", runcBundle, theirs)
	start.Stdin, start.Stdout, start.Stderr = devNull, devNull, devNull
	if err := start.Run(); err != nil {
		return fmt.Errorf("runc run -d: %w", err)
	}
	defer exec.Command("runc", "--root", runcState, "delete", "-f", theirs).Run()
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"boxcraft": x.cmd("exec", ours, "/bin/true"),
		"runc": func() *exec.Cmd {
			return exec.Command("runc", "--root", runcState, "exec", theirs, "/bin/true")
		},
	})
	if err != nil {
		return err
	}
	s.section("9. boxcraft: exec",
		"`boxcraft exec NAME /bin/true` into a running `busybox sleep 600` container started with runc's isolation (figure 6: no seccomp filter, which an exec would install too, no /proc view, no bridge), against `runc exec` into a runc container running the same, from runc's bundle without a user namespace. boxcraft exec starts three processes: itself, which works the exec's steps out (the user, the capability masks, a seccomp filter) into a plan; boxcraft-exec-init (a small program beside boxcraft, issue 26), whose C constructor joins the container's namespaces before main (as runc's nsexec) and forks; and that child, which takes the plan in C (the working folder, the capabilities, the user) and execs the command: only boxcraft itself starts the Go runtime (round 7).",
		ratioTable)
	s.row("boxcraft exec", results["boxcraft"], results["runc"], "runc exec", 0.5)
	return nil
}

// runcVariant writes a second bundle beside runc's: the same rootfs and
// config, without the user namespace (userns false), its own cgroup, and
// args as the process.
func runcVariant(bundle, name string, userns bool, args []string) (string, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return "", err
	}
	var config map[string]any
	if err := json.Unmarshal(data, &config); err != nil {
		return "", err
	}
	config["process"].(map[string]any)["args"] = args
	config["root"].(map[string]any)["path"] = filepath.Join(bundle, "rootfs")
	linux := config["linux"].(map[string]any)
	linux["cgroupsPath"] = "/" + cgroupParent + "/runc-" + name
	if !userns {
		delete(linux, "uidMappings")
		delete(linux, "gidMappings")
		var kept []any
		for _, ns := range linux["namespaces"].([]any) {
			if ns.(map[string]any)["type"] != "user" {
				kept = append(kept, ns)
			}
		}
		linux["namespaces"] = kept
	}
	dir := filepath.Join(bundle, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if data, err = json.MarshalIndent(config, "", "  "); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}
