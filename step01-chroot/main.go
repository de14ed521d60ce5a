// step01 runs a command with another folder as its root.
//
//	step01 run [--] ROOTFS CMD [ARGS...]
//
// This is chroot(2), the oldest trick in the container book: the command
// sees ROOTFS as "/", so it finds the image's programs and files instead of
// the host's. It is NOT isolation: the command still shares the host's
// processes, hostname, network and mounts, and as root it can climb back
// out to the host's real root. The README shows both.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// program is the name this runtime goes by in its messages, its usage
// and its state folder: the one line a step changes when it is copied.
const program = "step01"

const usage = "usage: " + program + " run [--] ROOTFS CMD [ARGS...]"

// containerPath is the PATH a command gets inside the container, the same
// default as Docker's. The host's PATH names the host's folders, which
// mean nothing in the image.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// main turns every failure before CMD runs into one line on stderr and
// exit status 2. Any other status is CMD's own.
func main() {
	status, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, program+": %v\n", err)
		os.Exit(2)
	}
	os.Exit(status)
}

// dispatch picks the subcommand.
func dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 0, errors.New(usage)
	}
	switch args[0] {
	case "run":
		return run(args[1:])
	case "help", "-h", "--help":
		fmt.Println(usage)
		return 0, nil
	default:
		return 0, fmt.Errorf("unknown command %q (%s)", args[0], usage)
	}
}

// run checks its arguments, then starts CMD inside ROOTFS and waits for it.
func run(args []string) (int, error) {
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	flags.SetInterspersed(false) // everything after ROOTFS belongs to CMD
	flags.SetOutput(io.Discard)  // errors are reported below, in one line
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Println(usage)
			return 0, nil
		}
		return 0, fmt.Errorf("%v (%s)", err, usage)
	}
	if flags.NArg() < 2 {
		return 0, fmt.Errorf("need a ROOTFS and a CMD (%s)", usage)
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("chroot needs root: run this with sudo")
	}
	rootfs, err := checkRootfs(flags.Arg(0))
	if err != nil {
		return 0, err
	}
	argv := flags.Args()[1:]
	path, err := findCommand(rootfs, argv[0])
	if err != nil {
		return 0, err
	}
	return runChrooted(rootfs, path, argv)
}

// checkRootfs makes ROOTFS absolute and checks that it is a folder.
func checkRootfs(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("rootfs is an empty string: name a folder")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("rootfs %s: no such folder", dir)
	}
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("rootfs %s is not a folder", dir)
	}
	return abs, nil
}

// findCommand looks CMD up as the command itself will after the chroot:
// inside ROOTFS, in the container's PATH when the name has no slash. It
// returns the path as seen from inside.
func findCommand(rootfs, name string) (string, error) {
	root, err := os.Open(rootfs)
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	candidates := []string{name}
	if !strings.Contains(name, "/") {
		candidates = nil
		for _, dir := range filepath.SplitList(containerPath) {
			candidates = append(candidates, dir+"/"+name)
		}
	}
	for _, path := range candidates {
		found, err := isExecutableIn(int(root.Fd()), path)
		if err != nil {
			return "", err
		}
		if found {
			return path, nil
		}
	}
	return "", fmt.Errorf("command %q not found in rootfs %s", name, rootfs)
}

// isExecutableIn reports whether path names an executable file when
// rootfs (the open folder rootFd) is "/". openat2 with RESOLVE_IN_ROOT
// resolves every symlink and ".." as a chrooted process would: an image's
// /bin/sh -> /bin/busybox points into the image, not at the host's
// /bin/busybox. A path that does not resolve is simply not there; any
// other failure is reported, so that it is not mistaken for a missing
// command.
func isExecutableIn(rootFd int, path string) (bool, error) {
	fd, err := unix.Openat2(rootFd, path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC, // only to learn what the path is, not to read it
		Resolve: unix.RESOLVE_IN_ROOT,
	})
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		return false, nil
	case errors.Is(err, unix.ENOSYS):
		return false, errors.New("openat2 is missing: " + program + " needs Linux 5.6 or newer")
	case err != nil:
		return false, fmt.Errorf("look up %s in the rootfs: %w", path, err)
	}
	defer unix.Close(fd)
	// fstat says what the path resolved to: a regular file with an
	// execute bit is something execve can run.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, fmt.Errorf("stat %s in the rootfs: %w", path, err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0, nil
}

// runChrooted starts the command with rootfs as its root and waits for it.
// Go's os/exec does the chroot for us: between fork and exec, the child
// calls chroot(rootfs) and then chdir("/") (Dir), so the command starts
// inside the new root. stdin, stdout and stderr are passed straight through.
//
// The command is someone else's, and must not reach its caller's session:
// setsid(2) (Setsid) gives it a session of its own, with no controlling
// terminal, so that it cannot type into the caller's shell through its
// terminal (the TIOCSTI ioctl), as runc's init calls setsid. And it gets a
// session keyring of its own (joinNewSessionKeyring).
func runChrooted(rootfs, path string, argv []string) (int, error) {
	cmd := &exec.Cmd{
		Path:   path, // looked up inside the rootfs, so not exec.Command's host lookup
		Args:   argv,
		Env:    containerEnv(),
		Dir:    "/",
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Chroot: rootfs,
			Setsid: true,
		},
	}
	if err := joinNewSessionKeyring(); err != nil {
		return 0, err
	}
	signals := catchSignals()
	defer stopCatching(signals)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s in %s: %w", argv[0], rootfs, err)
	}
	go relaySignals(signals, cmd.Process)
	_ = cmd.Wait() // a non-zero exit is an error to os/exec; the status says all
	return exitStatus(cmd.ProcessState), nil
}

// joinNewSessionKeyring gives the command a session keyring of its own,
// as runc gives each container. The kernel keeps secrets in keyrings
// (Kerberos tickets, disk encryption keys), and every process started
// from a login shares its session keyring: the command would read its
// caller's keys. KEYCTL_JOIN_SESSION_KEYRING with no name makes a new,
// empty keyring that no other process can join (x/sys/unix's wrapper
// always passes a name, so keyctl(2) is called by its number). It changes
// the keyring of the calling thread only, which the command inherits: the
// main goroutine stays on the main thread (see init), which starts the
// command. A kernel without keyrings (ENOSYS) has none to share.
func joinNewSessionKeyring() error {
	_, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	if errno != 0 && errno != unix.ENOSYS {
		return fmt.Errorf("join a new session keyring: %w", errno)
	}
	return nil
}

// init keeps the main goroutine on the main thread, for joinNewSessionKeyring.
// Go runs init functions on the main thread, and a goroutine locked there
// stays there; the runtime then starts new threads from a thread of its
// own, never from this one.
func init() { runtime.LockOSThread() }

// containerEnv is the command's whole environment: the host's variables
// describe the host, so only the terminal type is carried over.
func containerEnv() []string {
	env := []string{"PATH=" + containerPath, "HOME=/root"}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	return env
}

// catchSignals starts catching the signals that would otherwise end
// the runtime and leave the command running without its parent. It runs before
// the command starts: a signal that arrives while the command is starting
// waits in the channel. SIGINT and SIGQUIT come from the terminal's Ctrl-C
// and Ctrl-\, which the terminal sends to its foreground process group:
// the runtime's, and not the command's, which has a session of its own.
// The others come from `kill`, sent to the runtime alone. relaySignals passes
// them all on.
func catchSignals() chan os.Signal {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
	return signals
}

// relaySignals passes each caught signal on to the command, until
// stopCatching closes the channel. Ctrl-C and Ctrl-\ go to its whole
// process group, as the terminal would send them: a shell and the program
// it runs in the foreground. kill(2) sends to a group when given minus its
// number, which is the command's pid: setsid made it the group's leader.
func relaySignals(signals chan os.Signal, p *os.Process) {
	for s := range signals {
		if s == unix.SIGINT || s == unix.SIGQUIT {
			_ = unix.Kill(-p.Pid, s.(syscall.Signal))
			continue
		}
		_ = p.Signal(s)
	}
}

// stopCatching gives the signals back their default actions.
func stopCatching(signals chan os.Signal) {
	signal.Stop(signals)
	close(signals)
}

// exitStatus is the command's exit code, or 128+N when signal N killed it,
// as a shell reports it.
func exitStatus(state *os.ProcessState) int {
	ws := state.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
