// Package containerinit is the container's side of a start: the process
// that the monitor clones into the new namespaces, which sets the
// container up from the inside and then becomes its command with
// execve(2). runc calls it `runc init`; step02 to step05 called it
// `init`, and took their settings as a growing argv. Here it reads the
// one settings value, spec.Container, as JSON from an inherited pipe, and
// imports nothing of the lifecycle: only the leaves that set a container
// up (rootfs, security).
//
// The order of Main is the order of the lessons: the hostname (step02),
// the root (step04), the command's terminal with -t (final/console), the
// pids (step02), the masked and read-only paths (issue 20), then, once in the cgroup (step03; on v1 the monitor moves
// init there meanwhile, issue 26), the cgroup namespace (step02) and
// boxcraft run's cgroup mount on /sys/fs/cgroup (step03), the working
// folder, then what is taken from root (issue 20, security.go:
// the bounding set, the user of -u, the capabilities, no_new_privs,
// seccomp), the command (step01).
package containerinit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"syscall"

	"github.com/boxcraft/boxcraft/final/rootfs"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// The descriptors init is started with, beyond stdio.
const (
	SettingsFD = 3 // reads spec.Container as JSON; EOF means go on
	ReportFD   = 4 // writes a Failure, or nothing if the exec succeeds
	// FirstTreeFD is the first of the bind mounts the monitor made ready
	// (with a user namespace: id-mapped, rootfs.OpenBind), one for each
	// "bind" of c.Mounts, in order.
	FirstTreeFD = 5
)

// Failure is what init reports when it cannot become the command. The
// report pipe is close-on-exec: a successful execve closes it with
// nothing written, and the monitor reads an end of file.
type Failure struct {
	Status  int    `json:"status"` // 126, 127, or 125 for a failure of the set-up
	Message string `json:"message"`
	// Waiting is no failure: init has set the container up and waits
	// for the OCI start (c.StartFifo, wait.go).
	Waiting bool `json:"waiting,omitempty"`
	// errno is the kernel's error behind the failure, for the trace:
	// init's side only, never sent.
	errno syscall.Errno
}

// Main sets the container up and execs its command. It returns only on a
// failure, which it has reported.
func Main() {
	// unshare(CLONE_NEWCGROUP) changes the calling thread only, and execve
	// keeps the namespaces of the thread that calls it: both must happen
	// on one thread, or CMD may run in the host's cgroup namespace.
	runtime.LockOSThread()
	report := os.NewFile(ReportFD, "report")
	c, inCgroup, err := readSettings()
	var wait *startWait
	var tr *trace.Tracer
	if err == nil {
		tr = openTracer(c)
		wait, err = openStartFifo(c, report)
	}
	if err == nil {
		err = setUp(c, wait, inCgroup, tr)
	}
	if err == nil {
		err = execCommand(c, tr)
	}
	if wait != nil && wait.reported {
		report = nil // closed: create has returned, stderr says it
	}
	finish(report, err)
}

// finish reports why init could not become the command, and exits with
// its status.
func finish(report *os.File, err error) {
	var failure *Failure
	if !errors.As(err, &failure) {
		failure = &Failure{Status: 125, Message: err.Error()}
	}
	if report == nil || json.NewEncoder(report).Encode(failure) != nil {
		fmt.Fprintln(os.Stderr, "boxcraft init:", failure.Message)
	}
	os.Exit(failure.Status)
}

func (f *Failure) Error() string { return f.Message }

// Unwrap is the kernel's error number, when the failure has one.
func (f *Failure) Unwrap() error {
	if f.errno == 0 {
		return nil
	}
	return f.errno
}

// InCgroup is what the monitor writes on the settings pipe after the
// settings, once init is in the container's cgroup; then it closes the
// pipe. An end of the pipe without it means that the monitor could not
// put init there, and init goes no further.
const InCgroup = 'c'

// notInCgroup is init's report when the pipe ended without InCgroup.
const notInCgroup = "boxcraft init: the monitor did not put init in its cgroup"

// readSettings reads the container's settings, one JSON value on
// SettingsFD, and returns with them the wait for InCgroup. On cgroup v2
// init is cloned into its cgroup, and InCgroup follows the settings at
// once; on v1 the monitor moves init there after clone, which waits for
// an RCU grace period (some 7 ms): init sets the root up meanwhile, and
// waits only before the steps that need the cgroup (issue 26), so that
// nothing of the container's own runs outside it.
func readSettings() (*spec.Container, func() error, error) {
	pipe := os.NewFile(SettingsFD, "settings")
	if pipe == nil {
		return nil, nil, errors.New("boxcraft init is started by boxcraft, not by hand")
	}
	dec := json.NewDecoder(pipe)
	var c spec.Container
	if err := dec.Decode(&c); err != nil {
		pipe.Close()
		if errors.Is(err, io.EOF) {
			return nil, nil, errors.New("boxcraft init is started by boxcraft, not by hand: no settings on its pipe")
		}
		return nil, nil, fmt.Errorf("read the container's settings: %w", err)
	}
	inCgroup := func() error {
		defer pipe.Close()
		rest, err := io.ReadAll(io.MultiReader(dec.Buffered(), pipe))
		if err != nil || string(bytes.TrimSpace(rest)) != string(InCgroup) {
			return errors.New(notInCgroup)
		}
		return nil
	}
	return &c, inCgroup, nil
}

// step is one thing init does, with the lesson that teaches it. setUp
// runs them in order; a step whose settings do not ask for it is left
// out. The list is where a start can report each step as it happens
// (--trace: runSteps) without another word in the steps.
type step struct {
	lesson string
	name   string
	do     func() error
}

// steps are init's work for c, in order. Being in the cgroup comes
// first where a mount needs it (an OCI bundle's "cgroup" mount shows the
// cgroups init is in), otherwise after the mounts (readSettings).
// boxcraft run's cgroup mount (c.CgroupMount) waits for neither: it
// comes last, in the container's own cgroup namespace.
func steps(c *spec.Container, wait *startWait, inCgroup func() error, tr *trace.Tracer) []step {
	var list []step
	add := func(when bool, lesson, name string, do func() error) {
		if when {
			list = append(list, step{lesson, name, do})
		}
	}
	ns := c.Namespaces
	root := c.Root.Path // the host's path, for a failure to name: init then calls it "."
	early := hasCgroupMount(c.Mounts)
	newCgroupNS := ns.Cgroup && !joined(c, "cgroup")
	// boxcraft run's cgroup mount shows only the hierarchies where init
	// is in the container's cgroup: they are read before the namespace.
	var before map[string]string
	enterNamespace := func() error {
		var err error
		if c.CgroupMount != nil {
			if before, err = rootfs.OwnCgroups(); err != nil {
				return fmt.Errorf("read init's cgroups: %w", err)
			}
		}
		return enterCgroupNamespace()
	}
	add(early, "step03", "wait to be in the cgroup", inCgroup)
	add(early && newCgroupNS, "step02", "enter a new cgroup namespace", enterNamespace)
	add(ns.UTS && c.Hostname != "", "step02", "set the hostname", func() error { return setHostname(c.Hostname) })
	add(ns.Net && !joined(c, "net"), "step02", "bring up lo", bringUpLoopback)
	add(true, "step04", "set up the root and pivot into it", func() error {
		if err := rootfs.Setup(c, inheritedTrees(c), tr, createContainerHooks(c)); err != nil {
			return fmt.Errorf("the root %s: %w", root, err)
		}
		return nil
	})
	list = append(list, terminalStep(c)...)
	add(ns.PID && !joined(c, "pid"), "step02", "restart the pids", restartPids)
	list = append(list, ociSteps(c)...)
	add(len(c.Sysctl) > 0, "issue23", "write the sysctls", func() error { return writeSysctls(c.Sysctl) })
	// After ns_last_pid: /proc/sys is read-only from here on.
	sec := c.Security
	add(len(sec.MaskedPaths)+len(sec.ReadonlyPaths) > 0, "issue20", "mask and make read-only /proc's and /sys's dangerous paths",
		func() error { return rootfs.Protect(sec.MaskedPaths, sec.ReadonlyPaths) })
	add(!sec.Privileged && len(sec.ReadonlyPaths) == 0, "step02", "make /proc/sys read-only", func() error { return rootfs.ReadOnlyProcSys(c) })
	list = append(list, procViewSteps(c)...)
	add(!early, "step03", "wait to be in the cgroup", inCgroup)
	add(!early && newCgroupNS, "step02", "enter a new cgroup namespace", enterNamespace)
	// Only in a cgroup namespace of its own: a new mount outside one
	// would show the host's whole tree.
	if m := c.CgroupMount; m != nil && newCgroupNS {
		cgroup := path.Join("/", c.CgroupParent, c.CgroupName())
		list = append(list, step{"step03", "mount the cgroups on " + m.Target, func() error { return rootfs.MountCgroups(*m, before, cgroup) }})
	}
	return append(list, processSteps(c, wait, tr)...)
}

// hasCgroupMount says whether mounts hold a mount of the cgroups.
func hasCgroupMount(mounts []spec.Mount) bool {
	for _, m := range mounts {
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			return true
		}
	}
	return false
}

// processSteps are the command's own settings, the last steps before the
// exec. A command exec starts in the container takes the same, in the
// same order, from boxcraft exec's plan (monitor's execPlan, taken in C
// by exec-init): keep the two alike. The container's security settings
// (issue 20: capabilities, seccomp, no_new_privs) go last here.
// The last mount is made by then: the working folder is entered, and
// checked to be inside the root, after it (CVE-2024-21626).
func processSteps(c *spec.Container, wait *startWait, tr *trace.Tracer) []step {
	p := &c.Process
	list := []step{
		{"step02", "close inherited files", closeInheritedFiles},
		{"step01", "enter the working folder", func() error { return enterWorkingFolder(p.Cwd) }},
	}
	if p.OOMScoreAdj != nil {
		list = append(list, step{"issue23", "set oom_score_adj", func() error { return setOOMScoreAdj(*p.OOMScoreAdj) }})
	}
	return append(list, securitySteps(c, wait, tr)...)
}

// inheritedTrees are the bind mounts the monitor made ready, by their
// index in c.Mounts: with a user namespace, every bind.
func inheritedTrees(c *spec.Container) rootfs.Trees {
	if !c.Namespaces.User() {
		return nil
	}
	trees := rootfs.Trees{}
	fd := FirstTreeFD
	for i, m := range c.Mounts {
		if m.Type == "bind" {
			trees[i] = os.NewFile(uintptr(fd), m.Source)
			fd++
		}
	}
	return trees
}

// setUp makes the container what its settings say, from the inside.
func setUp(c *spec.Container, wait *startWait, inCgroup func() error, tr *trace.Tracer) error {
	if err := hideInit(c); err != nil {
		return err
	}
	// init starts in its root folder (the monitor's doing), which it
	// names "." from here: with a user namespace, its root user may not
	// walk the host's path to it.
	list := steps(c, wait, inCgroup, tr)
	c.Root.Path = "."
	return runSteps(tr, list)
}

// enterCgroupNamespace gives the container a cgroup namespace of its own,
// now that it is in its cgroup: a cgroup namespace is rooted at the
// cgroup its first process is in when it is made, so made now its root is
// the container's own cgroup, which the command sees as "/" (step02).
func enterCgroupNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare the cgroup namespace: %w", err)
	}
	return nil
}

// setHostname names the UTS namespace; the host's name is untouched.
func setHostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

// bringUpLoopback sets IFF_UP on lo: a new network namespace has only lo,
// and it is down, so not even 127.0.0.1 would answer.
func bringUpLoopback() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("read the flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// closeInheritedFiles marks every descriptor beyond stdio close-on-exec
// (close_range(2)): an open folder of the host is a way out of any root.
// The report pipe goes too, and that is how the monitor learns that the
// exec succeeded.
func closeInheritedFiles() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	return nil
}

// restartPids makes the pid namespace hand out pid 2 next: the Go
// runtime's threads took pids in it, which execve frees (step02).
func restartPids() error {
	err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write ns_last_pid: %w", err)
	}
	return nil
}

// enterWorkingFolder makes the command's working folder, as Docker does
// when the image's WorkingDir or -w names one that is missing, and
// enters it.
func enterWorkingFolder(dir string) error {
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("working folder %s: %w", dir, err)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("working folder %s: %w", dir, err)
	}
	return checkWorkingFolderInside(dir)
}

// checkWorkingFolderInside makes sure the working folder is below the
// container's root (CVE-2024-21626: runc's leaked descriptor of a host
// folder, given as -w /proc/self/fd/N, left the command standing on the
// host). getcwd(2) names a folder the root cannot reach "(unreachable)…",
// which Getwd reports as ENOENT.
func checkWorkingFolderInside(dir string) error {
	if _, err := syscall.Getwd(); err != nil {
		return fmt.Errorf("working folder %s: not inside the container's root: %w", dir, err)
	}
	return nil
}
