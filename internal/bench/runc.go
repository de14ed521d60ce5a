package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 23's figures: boxcraft-runc, boxcraft behind runc's command line,
// against runc itself, directly (19) and under containerd (20).

// runcBin is boxcraft-runc beside boxcraft (make bins builds both).
func (x *boxcraft) runcBin() string { return filepath.Join(filepath.Dir(x.bin), "boxcraft-runc") }

// ociRun is figure 19: `boxcraft-runc run` of runc's bundle against
// `runc run` of the same bundle, in turn.
func (s *b) ociRun() error {
	bundle, err := runcVariant(s.bundle, "oci", true, []string{"/bin/true"})
	if err != nil {
		return err
	}
	n := 0
	run := func(bin string) func() *exec.Cmd {
		return func() *exec.Cmd {
			n++
			return exec.Command(bin, "--root", filepath.Join(runcDir, filepath.Base(bin)), "run", "--bundle", bundle, "bench-oci-"+strconv.Itoa(n))
		}
	}
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{"boxcraft-runc": run(s.bx.runcBin()), "runc": run("runc")})
	if err != nil {
		return err
	}
	s.section("19. boxcraft-runc run against runc run",
		"`boxcraft-runc run --bundle B ID` of figure 1's runc bundle (its user namespace and id maps, the uts, pid, ipc, net, mnt and cgroup namespaces, a 64 MiB memory limit, /bin/true), against `runc run` of the same bundle, in turn: both create (init waiting on the exec fifo), start, wait, and delete the container. No monitor on either side: the engine is the caller.", ratioTable)
	s.row("boxcraft-runc run", results["boxcraft-runc"], results["runc"], "runc run", 0.5)
	return nil
}

// ctrRun is figure 20: `ctr run --rm` of /bin/true with boxcraft-runc
// against with runc, under a containerd of the session's own.
func (s *b) ctrRun(rootfs string) error {
	d, err := startContainerd(filepath.Join(workDir, "containerd"))
	if err != nil {
		return err
	}
	defer d.stop()
	defer removeCgroupParent(cgroupParent + "/ctr") // runc leaves the parent it made
	n := 0
	run := func(bin string) func() *exec.Cmd {
		return func() *exec.Cmd {
			n++
			id := "bench-ctr-" + strconv.Itoa(n)
			return d.ctr("run", "--rm", "--runc-binary", bin, "--runc-root", filepath.Join(d.dir, "runc-"+filepath.Base(bin)),
				"--cgroup", "/"+cgroupParent+"/ctr/"+id, "--rootfs", rootfs, id, "/bin/true")
		}
	}
	runcPath, err := exec.LookPath("runc")
	if err != nil {
		return err
	}
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{"boxcraft-runc": run(s.bx.runcBin()), "runc": run(runcPath)})
	if err != nil {
		return err
	}
	s.section("20. ctr run --rm with boxcraft-runc against with runc",
		"`ctr run --rm --runc-binary BIN --cgroup /boxcraft/bench-PID/ctr/ID --rootfs ROOTFS ID /bin/true`, BIN boxcraft-runc or runc, in turn, under a containerd of the session's own (its config, root, state and socket in the session's folder, itself in a mount namespace of its own with a tmpfs on /run): containerd starts a shim, which runs the runtime's create, start and delete; most of the time is containerd's and the shim's.", ratioTable)
	s.row("ctr run --rm, boxcraft-runc", results["boxcraft-runc"], results["runc"], "ctr run --rm, runc", 0.9)
	return nil
}

// containerd is a containerd of the session's own, as the test kit's
// (internal/testkit/final_containerd.go).
type containerd struct {
	dir, socket string
	cmd         *exec.Cmd
}

func startContainerd(dir string) (*containerd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	d := &containerd{dir: dir, socket: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.socket, d.socket+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	// A tmpfs on /run in a mount namespace of its own: containerd 1.6
	// and its shims put sockets and fifos below /run/containerd, which
	// they cannot be told to put elsewhere.
	d.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /run && exec containerd --config "$1"`, "sh", filepath.Join(dir, "config.toml"))
	d.cmd.Stdout, d.cmd.Stderr = log, log
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if d.ctr("version").Run() == nil {
			return d, nil
		}
	}
	d.stop()
	return nil, errors.New("containerd did not answer on its socket")
}

// ctr is ctr in containerd's mount namespace, on its socket.
func (d *containerd) ctr(args ...string) *exec.Cmd {
	ns := fmt.Sprintf("--mount=/proc/%d/ns/mnt", d.cmd.Process.Pid)
	return exec.Command("nsenter", append([]string{ns, "--", "ctr", "--address", d.socket}, args...)...)
}

// stop deletes what containerd still runs, stops it, and kills what is
// left in its mount namespace (a shim), by pid.
func (d *containerd) stop() {
	var ns unix.Stat_t
	nsErr := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", d.cmd.Process.Pid), &ns)
	if out, err := d.ctr("task", "ls", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = d.ctr("task", "delete", "--force", id).Run()
		}
	}
	if out, err := d.ctr("container", "ls", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = d.ctr("container", "delete", id).Run()
		}
	}
	_ = d.cmd.Process.Signal(unix.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	if nsErr == nil {
		killInMountNamespace(ns.Ino)
	}
}

// killInMountNamespace kills, by pid, each process whose mount namespace
// is ino.
func killInMountNamespace(ino uint64) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid), &st) == nil && st.Ino == ino {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}
