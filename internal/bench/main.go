// Command bench measures how fast the workshop's most complete runtime is,
// side by side with runc and with the kernel's floor, and writes the
// figures as a Markdown table (make bench writes docs/benchmarks.md).
//
//	bench -runtime _build/bin/step05 -image _build/busybox.tar -out docs/benchmarks.md [-runs 20] [-boxcraft _build/bin/boxcraft] [-only 16,17]
//
// Each figure is a median of -runs runs, with the fastest and slowest,
// and a ratio to an anchor measured in the same run, the runs of the two
// taken in turn: on a shared machine absolute times move from one run to
// the next, while the ratios of one run hold. No test asserts a time.
//
// The runtime's own figures are of its command line, as a user runs it:
// start-up is `run` of /bin/true from an image whose layers are stored;
// unpacking is the same run with the layer not stored yet, less that; the
// overlay's cost is the run with more layers, and the mount(2) alone.
//
// With -boxcraft, final/'s runtime too (boxcraft.go): its start-up in the
// same turns as figure 1's, its detached start-up against runc run -d,
// and the memory of a detached container's monitor.
//
// -only 16,17 measures those figures alone (and the ones they are
// made from), to try a figure without the whole session's 20 minutes.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// workDir holds what the benchmarks make, runcDir runc's bundle, and
// cgroupParent the cgroups of every runtime measured: all three are the
// session's own, named by its pid, so that two sessions at once (or a
// test run beside one) do not meet, and all are removed at the end.
var (
	workDir      = fmt.Sprintf("/var/lib/boxcraft/bench-%d", os.Getpid())
	runcDir      = fmt.Sprintf("/run/boxcraft/bench-%d", os.Getpid())
	cgroupParent = fmt.Sprintf("boxcraft/bench-%d", os.Getpid())
)

func main() {
	runtimeBin := flag.String("runtime", "_build/bin/step05", "the runtime under test: the most complete step")
	image := flag.String("image", "_build/busybox.tar", "the busybox image tarball")
	out := flag.String("out", "docs/benchmarks.md", "where to write the figures")
	runs := flag.Int("runs", 20, "runs per figure")
	boxcraftBin := flag.String("boxcraft", "", "final/'s runtime, measured too when given")
	onlyList := flag.String("only", "", "measure only these figures (numbers, as 16,17), and those they need")
	flag.Parse()
	only, err := parseOnly(*onlyList)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	if os.Getenv(privateEnv) == "" {
		os.Exit(inPrivateMounts())
	}
	if err := bench(*runtimeBin, *image, *boxcraftBin, *out, *runs, only); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// privateEnv is set in the bench that runs in a mount namespace of its
// own.
const privateEnv = "BOXCRAFT_BENCH_PRIVATE"

// inPrivateMounts runs bench again, in a mount namespace of its own,
// whose mounts are private (os/exec makes them so): what it mounts (see
// unpack) the host never sees, and it all goes when bench ends, however
// it ends. It returns bench's exit status.
func inPrivateMounts() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), privateEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		fmt.Fprintf(os.Stderr, "bench: a mount namespace of its own: %v\n", err)
		return 1
	}
	return cmd.ProcessState.ExitCode()
}

// b is one benchmark session: its tools and what it has measured.
type b struct {
	runtime, image, store string
	runs                  int
	only                  []int // -only's figures; none is all
	report                strings.Builder
	memory                func() // writes figure 5, from figure 1's runs
	bx                    *boxcraft
	bxStartUp             func() // writes figure 6, from figure 1's runs
	bundle                string // runc's
	// Each row's ratio, and each targeted row's target, keyed "what
	// against anchor", for the stability table (history.go).
	ratios, targets map[string]float64
}

func bench(runtimeBin, image, boxcraftBin, out string, runs int, only []int) error {
	if os.Geteuid() != 0 {
		return errors.New("containers need root: sudo make bench")
	}
	var err error
	s := &b{runs: runs, only: only, ratios: map[string]float64{}, targets: map[string]float64{}}
	if s.runtime, err = filepath.Abs(runtimeBin); err != nil {
		return err
	}
	if s.image, err = filepath.Abs(image); err != nil {
		return err
	}
	removeDeadSessions()
	// The step's state folder (its layer store among it) is the
	// session's own too ($BOXCRAFT_STATE_DIR, stepCmd).
	s.store = filepath.Join(workDir, filepath.Base(s.runtime))
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(workDir)
	defer os.RemoveAll(runcDir)
	defer func() {
		for _, err := range removeCgroupParent(cgroupParent) {
			fmt.Fprintf(os.Stderr, "bench: left %v\n", err)
		}
	}()
	rootfs := filepath.Join(workDir, "rootfs")
	if err := untar(s.image, rootfs); err != nil {
		return err
	}
	if boxcraftBin != "" {
		x, done, err := newBoxcraft(boxcraftBin, s.image)
		if err != nil {
			return err
		}
		defer done()
		s.bx = x
	}
	s.header()
	for _, f := range s.figures(rootfs) {
		if f.boxcraft && s.bx == nil || !s.wanted(f.numbers) {
			continue
		}
		if err := f.run(); err != nil {
			return err
		}
	}
	// A session of some figures only (-only) is no session to compare
	// with the others: its ratios stay out of the history.
	if len(s.only) == 0 {
		if err := s.stability(out); err != nil {
			return err
		}
	}
	s.report.WriteString(keptNotes(out))
	if err := os.WriteFile(out, []byte(s.report.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(s.report.String())
	return nil
}

// figure is a step of the session: what it runs, and the numbers of the
// figures that need it (its own, and those written from its runs or
// made of what it leaves); boxcraft's need -boxcraft.
type figure struct {
	numbers  []int
	boxcraft bool
	run      func() error
}

// figures are the session's steps, in order.
func (s *b) figures(rootfs string) []figure {
	return []figure{
		{[]int{1, 5, 6, 7, 9, 18, 19, 21}, false, func() error { return s.startUp(rootfs) }}, // 5 and 6 are of its runs; 7, 9, 18, 19 and 21 use its runc bundle
		{[]int{2, 11}, false, func() error { return s.unpack(rootfs) }},                      // 11 unpacks its layer
		{[]int{3}, false, func() error { return s.overlay(rootfs) }},
		{[]int{4}, false, func() error { return s.commit(rootfs) }},
		{[]int{5}, false, func() error { s.memory(); return nil }},
		{[]int{6}, true, func() error { s.bxStartUp(); return nil }},
		{[]int{7}, true, func() error { return s.detached(s.bundle) }},
		{[]int{8}, true, s.monitors},
		{[]int{9}, true, func() error { return s.execs(s.bundle) }},
		{[]int{10}, true, s.hardening},
		{[]int{11}, true, func() error { return s.bxUnpack(rootfs) }},
		{[]int{12}, true, func() error { return s.bxLayers(rootfs) }},
		{[]int{13}, true, func() error { return s.bxCommit(rootfs) }},
		{[]int{14}, true, s.procView},
		{[]int{15}, true, s.network},
		{[]int{16}, true, s.registryPull},
		{[]int{17}, true, s.cachedRebuild},
		{[]int{18}, true, s.tracing},
		{[]int{19}, true, s.ociRun}, // issue 23, with figure 1's bundle
		{[]int{20}, true, func() error { return s.ctrRun(rootfs) }},
		{[]int{21}, true, s.many}, // issue 26, with figure 1's bundle
	}
}

// wanted tells whether a step runs: always, unless -only names figures,
// and then when it is one of them or one of them needs it.
func (s *b) wanted(numbers []int) bool {
	if len(s.only) == 0 {
		return true
	}
	for _, n := range numbers {
		if slices.Contains(s.only, n) {
			return true
		}
	}
	return false
}

// parseOnly reads -only: figure numbers, separated by commas.
func parseOnly(list string) ([]int, error) {
	var only []int
	for _, word := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' }) {
		n, err := strconv.Atoi(strings.TrimSpace(word))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-only %s: give figure numbers, as 16,17", list)
		}
		only = append(only, n)
	}
	return only, nil
}

// namespaces are the ones runc 1.1 makes too: it has no time namespace.
const namespaces = "--ns=uts,pid,mnt,ipc,net,user,cgroup"

// startUp is figure 1: run /bin/true, all set up and torn down.
func (s *b) startUp(rootfs string) error {
	bundle, err := runcBundle(rootfs)
	if err != nil {
		return err
	}
	s.bundle = bundle
	image, err := s.busyboxLayout()
	if err != nil {
		return err
	}
	ours := s.stepCmd("run", "--image", image, "-m", "64m", namespaces, "/bin/true")
	if _, err := measure(ours, 1); err != nil { // store the layer first
		return err
	}
	n := 0
	runcRun := func(bundle string) func() *exec.Cmd {
		return func() *exec.Cmd {
			n++
			return exec.Command("runc", "--root", filepath.Join(runcDir, "state"), "run", "--bundle", bundle, "bench-"+strconv.Itoa(n))
		}
	}
	commands := map[string]func() *exec.Cmd{
		"runtime": ours,
		"runc":    runcRun(bundle),
		"floor": func() *exec.Cmd {
			return exec.Command("unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "chroot", rootfs, "/bin/true")
		},
	}
	if s.bx != nil {
		noUserns, err := runcVariant(bundle, "nouserns", false, []string{"/bin/true"})
		if err != nil {
			return err
		}
		commands["runc no userns"] = runcRun(noUserns)
		commands["boxcraft"] = s.bx.cmd(withIsolation("run", "--rm", "busybox", "/bin/true")...)
		commands["boxcraft views"] = s.bx.cmd("run", "--rm", "-m", "64m", "--network", "none", "busybox", "/bin/true")
		commands["boxcraft defaults"] = s.bx.cmd("run", "--rm", "busybox", "/bin/true")
	}
	results, err := inTurn(s.runs, commands)
	if err != nil {
		return err
	}
	s.bxStartUp = func() { s.startUpRows(results) }
	rt, runc, floor := results["runtime"], results["runc"], results["floor"]
	s.section("1. Start-up: run /bin/true",
		fmt.Sprintf("`%s run --image IMAGE -m 64m %s /bin/true`, IMAGE the busybox image as an OCI layout, its layer stored: namespaces, a cgroup with a memory limit, an overlay root, pivot_root, /proc, /sys and /dev, all torn down. runc: `runc run` of the busybox rootfs, its config.json from `runc spec` with no terminal, the same namespaces and id maps, a 64 MiB memory limit and a writable root. The floor: `unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS /bin/true`.", filepath.Base(s.runtime), namespaces), ratioTable)
	s.row(filepath.Base(s.runtime)+" run", rt, runc, "runc run", 0.6)
	s.row(filepath.Base(s.runtime)+" run", rt, floor, "the floor", 0)
	s.row("runc run", runc, floor, "the floor", 0)
	s.memory = func() {
		s.section("5. Memory: peak RSS during run",
			"The largest resident set of the runtime and what it waited for (its init), as wait4(2) reports it, median of the start-up runs.",
			"| what | peak RSS |\n|---|---:|\n")
		fmt.Fprintf(&s.report, "| %s run | %d KiB |\n| runc run | %d KiB |\n", filepath.Base(s.runtime), rt.medianRSS(), runc.medianRSS())
	}
	return nil
}

// unpack is figure 2: a large layer into the store, against GNU tar.
func (s *b) unpack(rootfs string) error {
	big, size, err := bigImage(rootfs)
	if err != nil {
		return err
	}
	diffID, err := fileDigest(big)
	if err != nil {
		return err
	}
	// Both unpack into one tmpfs, mounted over the runtime's state folder
	// in bench's own mount namespace: the figure is of the unpackers, not
	// of the disk, which on a virtual machine may slow to a crawl under a
	// long stream of writes, whoever writes.
	if err := os.MkdirAll(s.store, 0o700); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", s.store, "tmpfs", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mount a tmpfs on %s: %w", s.store, err)
	}
	defer unix.Unmount(s.store, unix.MNT_DETACH)
	stored := filepath.Join(s.store, "layers/u0-100000-65536", diffID)
	into := filepath.Join(s.store, "tar-x")
	run := s.stepCmd("run", "--image", big, "/bin/true")
	if _, err := measure(run, 1); err != nil {
		return err
	}
	cold, warm, tar, err := s.unpackRuns(run, stored, big, into)
	if err != nil {
		return err
	}
	unpacked := cold.minus(warm)
	s.section("2. Unpack: a large layer into the store",
		fmt.Sprintf("A layer of %.0f MB: the busybox image and 10,000 files of 10 kB of random bytes in 100 folders, a plain tar, warm in the page cache, unpacked into a tmpfs by both, so that the disk weighs on neither. The runtime's unpacking is its run with the layer not stored (median %s) less its run with it stored (median %s), run by run: the unpacker, giving the files the container's ids, and the move into the store. GNU tar: `tar -xf` as root, which keeps owners too.", float64(size)/1e6, round(cold.median()), round(warm.median())), ratioTable)
	s.row(filepath.Base(s.runtime)+" unpack", unpacked, tar, "tar -x", 1.2)
	fmt.Fprintf(&s.report, "\n%s unpacks %.0f MB/s; GNU tar %.0f MB/s.\n", filepath.Base(s.runtime), float64(size)/1e6/unpacked.median().Seconds(), float64(size)/1e6/tar.median().Seconds())
	return nil
}

// unpackRuns runs, in turn, run with the layer at stored removed first
// (cold), run with it there (warm), and GNU tar of the layer big into
// the folder into.
func (s *b) unpackRuns(run func() *exec.Cmd, stored, big, into string) (cold, warm, tar durations, err error) {
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"cold": func() *exec.Cmd { os.RemoveAll(stored); return run() },
		"warm": run,
		"tar": func() *exec.Cmd {
			os.RemoveAll(into)
			os.Mkdir(into, 0o755)
			return exec.Command("tar", "-xf", big, "-C", into)
		},
	})
	return results["cold"], results["warm"], results["tar"], err
}

// overlay is figure 3: run and mount(2) time against the number of layers.
func (s *b) overlay(rootfs string) error {
	base, err := os.ReadFile(s.image)
	if err != nil {
		return err
	}
	s.section("3. The overlay against the number of layers",
		"`run` of /bin/true from an OCI layout of N layers (busybox's and N-1 of one small file each), all stored; and mount(2) alone of an overlay of the same N folders, with an upper and a work folder of its own, unmounted after each run (the kernel's floor).",
		fmt.Sprintf("| layers | %s run | mount(2) |\n|---:|---|---|\n", filepath.Base(s.runtime)))
	for _, n := range []int{1, 10, 100, 500} {
		layers := [][]byte{base}
		for i := 1; i < n; i++ {
			layers = append(layers, tarOf(fmt.Sprintf("layer-%d", i), strconv.Itoa(i)))
		}
		dir := filepath.Join(workDir, "image-"+strconv.Itoa(n))
		if err := oci.WriteLayout(dir, false, layers); err != nil {
			return err
		}
		run := s.stepCmd("run", "--image", dir, namespaces, "/bin/true")
		if _, err := measure(run, 1); err != nil {
			// step05 stacks no more layers than one page of overlayfs
			// options holds (its lesson leaves the 500-layer link trick
			// to boxcraft: figure 12).
			fmt.Fprintf(&s.report, "| %d | refused: %s | — |\n", n, refusal(err))
			continue
		}
		var folders []string
		for i := len(layers) - 1; i >= 0; i-- {
			folders = append(folders, filepath.Join(s.store, "layers/u0-100000-65536", strings.TrimPrefix(oci.Digest(layers[i]), "sha256:")))
		}
		runs, err := measure(run, s.runs)
		if err != nil {
			return err
		}
		mounts, err := measureMount(folders, s.runs)
		if err != nil {
			return err
		}
		fmt.Fprintf(&s.report, "| %d | %s | %s |\n", n, runs, mounts)
	}
	return nil
}

// refusal is the runtime's one line of refusal in err, after its name.
func refusal(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "exit status "); ok {
		if _, line, ok := strings.Cut(after, ": "); ok {
			msg = line
		}
	}
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	return strings.ReplaceAll(msg, "|", "/")
}

// commit is figure 4: 10,000 changed files into a layer, against tar -c.
func (s *b) commit(string) error {
	script := `mkdir /data; i=0; while [ $i -lt 10000 ]; do echo $i > /data/f$i; i=$((i+1)); done`
	var stderr bytes.Buffer
	keep := s.stepCmd("run", "--keep", "--image", s.image, "/bin/sh", "-c", script)()
	keep.Stderr = &stderr
	if err := keep.Run(); err != nil {
		return fmt.Errorf("keep a container: %v: %s", err, stderr.String())
	}
	upper := strings.TrimSpace(stderr.String()[strings.LastIndex(stderr.String(), " in ")+4:])
	kept := filepath.Dir(upper)
	defer os.RemoveAll(kept)
	out, tarOut := filepath.Join(workDir, "committed"), filepath.Join(workDir, "upper.tar")
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"commit": func() *exec.Cmd {
			os.RemoveAll(out)
			return s.stepCmd("commit", filepath.Base(kept), out)()
		},
		"tar": func() *exec.Cmd { os.Remove(tarOut); return exec.Command("tar", "-cf", tarOut, "-C", upper, ".") },
	})
	if err != nil {
		return err
	}
	s.section("4. Commit: 10,000 changed files into a layer",
		"A kept container's upper layer of 10,000 new files. The runtime's commit also copies and checks the base image's layer (2 MB) and writes the config, manifest and index; GNU tar: `tar -cf` of the upper folder.", ratioTable)
	s.row(filepath.Base(s.runtime)+" commit", results["commit"], results["tar"], "tar -c", 0)
	return nil
}

// busyboxLayout writes the busybox image as an OCI layout of one layer.
func (s *b) busyboxLayout() (string, error) {
	layer, err := os.ReadFile(s.image)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(workDir, "busybox")
	return dir, oci.WriteLayout(dir, false, [][]byte{layer})
}

// removeDeadSessions removes what sessions that were killed left behind:
// their work folders, runc bundles and cgroup parents, each named by a
// pid that is no more (kill(pid, 0) says ESRCH). A cgroup that still
// holds a process stays, and is reported.
func removeDeadSessions() {
	patterns := []string{"/var/lib/boxcraft/bench-*", "/run/boxcraft/bench-*", "/sys/fs/cgroup/boxcraft/bench-*", "/sys/fs/cgroup/*/boxcraft/bench-*"}
	for _, pattern := range patterns {
		paths, _ := filepath.Glob(pattern)
		for _, path := range paths {
			pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "bench-"))
			if err != nil || pid <= 0 || !errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
				continue
			}
			if strings.HasPrefix(path, "/sys/fs/cgroup/") {
				err = removeCgroupTree(path)
			} else {
				err = os.RemoveAll(path)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: what the killed session %d left: %v\n", pid, err)
			}
		}
	}
}

// removeCgroupTree removes the cgroup dir and those below it, the
// deepest first (a cgroup's folder goes with rmdir(2), when it has no
// child and no process).
func removeCgroupTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return err
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if rmErr := os.Remove(dirs[i]); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}
	return err
}

// stepCmd returns a maker of a command of the step under test, with the
// session's own state folder and cgroup parent (as boxcraft's cmd).
func (s *b) stepCmd(args ...string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(s.runtime, args...)
		cmd.Env = append(os.Environ(), "BOXCRAFT_STATE_DIR="+s.store, "BOXCRAFT_CGROUP_PARENT="+cgroupParent)
		return cmd
	}
}

// header writes what the figures ran on, and how to run them again.
func (s *b) header() {
	var u unix.Utsname
	_ = unix.Uname(&u)
	cgroups := "v1 (hybrid)"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cgroups = "v2"
	}
	runcVersion, _ := exec.Command("runc", "--version").Output()
	fmt.Fprintf(&s.report, "# Benchmarks\n\nWritten by `sudo make bench` (internal/bench) on %s. Each figure is the median of %d runs, with the fastest and the slowest in brackets, and its ratio to an anchor measured in the same session, the two run in turn.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), s.runs)
	fmt.Fprintf(&s.report, "The machine: Linux %s, %s, %d CPUs, %s of memory, cgroup %s; %s; runc %s.\n",
		unix.ByteSliceToString(u.Release[:]), cpuModel(), runtime.NumCPU(), memTotal(), cgroups, runtime.Version(),
		strings.TrimPrefix(strings.SplitN(string(runcVersion), "\n", 2)[0], "runc version "))
}

// ratioTable is the head of a table of rows (see row).
const ratioTable = "| what | median (fastest–slowest) | anchor | anchor's median | ratio | target |\n|---|---|---|---|---:|---|\n"

// section starts a figure: its title, how it is measured, and the head
// of its table.
func (s *b) section(title, how, table string) {
	fmt.Fprintf(&s.report, "\n## %s\n\n%s\n\n%s", title, how, table)
}

// row writes one figure against its anchor, and its target, a ratio
// (0 for none).
func (s *b) row(what string, got, anchor durations, anchorName string, target float64) {
	ratio := got.median().Seconds() / anchor.median().Seconds()
	key := what + " against " + anchorName
	goal := "—"
	switch {
	case ratio <= 0:
		// got is a difference of two figures (minus), and the machine's
		// noise was larger than it: nothing was measured, nothing met.
		goal = "not measured: the difference came out below zero (noise)"
	case target > 0:
		s.ratios[key] = ratio
		s.targets[key] = target
		verdict := "met"
		if ratio > target {
			verdict = "missed"
		}
		goal = fmt.Sprintf("≤ %s×: %s", strconv.FormatFloat(target, 'f', -1, 64), verdict)
	default:
		s.ratios[key] = ratio
	}
	fmt.Fprintf(&s.report, "| %s | %s | %s | %s | %.2f× | %s |\n", what, got, anchorName, anchor, ratio, goal)
}

// durations are the times of one figure's runs, and the peak RSS of each.
type durations struct {
	times []time.Duration
	rss   []int64 // KiB
}

func (d durations) sorted() []time.Duration {
	t := slices.Clone(d.times)
	slices.Sort(t)
	return t
}

func (d durations) median() time.Duration {
	t := d.sorted()
	return t[len(t)/2]
}

func (d durations) medianRSS() int64 {
	r := slices.Clone(d.rss)
	slices.Sort(r)
	return r[len(r)/2]
}

// minus pairs two figures' runs in turn, one from the other.
func (d durations) minus(other durations) durations {
	var diff durations
	for i := range d.times {
		diff.times = append(diff.times, d.times[i]-other.times[i])
	}
	return diff
}

func (d durations) String() string {
	t := d.sorted()
	return fmt.Sprintf("%s (%s–%s)", round(d.median()), round(t[0]), round(t[len(t)-1]))
}

func round(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}

// measure runs a command n times and times each run.
func measure(make func() *exec.Cmd, n int) (durations, error) {
	results, err := inTurn(n, map[string]func() *exec.Cmd{"": make})
	return results[""], err
}

// inTurn runs each command n times, taking them in turn (a, b, c, a, b,
// c…), so that what the machine does meanwhile weighs on all alike. The
// maker runs before the clock starts: it may clear the way. So does
// sync(2): no run pays for writing out what the one before it wrote.
func inTurn(n int, commands map[string]func() *exec.Cmd) (map[string]durations, error) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	results := map[string]durations{}
	for range n {
		for _, name := range names {
			cmd := commands[name]()
			var output bytes.Buffer
			if cmd.Stdout == nil { // a maker may give it a file of its own (see detached)
				cmd.Stdout, cmd.Stderr = &output, &output
			}
			unix.Sync()
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, output.String())
			}
			d := results[name]
			d.times = append(d.times, took)
			d.rss = append(d.rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
			results[name] = d
		}
	}
	return results, nil
}

// measureMount times mount(2) of an overlay of the folders (top first),
// from a folder of short links to them, as the runtime mounts it.
func measureMount(folders []string, n int) (durations, error) {
	dir := filepath.Join(workDir, "mount")
	defer os.RemoveAll(dir)
	var d durations
	for range n {
		os.RemoveAll(dir)
		var names []string
		for _, sub := range []string{"lower", "upper", "work", "merged"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				return d, err
			}
		}
		for i, folder := range folders {
			names = append(names, strconv.Itoa(i))
			if err := os.Symlink(folder, filepath.Join(dir, "lower", names[i])); err != nil {
				return d, err
			}
		}
		options := "lowerdir=" + strings.Join(names, ":") + ",upperdir=../upper,workdir=../work,redirect_dir=off,metacopy=off"
		back, _ := os.Getwd()
		if err := os.Chdir(filepath.Join(dir, "lower")); err != nil {
			return d, err
		}
		start := time.Now()
		err := unix.Mount("overlay", filepath.Join(dir, "merged"), "overlay", 0, options)
		d.times = append(d.times, time.Since(start))
		_ = os.Chdir(back)
		if err != nil {
			return d, fmt.Errorf("mount an overlay of %d layers: %w", len(folders), err)
		}
		if err := unix.Unmount(filepath.Join(dir, "merged"), 0); err != nil {
			return d, err
		}
	}
	return d, nil
}

// runcBundle makes a runc bundle of the rootfs: a copy owned by the user
// namespace's root, and a config.json from runc spec, changed to match
// what the runtime does.
//
// The bundle is in /run/boxcraft/bench-PID: runc's init, as the user
// namespace's root, must walk the path to it, and the runtime's state
// folder lets no one but root in.
func runcBundle(rootfs string) (string, error) {
	bundle := runcDir
	for _, dir := range []string{filepath.Dir(runcDir), runcDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return "", err
		}
	}
	if err := copyFolder(rootfs, filepath.Join(bundle, "rootfs")); err != nil {
		return "", err
	}
	if out, err := exec.Command("chown", "-R", "100000:100000", filepath.Join(bundle, "rootfs")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("chown: %v: %s", err, out)
	}
	if out, err := exec.Command("runc", "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, out)
	}
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var config map[string]any
	if err := json.Unmarshal(data, &config); err != nil {
		return "", err
	}
	process := config["process"].(map[string]any)
	process["terminal"] = false
	process["args"] = []string{"/bin/true"}
	config["root"].(map[string]any)["readonly"] = false
	linux := config["linux"].(map[string]any)
	idMap := []map[string]int{{"containerID": 0, "hostID": 100000, "size": 65536}}
	linux["uidMappings"], linux["gidMappings"] = idMap, idMap
	linux["namespaces"] = []map[string]string{{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}}
	linux["resources"] = map[string]any{"memory": map[string]any{"limit": 64 << 20}}
	linux["cgroupsPath"] = "/" + cgroupParent + "/runc"
	data, err = json.MarshalIndent(config, "", "  ")
	if err != nil {
		return "", err
	}
	return bundle, os.WriteFile(path, data, 0o644)
}

// bigImage writes an image of the busybox rootfs and 10,000 files of 10
// kB of random bytes (incompressible) in 100 folders, and returns its
// path and size.
func bigImage(rootfs string) (string, int64, error) {
	data := filepath.Join(workDir, "big", "data")
	random := rand.New(rand.NewSource(1))
	content := make([]byte, 10_000)
	for d := range 100 {
		dir := filepath.Join(data, fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", 0, err
		}
		for f := range 100 {
			random.Read(content)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", f)), content, 0o644); err != nil {
				return "", 0, err
			}
		}
	}
	image := filepath.Join(workDir, "big.tar")
	if out, err := exec.Command("tar", "-cf", image, "-C", rootfs, ".", "-C", filepath.Dir(data), "data").CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("tar: %v: %s", err, out)
	}
	info, err := os.Stat(image)
	if err != nil {
		return "", 0, err
	}
	return image, info.Size(), nil
}

// tarOf is a layer of one file.
func tarOf(name, body string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)})
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	return buf.Bytes()
}

// untar unpacks an image tarball into a new folder.
func untar(image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("tar", "-xf", image, "-C", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	return nil
}

// copyFolder copies a folder, with its owners, into a new folder.
func copyFolder(from, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", from+"/.", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("cp: %v: %s", err, out)
	}
	return nil
}

// fileDigest is a file's sha256, in hex.
func fileDigest(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// handWritten is the line below which the report is written by hand
// (where the time goes, from profiles; the soak's result): bench writes
// the figures above it and keeps all that follows it as it is. A report
// from before the line keeps what follows notesHeading.
const (
	handWritten  = "\n<!-- Written by hand below this line: make bench keeps it as it is. -->\n"
	notesHeading = "\n## Where the time goes"
)

// keptNotes is the hand-written end of the report at out, if any, from
// the handWritten line on.
func keptNotes(out string) string {
	data, err := os.ReadFile(out)
	if err != nil {
		return ""
	}
	if i := strings.Index(string(data), handWritten); i >= 0 {
		return string(data[i:])
	}
	if i := strings.Index(string(data), notesHeading); i >= 0 {
		return handWritten + string(data[i:])
	}
	return handWritten
}

// cpuModel is the CPU's name, as /proc/cpuinfo gives it.
func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "an unknown CPU"
}

// memTotal is the machine's memory, as /proc/meminfo gives it.
func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if kb, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(kb), " kB"))
			return fmt.Sprintf("%.0f GiB", float64(n)/(1<<20))
		}
	}
	return "unknown"
}
