package testkit

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// containerd is a containerd of the test's own: its config, root, state
// and socket in the test's folder, and itself in a mount namespace of
// its own with a tmpfs on /run, where containerd 1.6 and its shims put
// what they cannot be told to put elsewhere (/run/containerd/s, the
// shims' sockets; /run/containerd/fifo, ctr's): the machine's own
// /run/containerd is never touched. ctr runs in that namespace too.
type containerd struct {
	dir, socket string
	cmd         *exec.Cmd
	image       string // the busybox image, imported
}

// Containerd is the suite of containerd driving boxcraft-runc in runc's
// place (ctr run --runc-binary): a command's output and exit status, a
// detached container with exec, ps, pause and resume, kill and delete,
// a memory limit in the container's cgroup, an interactive container on
// a terminal (the console socket), and the OOM killer's event.
func Containerd(t *testing.T) {
	RequireRoot(t)
	d := startContainerd(t)
	d.importBusybox(t)
	t.Run("Run", d.runOutputAndStatus)
	t.Run("Detached", d.detached)
	t.Run("Interactive", d.interactive)
	t.Run("OOM", d.oom)
}

func startContainerd(t *testing.T) *containerd {
	t.Helper()
	dir := t.TempDir()
	d := &containerd{dir: dir, socket: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), d.socket, d.socket+".ttrpc")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o644))
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	require.NoError(t, err)
	t.Cleanup(func() { log.Close() })
	// Not HostCommand: containerd outlives its timeout. It starts no
	// runtime before ctr asks it to, and boxcraft-runc makes no network.
	d.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /run && exec containerd --config "$1"`, "sh", filepath.Join(dir, "config.toml"))
	d.cmd.Env = append(os.Environ(), sandboxEnv(t)...)
	d.cmd.Stdout, d.cmd.Stderr = log, log
	require.NoError(t, d.cmd.Start())
	t.Cleanup(func() { d.stop(t) })
	require.True(t, eventually(30*time.Second, func() bool {
		return d.ctr(t, "version").Code == 0
	}), "containerd answers on its socket")
	return d
}

// ctr runs ctr, in containerd's mount namespace, on its socket.
func (d *containerd) ctr(t testing.TB, args ...string) Result {
	t.Helper()
	return RunCmd(t, d.ctrCommand(t, args...))
}

func (d *containerd) ctrCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	ns := fmt.Sprintf("--mount=/proc/%d/ns/mnt", d.cmd.Process.Pid)
	return HostCommand(t, "nsenter", append([]string{ns, "--", "ctr", "--address", d.socket}, args...)...)
}

// stop removes every task and container left, stops containerd, and
// kills whatever is left in its mount namespace (a shim), by pid.
func (d *containerd) stop(t *testing.T) {
	var ns unix.Stat_t
	nsErr := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", d.cmd.Process.Pid), &ns)
	for _, id := range strings.Fields(d.ctr(t, "task", "ls", "-q").Stdout) {
		d.ctr(t, "task", "delete", "--force", id)
	}
	for _, id := range strings.Fields(d.ctr(t, "container", "ls", "-q").Stdout) {
		d.ctr(t, "container", "delete", id)
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
		for _, pid := range ProcessesInNamespace("mnt", ns.Ino) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// importBusybox imports the test image, as docker save writes it.
func (d *containerd) importBusybox(t *testing.T) {
	t.Helper()
	tarball := DockerSave(t, false, readFile(t, imageTar(t))) // named by its manifest.json: boxcraft/test:latest
	r := d.ctr(t, "image", "import", "--snapshotter", "native", tarball)
	require.Equal(t, 0, r.Code, "ctr image import: %s", r)
	d.image = "docker.io/boxcraft/test:latest"
}

// runArgs are ctr run's flags for boxcraft-runc, its cgroup below the
// test's parent, then the image, the id and cmd.
func (d *containerd) runArgs(t *testing.T, flags []string, id string, cmd ...string) []string {
	t.Helper()
	parent, _ := CgroupParent(t)
	args := append([]string{"run", "--snapshotter", "native", "--runc-binary", RuncBinary(t),
		"--runc-root", filepath.Join(d.dir, "runc"), "--cgroup", "/" + parent + "/" + id}, flags...)
	return append(append(args, d.image, id), cmd...)
}

// cgroupDirs are the container id's cgroup folders, by hierarchy.
func cgroupDirs(t *testing.T, id string) map[string]string {
	t.Helper()
	_, parents := CgroupParent(t)
	dirs := map[string]string{}
	for hierarchy, dir := range parents {
		dirs[hierarchy] = filepath.Join(dir, id)
	}
	return dirs
}

// runOutputAndStatus: ctr run prints what the command printed and exits
// with its status; the command ran in its cgroup below the test's parent.
func (d *containerd) runOutputAndStatus(t *testing.T) {
	parent, _ := CgroupParent(t)
	r := d.ctr(t, d.runArgs(t, []string{"--rm"}, "run1", "sh", "-c", "echo hello; cat /proc/self/cgroup; exit 3")...)
	assert.Equal(t, 3, r.Code, "ctr run exits with the command's status: %s", r)
	assert.True(t, strings.HasPrefix(r.Stdout, "hello\n"), "the command's output: %q", r.Stdout)
	assert.Contains(t, r.Stdout, ":/"+parent+"/run1\n", "in the cgroup ctr asked for")
	for _, dir := range cgroupDirs(t, "run1") {
		assert.NoDirExists(t, dir, "--rm: its cgroup is gone")
	}
}

// detached: ctr run -d, then exec, ps, pause, resume, kill and delete,
// each seen in ctr's answers and the cgroup's files; the memory limit
// is in the cgroup.
func (d *containerd) detached(t *testing.T) {
	const id = "det1"
	r := d.ctr(t, d.runArgs(t, []string{"-d", "--memory-limit", "33554432"}, id,
		"sh", "-c", `trap "exit 12" TERM; while :; do sleep 0.1; done`)...)
	require.Equal(t, 0, r.Code, "ctr run -d: %s", r)
	pid := d.taskPid(t, id, "RUNNING")
	dirs := cgroupDirs(t, id)
	assert.Contains(t, ociCgroupProcs(t, dirs), pid, "the task's pid is in its cgroup")
	assert.Equal(t, "33554432", memoryLimit(t, dirs), "--memory-limit is the cgroup's")

	r = d.ctr(t, "task", "exec", "--exec-id", "e1", id, "sh", "-c", "echo from-exec; cat /proc/self/cgroup; exit 4")
	assert.Equal(t, 4, r.Code, "ctr task exec exits with the command's status: %s", r)
	assert.Contains(t, r.Stdout, "from-exec\n")
	assert.Contains(t, r.Stdout, "/"+id+"\n", "the exec runs in the container's cgroup")

	r = d.ctr(t, "task", "ps", id)
	require.Equal(t, 0, r.Code, "ctr task ps: %s", r)
	assert.Contains(t, strings.Fields(r.Stdout), strconv.Itoa(pid), "ctr task ps lists init")

	require.Equal(t, 0, d.ctr(t, "task", "pause", id).Code)
	d.taskPid(t, id, "PAUSED")
	assert.True(t, frozen(t, dirs), "paused: its cgroup is frozen")
	require.Equal(t, 0, d.ctr(t, "task", "resume", id).Code)
	d.taskPid(t, id, "RUNNING")
	assert.False(t, frozen(t, dirs), "resumed: thawed")

	require.Equal(t, 0, d.ctr(t, "task", "kill", "--signal", "SIGTERM", id).Code)
	d.taskPid(t, id, "STOPPED")
	r = d.ctr(t, "task", "delete", id)
	require.Equal(t, 0, r.Code, "ctr task delete: %s", r)
	assert.Contains(t, r.Stdout+r.Stderr, "exit code 12", "the TERM trap's status, reported")
	require.Equal(t, 0, d.ctr(t, "container", "delete", id).Code)
	for _, dir := range dirs {
		assert.NoDirExists(t, dir, "deleted: its cgroup is gone")
	}
}

// taskPid waits until ctr task ls shows id with status, and returns its pid.
func (d *containerd) taskPid(t *testing.T, id, status string) int {
	t.Helper()
	var pid int
	require.True(t, eventually(20*time.Second, func() bool {
		for _, line := range strings.Split(d.ctr(t, "task", "ls").Stdout, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] == status {
				pid, _ = strconv.Atoi(f[1])
				return true
			}
		}
		return false
	}), "ctr task ls shows %s %s", id, status)
	return pid
}

// memoryLimit reads the cgroup's memory limit: v1's or v2's file.
func memoryLimit(t *testing.T, dirs map[string]string) string {
	t.Helper()
	path := filepath.Join(dirs[""], "memory.max")
	if dir, ok := dirs["memory"]; ok {
		path = filepath.Join(dir, "memory.limit_in_bytes")
	}
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(data))
}

// interactive: ctr run -t gives the shell a terminal of the container's
// own devpts (its master through boxcraft-runc's console socket) that
// the test types into.
func (d *containerd) interactive(t *testing.T) {
	master, term := openPty(t)
	cmd := d.ctrCommand(t, d.runArgs(t, []string{"--rm", "-t"}, "tty1", "sh")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = term, term, term
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	running := startWithOutput(t, cmd)
	var out lockedBuffer
	go func() { _, _ = io.Copy(&out, master) }()
	seen := func(what string) bool {
		return eventually(30*time.Second, func() bool { return strings.Contains(out.String(), what) })
	}
	_, err := master.Write([]byte("tty; echo answer=$((6*7)); exit 5\r"))
	require.NoError(t, err)
	assert.True(t, seen("answer=42"), "the shell read the terminal and answered:\n%q", out.String())
	assert.Contains(t, out.String(), "/dev/pts/0", "its stdin is a terminal, the first of the container's devpts, as under runc")
	r := waitBounded(t, running, 30*time.Second)
	assert.Equal(t, 5, r.Code, "ctr run -t exits with the shell's status\n%q", out.String())
}

// oom: a container over its memory limit is killed (137), and
// containerd's shim reports the OOM event it read from the cgroup.
func (d *containerd) oom(t *testing.T) {
	var events lockedBuffer
	watch := d.ctrCommand(t, "events")
	watch.Stdout = &events
	startWithOutput(t, watch)
	r := d.ctr(t, d.runArgs(t, []string{"--rm", "--memory-limit", "16777216"}, "oom1",
		"sh", "-c", "x=a; while :; do x=$x$x; done")...)
	assert.Equal(t, 137, r.Code, "killed by the OOM killer: %s", r)
	assert.True(t, eventually(10*time.Second, func() bool {
		return strings.Contains(events.String(), `/tasks/oom {"container_id":"oom1"}`)
	}), "containerd reported the OOM:\n%s", events.String())
}
