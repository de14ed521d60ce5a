package monitor

import (
	"fmt"
	"os"
	"strings"

	"os/exec"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// traceInit gives init a pipe for its trace (--trace) when tr is on:
// its write end joins the descriptors init inherits, after trees, and
// c.Trace.FD names it for init; this monitor relays what init writes
// onto tr's writer until init execs (the pipe is close-on-exec there)
// or ends. first is the number trees[0] has in init. It returns the trees to pass and a channel closed once the
// relay is done (nil when off).
func traceInit(c *spec.Container, tr *trace.Tracer, first int, trees []*os.File) ([]*os.File, <-chan struct{}, error) {
	c.Trace.FD = 0
	if !tr.Enabled() || c.StartFifo != "" {
		return trees, nil, nil
	}
	c.Trace.Mode, c.Trace.Origin = tr.Mode(), tr.Origin().UnixNano()
	r, w, err := os.Pipe()
	if err != nil {
		return trees, nil, fmt.Errorf("a pipe for init's trace: %w", err)
	}
	c.Trace.FD = first + len(trees)
	relayed := tr.Relay(r)
	done := make(chan struct{})
	go func() {
		<-relayed
		r.Close()
		close(done)
	}()
	return append(trees, w), done, nil
}

// cloneInit starts init (newInit), reported as clone(2) with its flags,
// and, with tr on, with a pipe for init's own trace (traceInit). The
// caller closes trees; relayed is closed once init's last line is in.
func cloneInit(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup, io *stdio, trees []*os.File, tr *trace.Tracer) (
	cmd *exec.Cmd, settings, report *os.File, relayed <-chan struct{}, err error) {
	passed, relayed, err := traceInit(c, tr, containerinit.FirstTreeFD, trees)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	argv := func() string { // the program init is: boxcraft-init, or boxcraft init
		if cmd == nil {
			return "init"
		}
		return strings.Join(cmd.Args, " ")
	}
	err = tr.Do("step02", "clone", func() string { return describeClone(c, cg.Paths()[""] != "", argv()) }, func() (err error) {
		cmd, settings, report, err = newInit(c, dirs, cg, io, passed)
		return err
	})
	if len(passed) > len(trees) {
		passed[len(trees)].Close() // init has it, or failed to start: the relay ends with init
	}
	if err != nil {
		waitRelay(relayed)
		return nil, nil, nil, nil, err
	}
	return cmd, settings, report, relayed, nil
}

// waitRelay waits until init's last trace line is relayed.
func waitRelay(done <-chan struct{}) {
	if done != nil {
		<-done
	}
}

// describeClone is clone(2)'s flags, the program init runs (argv) and
// the user namespace's maps, as the trace prints them.
func describeClone(c *spec.Container, cgroupFD bool, argv string) string {
	flags := cloneFlags(c.Namespaces)
	var names []string
	for _, f := range []struct {
		flag uintptr
		name string
	}{
		{unix.CLONE_NEWNS, "CLONE_NEWNS"}, {unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWPID, "CLONE_NEWPID"},
		{unix.CLONE_NEWIPC, "CLONE_NEWIPC"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"}, {unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	} {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	s := strings.Join(names, "|")
	if cgroupFD {
		s += "|CLONE_INTO_CGROUP"
	}
	s += " " + argv
	if c.Namespaces.User() {
		s += fmt.Sprintf(", uid_map %s, gid_map %s", idMaps(c.Namespaces.UIDMap), idMaps(c.Namespaces.GIDMap))
	}
	return s
}

// describeSetns names the namespaces exec-init's constructor joins
// (setns(2) on a pidfd of the container's init takes them at once).
func describeSetns(flags, pid int) string {
	var names []string
	for _, f := range []struct {
		flag int
		name string
	}{
		{unix.CLONE_NEWNS, "mnt"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWPID, "pid"}, {unix.CLONE_NEWIPC, "ipc"},
		{unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWCGROUP, "cgroup"},
	} {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	return fmt.Sprintf("(pidfd of pid %d, %s): joined in exec-init's C constructor, before the Go runtime starts", pid, strings.Join(names, "|"))
}

// idMaps is a map as /proc/PID/uid_map writes it, lines joined by "; ".
func idMaps(maps []spec.IDMap) string {
	var lines []string
	for _, m := range maps {
		lines = append(lines, fmt.Sprintf("%d %d %d", m.ContainerID, m.HostID, m.Size))
	}
	return strings.Join(lines, "; ")
}
