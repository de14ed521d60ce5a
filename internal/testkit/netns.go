package testkit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Every program a root test starts through the kit (HostCommand, Command,
// Run) runs in a network namespace of the test's own, never in the
// machine's: boxcraft's default network makes a bridge, veth pairs and
// nftables rules in the namespace it runs in, and the machine is shared.
// The namespace is the test's "host": a container's monitor, detached,
// stays in it, and the test's later commands (ps, exec, stop, rm) join
// the same one, so they see what its runs made. It holds a loopback, up,
// and nothing else; it goes when the test ends and its last process is
// gone, and with it whatever a run made there.
//
// The test binary itself does the work, in two roles that init() picks
// from the environment before any test runs:
//
//   - the holder, started in a new network namespace (clone with
//     CLONE_NEWNET), brings its loopback up and waits until its stdin
//     closes: while it lives, /proc/PID/ns/net names the namespace;
//   - the door, started in place of a command, joins the holder's
//     namespace (setns) and execs the command: the same process, so its
//     pid, signals, stdio, cgroup and session are the command's.
const (
	holdEnv  = "BOXCRAFT_TESTKIT_NETNS_HOLD" // "1": be the holder
	enterEnv = "BOXCRAFT_TESTKIT_NETNS"      // the namespace the door joins: /proc/PID/ns/net
	execEnv  = "BOXCRAFT_TESTKIT_EXEC"       // the program the door then execs
)

func init() {
	switch {
	case os.Getenv(holdEnv) == "1":
		os.Exit(holdNamespace())
	case os.Getenv(enterEnv) != "":
		os.Exit(enterAndExec(os.Getenv(enterEnv), os.Getenv(execEnv)))
	}
}

// holdNamespace is the holder: loopback up, "ready" on stdout, then it
// waits for stdin to close (the test ends, or its process dies).
func holdNamespace() int {
	if err := loopbackUp(); err != nil {
		fmt.Fprintf(os.Stderr, "testkit: the test's network namespace: loopback up: %v\n", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString(0) // until EOF
	return 0
}

// loopbackUp sets IFF_UP on lo, as `ip link set lo up` does: a new
// network namespace's loopback starts down, and a server in the test's
// namespace listening on 127.0.0.1 needs it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	req, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, req); err != nil {
		return err
	}
	req.SetUint16(req.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, req)
}

// enterAndExec is the door: it joins the namespace at path and execs
// program with this process's argv and an environment without the kit's
// variables. init runs on the main thread, locked to it, and setns
// changes only the calling thread: execve from that thread carries the
// namespace into the program. A process that may not join (EPERM or
// EACCES: a test ran it as another user, or in a user namespace of its
// own) has no power over the machine's network either, and runs where
// it is.
func enterAndExec(path, program string) int {
	runtime.LockOSThread()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
	}
	if err != nil && err != unix.EPERM && err != unix.EACCES {
		fmt.Fprintf(os.Stderr, "testkit: join the test's network namespace %s: %v\n", path, err)
		return 126
	}
	env := slices.DeleteFunc(os.Environ(), func(v string) bool {
		return strings.HasPrefix(v, enterEnv+"=") || strings.HasPrefix(v, execEnv+"=")
	})
	err = unix.Exec(program, os.Args, env)
	fmt.Fprintf(os.Stderr, "testkit: exec %s: %v\n", program, err)
	return 127
}

var doorBinary once

// door is a copy of the test binary that every user may run, in the
// kit's work directory: go test's own folder is private to root, and a
// test may start a command as another user (which then runs where it is,
// enterAndExec).
func door(t testing.TB) string {
	t.Helper()
	return doorBinary.get(t, func() (string, error) {
		self, err := os.Executable()
		if err != nil {
			return "", err
		}
		return copyExecutable(self, filepath.Join(work(t), "netns-door"))
	})
}

// netns is a test's network namespace: its holder process.
type netns struct {
	holder *exec.Cmd
	stdin  interface{ Close() error }
	path   string // /proc/PID/ns/net
	inode  uint64
}

// newNetns starts the holder of a new network namespace, and stops it
// when the test ends (t.Cleanup: after the cleanups of the commands that
// the test starts later, which run first).
func newNetns(t testing.TB) *netns {
	t.Helper()
	holder := exec.Command(door(t))
	holder.Env = append(os.Environ(), holdEnv+"=1")
	holder.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	holder.Stderr = os.Stderr
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatalf("the test's network namespace: start its holder: %v", err)
	}
	n := &netns{holder: holder, stdin: stdin, path: fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)}
	t.Cleanup(n.close)
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the test's network namespace: its holder did not get ready")
	}
	var st unix.Stat_t
	if err := unix.Stat(n.path, &st); err != nil {
		t.Fatal(err)
	}
	n.inode = st.Ino
	return n
}

// close ends the holder: its stdin closes, it exits.
func (n *netns) close() {
	_ = n.stdin.Close()
	_ = n.holder.Wait()
}

// enter makes cmd run in the namespace: the test binary, as the door,
// is started in its place. A command that could not be found (cmd.Err)
// is left to fail as it would.
func (n *netns) enter(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if cmd.Err != nil {
		return
	}
	self := door(t)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, enterEnv+"="+n.path, execEnv+"="+cmd.Path)
	cmd.Path = self
}

// InTestNetns makes cmd, prepared by the caller, run in the test's
// network namespace. HostCommand does it for every command it prepares.
// As a normal user nothing changes (no namespace is made).
func InTestNetns(t testing.TB, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	if os.Geteuid() == 0 {
		sandboxOf(t).netns.enter(t, cmd)
	}
	return cmd
}

// TestNetns is the path of the test's network namespace
// (/proc/PID/ns/net of its holder) and its inode.
func TestNetns(t testing.TB) (string, uint64) {
	t.Helper()
	n := sandboxOf(t).netns
	return n.path, n.inode
}
