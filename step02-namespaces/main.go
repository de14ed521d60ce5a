// step02 runs a command with another directory as its root directory,
// inside new namespaces.
//
//	step02 run [--ns LIST] [--hostname NAME] [--uid-map MAP] [--gid-map MAP]
//	           [--boottime-offset S] [--monotonic-offset S] [--] ROOTFS CMD [ARGS...]
//
// step01's chroot changed which files the command sees. Namespaces change
// what else it sees: each type gives the command its own copy of one thing
// the kernel otherwise shares, such as the hostname (uts), the process
// list (pid), the mounts (mnt), System V IPC (ipc), the network (net),
// user ids (user), the cgroup tree (cgroup) and two clocks (time).
//
// Some set-up must happen inside the namespaces, after they exist and
// before CMD runs. So step02 starts itself again, as a hidden "init"
// command, in the new namespaces; init does that set-up and then replaces
// itself with CMD. The root is still a chroot, and root can still climb
// out of it: step04 closes that hole.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

const usage = "usage: step02 run [--ns LIST] [--hostname NAME] [--uid-map MAP] [--gid-map MAP] [--boottime-offset S] [--monotonic-offset S] [--] ROOTFS CMD [ARGS...]"

// containerPath is the PATH a command gets inside the container, the same
// default as Docker's. The host's PATH names the host's directories, which
// mean nothing in the image.
const containerPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// main turns every failure before CMD runs into one line on stderr and
// exit status 2. Any other status is CMD's own.
func main() {
	status, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "step02: %v\n", err)
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
	case "init": // hidden: step02 runs itself this way inside the namespaces
		return 0, containerInit(args[1:])
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
	flags.String("ns", strings.Join(allNamespaces, ","), "the namespaces to create, comma-separated, or none")
	flags.String("hostname", defaultHostname, "the hostname inside (uts)")
	flags.String("uid-map", "", "user ids: CONTAINER:HOST:SIZE (user; default 0:100000:65536, or SUDO_USER's /etc/subuid range)")
	flags.String("gid-map", "", "group ids: CONTAINER:HOST:SIZE (user; default as for --uid-map, from /etc/subgid)")
	flags.Int64("boottime-offset", 0, "seconds added to the boottime clock and /proc/uptime (time)")
	flags.Int64("monotonic-offset", 0, "seconds added to the monotonic clock (time)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Println(usage)
			fmt.Print(flags.FlagUsages())
			return 0, nil
		}
		return 0, fmt.Errorf("%v (%s)", err, usage)
	}
	if flags.NArg() < 2 {
		return 0, fmt.Errorf("need a ROOTFS and a CMD (%s)", usage)
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("namespaces and chroot need root: run this with sudo")
	}
	c, err := configure(flags)
	if err != nil {
		return 0, err
	}
	return runInNamespaces(c)
}

// allNamespaces are the namespace types step02 knows, by the names
// /proc/self/ns gives them.
var allNamespaces = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// cloneFlags are the flags that ask clone(2) for a new namespace of each
// type. time is missing: see containerInit.
var cloneFlags = map[string]uintptr{
	"uts": unix.CLONE_NEWUTS, "pid": unix.CLONE_NEWPID, "mnt": unix.CLONE_NEWNS, "ipc": unix.CLONE_NEWIPC,
	"net": unix.CLONE_NEWNET, "user": unix.CLONE_NEWUSER, "cgroup": unix.CLONE_NEWCGROUP,
}

// The defaults for the hostname and the user namespace: container root is
// host uid 100000, an id no host user has, and the 65536 ids after it
// (every id a 16-bit system knows) follow.
const (
	defaultHostname = "boxcraft"
	defaultHostID   = 100000
	defaultIDCount  = 65536
	maxHostname     = 64 // HOST_NAME_MAX: sethostname refuses longer names
)

// container is what run has checked and will start.
type container struct {
	rootfs, path string   // path is CMD as found inside the rootfs
	argv         []string // CMD and its arguments
	namespaces   map[string]bool
	hostname     string
	uidMap       syscall.SysProcIDMap
	gidMap       syscall.SysProcIDMap
	offsets      map[string]int64 // seconds, by clock name as timens_offsets names it
}

// configure checks every flag and argument, so that nothing starts when
// any of them is wrong.
func configure(flags *pflag.FlagSet) (*container, error) {
	c := &container{argv: flags.Args()[1:], offsets: map[string]int64{}}
	var err error
	list, _ := flags.GetString("ns")
	if c.namespaces, err = parseNamespaces(list); err != nil {
		return nil, err
	}
	// A flag for a namespace that will not exist would silently do
	// nothing: refuse it instead.
	for flag, ns := range map[string]string{
		"hostname": "uts", "uid-map": "user", "gid-map": "user",
		"boottime-offset": "time", "monotonic-offset": "time",
	} {
		if flags.Changed(flag) && !c.namespaces[ns] {
			return nil, fmt.Errorf("--%s needs the %s namespace, which --ns %s leaves out", flag, ns, list)
		}
	}
	hostname, _ := flags.GetString("hostname")
	if c.hostname, err = checkHostname(hostname, c.namespaces["uts"]); err != nil {
		return nil, err
	}
	if c.uidMap, err = idMap(flags, "uid-map", "/etc/subuid"); err != nil {
		return nil, err
	}
	if c.gidMap, err = idMap(flags, "gid-map", "/etc/subgid"); err != nil {
		return nil, err
	}
	for clock, id := range map[string]int32{"boottime": unix.CLOCK_BOOTTIME, "monotonic": unix.CLOCK_MONOTONIC} {
		seconds, _ := flags.GetInt64(clock + "-offset")
		if err := checkOffset(clock, id, seconds); err != nil {
			return nil, err
		}
		c.offsets[clock] = seconds
	}
	if c.rootfs, err = checkRootfs(flags.Arg(0)); err != nil {
		return nil, err
	}
	if err := c.checkRootfsForNamespaces(); err != nil {
		return nil, err
	}
	c.path, err = findCommand(c.rootfs, c.argv[0])
	return c, err
}

// parseNamespaces turns "uts,pid" into a set; "none" is the empty set.
func parseNamespaces(list string) (map[string]bool, error) {
	set := map[string]bool{}
	if list == "none" {
		return set, nil
	}
	for _, name := range strings.Split(list, ",") {
		if !slices.Contains(allNamespaces, name) {
			return nil, fmt.Errorf("--ns: unknown namespace %q (known: %s, or none)", name, strings.Join(allNamespaces, ","))
		}
		set[name] = true
	}
	return set, nil
}

// checkHostname returns the hostname to set, or "" without a uts
// namespace.
func checkHostname(name string, uts bool) (string, error) {
	switch {
	case !uts:
		return "", nil
	case name == "":
		return "", errors.New("--hostname is empty: give a name")
	case len(name) > maxHostname:
		return "", fmt.Errorf("--hostname is %d bytes long: the kernel takes at most %d", len(name), maxHostname)
	}
	return name, nil
}

// idMap returns the --uid-map or --gid-map range: the one given, else
// SUDO_USER's range in /etc/subuid or /etc/subgid, else the default. Only
// a range that gives the container a root (id 0) will do: init must run
// as root inside to set the container up.
func idMap(flags *pflag.FlagSet, flag, subIDFile string) (syscall.SysProcIDMap, error) {
	if !flags.Changed(flag) {
		return sudoUserRange(subIDFile), nil
	}
	text, _ := flags.GetString(flag)
	var m syscall.SysProcIDMap
	fields := strings.Split(text, ":")
	numbers := make([]int, len(fields))
	for i, field := range fields {
		n, err := strconv.ParseUint(field, 10, 32)
		if err != nil || len(fields) != 3 {
			return m, fmt.Errorf("--%s %q: want CONTAINER:HOST:SIZE, three numbers, e.g. 0:100000:65536", flag, text)
		}
		numbers[i] = int(n)
	}
	m = syscall.SysProcIDMap{ContainerID: numbers[0], HostID: numbers[1], Size: numbers[2]}
	if m.Size == 0 || m.ContainerID != 0 {
		return m, fmt.Errorf("--%s %q: the range must start at container id 0 and hold at least one id", flag, text)
	}
	return m, nil
}

// sudoUserRange maps container id 0 onward to the first range that
// subIDFile gives the user who ran sudo, so that the container's files are
// theirs to manage; without one, to the default range.
func sudoUserRange(subIDFile string) syscall.SysProcIDMap {
	m := syscall.SysProcIDMap{ContainerID: 0, HostID: defaultHostID, Size: defaultIDCount}
	user := os.Getenv("SUDO_USER")
	f, err := os.Open(subIDFile)
	if user == "" || err != nil {
		return m
	}
	defer f.Close()
	if start, count, ok := findSubIDRange(f, user, os.Getenv("SUDO_UID")); ok {
		m.HostID, m.Size = start, count
	}
	return m
}

// findSubIDRange reads /etc/subuid or /etc/subgid (lines of NAME:START:COUNT,
// where NAME may also be a numeric id) and returns the first range of the
// user named name or numbered id.
func findSubIDRange(r io.Reader, name, id string) (start, count int, ok bool) {
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		fields := strings.Split(strings.TrimSpace(lines.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != id) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 == nil && err2 == nil && count > 0 {
			return start, count, true
		}
	}
	return 0, 0, false
}

// checkOffset refuses a clock offset the kernel would refuse: one that
// puts the container's clock below zero, or past the largest time it
// keeps (half of KTIME_SEC_MAX).
func checkOffset(clock string, id int32, seconds int64) error {
	const maxSeconds = 9223372036 / 2
	var now unix.Timespec
	if err := unix.ClockGettime(id, &now); err != nil {
		return fmt.Errorf("read the %s clock: %w", clock, err)
	}
	switch {
	case now.Sec+seconds < 0:
		return fmt.Errorf("--%s-offset %d would set the container's %s clock below zero: it reads %d s on the host", clock, seconds, clock, now.Sec)
	case seconds > maxSeconds-now.Sec:
		return fmt.Errorf("--%s-offset %d is too large: the kernel keeps at most %d s", clock, seconds, maxSeconds)
	}
	return nil
}

// checkRootfsForNamespaces checks what init will need from the rootfs: a
// /proc folder to mount on, and with a user namespace a root folder that
// the container's root, an ordinary user on the host, may enter.
func (c *container) checkRootfsForNamespaces() error {
	if c.namespaces["mnt"] {
		if info, err := os.Stat(filepath.Join(c.rootfs, "proc")); err != nil || !info.IsDir() {
			return fmt.Errorf("rootfs %s has no proc folder to mount /proc on", c.rootfs)
		}
	}
	if c.namespaces["user"] {
		info, err := os.Stat(c.rootfs)
		if err != nil {
			return err
		}
		if info.Mode().Perm()&0o005 != 0o005 {
			return fmt.Errorf("rootfs %s is mode %v: the container's root is host uid %d, so others need r and x (chmod o+rx)", c.rootfs, info.Mode().Perm(), c.uidMap.HostID)
		}
	}
	return nil
}

// checkRootfs makes ROOTFS absolute and checks that it is a directory.
func checkRootfs(dir string) (string, error) {
	if dir == "" {
		return "", errors.New("rootfs is an empty string: name a directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("rootfs %s: no such directory", dir)
	}
	if err != nil {
		return "", fmt.Errorf("rootfs %s: %w", dir, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("rootfs %s is not a directory", dir)
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
// rootfs (the open directory rootFd) is "/". openat2 with RESOLVE_IN_ROOT
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
		return false, errors.New("openat2 is missing: step01 needs Linux 5.6 or newer")
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

// runInNamespaces starts step02 itself again as "init", in new
// namespaces, and waits for it: init sets the namespaces up from inside
// and then becomes CMD. Go's os/exec does the part that happens from
// outside, between fork and exec:
//
//   - Cloneflags: clone(2) creates a new namespace of each type asked for,
//     and the child starts in them.
//   - UidMappings and GidMappings: with a user namespace, the parent (this
//     process, as host root) writes the child's /proc/PID/uid_map and
//     gid_map before the child goes on. Credential then makes the child
//     uid 0 and gid 0 inside, which the maps turn into the host's
//     unprivileged ids.
//   - Pdeathsig: when step02 dies, even by SIGKILL, the kernel kills init
//     (later CMD), and with the PID namespace's first process every other
//     process in it.
//
// init starts in the rootfs: it inherits step02's working folder, which
// step02 sets to the rootfs first. With a user namespace, init is an
// ordinary user on the host and may not be allowed to walk the path to the
// rootfs (a private home folder, a test's temporary folder); an inherited
// working folder needs no walk, and clone(2) moves it into the new mount
// namespace's copy of the tree. fd 3 is a socket on which the two sides
// agree when CMD may start.
func runInNamespaces(c *container) (int, error) {
	if err := os.Chdir(c.rootfs); err != nil {
		return 0, fmt.Errorf("rootfs %s: %w", c.rootfs, err)
	}
	parentEnd, initEnd, err := socketPair()
	if err != nil {
		return 0, err
	}
	defer parentEnd.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe", // this very program, whatever its path
		Args:       append([]string{"step02", "init", c.namespaceList(), c.hostname, c.path}, c.argv...),
		Env:        containerEnv(),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{initEnd}, // fd 3 in init
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: c.cloneFlags(),
			Pdeathsig:  unix.SIGKILL,
		},
	}
	if c.namespaces["user"] {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{c.uidMap}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{c.gidMap}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true // container root may set its groups, as a root does
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	signals := catchSignals()
	defer stopCatching(signals)
	err = cmd.Start()
	initEnd.Close() // init has its own copy now
	if err != nil {
		return 0, fmt.Errorf("start %s in new namespaces: %w", c.argv[0], err)
	}
	go relaySignals(signals, cmd.Process)
	if err := c.releaseInit(parentEnd, cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill() // CMD never started: nothing of it is left
		_ = cmd.Wait()
		return 0, err
	}
	_ = cmd.Wait() // a non-zero exit is an error to os/exec; the status says all
	return exitStatus(cmd.ProcessState), nil
}

// cloneFlags are the clone(2) flags for the namespaces asked for.
func (c *container) cloneFlags() uintptr {
	var flags uintptr
	for name := range c.namespaces {
		flags |= cloneFlags[name]
	}
	return flags
}

// namespaceList is the namespaces as --ns takes them.
func (c *container) namespaceList() string {
	var names []string
	for _, name := range allNamespaces {
		if c.namespaces[name] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// socketPair is a connected pair of sockets: a way for step02 and init to
// talk in both directions.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "step02"), os.NewFile(uintptr(fds[1]), "init"), nil
}

// releaseInit waits until init has set up the namespaces, writes the clock
// offsets of its time namespace, and lets it start CMD. An init that
// failed has said why on stderr and exits: there is nothing to release.
func (c *container) releaseInit(toInit *os.File, pid int) error {
	if _, err := toInit.Read(make([]byte, 1)); err != nil {
		return nil // init ended early; its exit status tells
	}
	if c.namespaces["time"] {
		// The offsets can be written only while no process is in the new
		// time namespace yet: init created it for its children (and for
		// the program it execs), not for itself.
		offsets := fmt.Sprintf("monotonic %d 0\nboottime %d 0\n", c.offsets["monotonic"], c.offsets["boottime"])
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/timens_offsets", pid), []byte(offsets), 0); err != nil {
			return fmt.Errorf("set the clock offsets: %w", err)
		}
	}
	_, err := toInit.Write([]byte{1})
	if err != nil {
		return fmt.Errorf("release init: %w", err)
	}
	return nil
}

// containerInit runs inside the new namespaces as "step02 init NSLIST
// HOSTNAME PATH ARGV...". It does the set-up that only a process inside can do,
// then replaces itself with CMD, which so keeps init's pid: 1 in a new PID
// namespace.
func containerInit(args []string) error {
	// unshare(CLONE_NEWTIME) below changes the calling thread only, and
	// the exec at the end must be made by that same thread.
	runtime.LockOSThread()
	if len(args) < 4 {
		return errors.New("init: run by step02 run, not by hand")
	}
	namespaces, err := parseNamespaces(args[0])
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	hostname, path, argv := args[1], args[2], args[3:]
	steps := []struct {
		namespace string
		setUp     func() error
	}{
		{"uts", func() error { return setHostname(hostname) }},
		{"mnt", func() error { return mountPrivateProc(namespaces["pid"]) }},
		{"net", bringUpLoopback},
		{"time", newTimeNamespace},
	}
	for _, step := range steps {
		if namespaces[step.namespace] {
			if err := step.setUp(); err != nil {
				return fmt.Errorf("init: %w", err)
			}
		}
	}
	pidCounter := -1
	if namespaces["pid"] {
		// Open it now: after the chroot, the host's /proc is out of reach.
		if pidCounter, err = unix.Open("/proc/sys/kernel/ns_last_pid", unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	// chroot, as in step01: the root switch is the same, and so is the
	// way out of it (step04 replaces it with pivot_root).
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("init: chroot into the rootfs: %w", err)
	}
	if err := waitForRelease(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if pidCounter >= 0 {
		if err := restartPids(pidCounter); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	// execve(2) replaces init with CMD in the same process: same pid, same
	// namespaces (and now the new time namespace too).
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("init: exec %s: %w", path, err)
	}
	return nil
}

// parentFd is init's end of the socket to step02 (ExtraFiles[0]).
const parentFd = 3

// setHostname gives the UTS namespace its own name; the host's is
// untouched.
func setHostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}

// mountPrivateProc stops mounts from travelling between the host and the
// container, then mounts /proc in the rootfs (the working folder, so the
// paths are relative).
//
// The new mount namespace starts as a copy of the host's, and mounts on
// the host are usually "shared": a mount made under a shared mount
// appears in every copy. MS_REC|MS_PRIVATE on / makes every mount in the
// copy private, so /proc below lands in the container alone.
//
// With a PID namespace, a new proc filesystem lists the processes of that
// namespace. Without one, the container shares the host's processes, so it
// gets the host's /proc (a bind mount): a process in a user namespace may
// not mount a new proc for a PID namespace it does not own.
func mountPrivateProc(newPidNamespace bool) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mounts private: %w", err)
	}
	var err error
	if newPidNamespace {
		err = unix.Mount("proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	} else {
		err = unix.Mount("/proc", "proc", "", unix.MS_BIND|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("mount proc on /proc: %w", err)
	}
	return nil
}

// bringUpLoopback sets the IFF_UP flag on lo. A new network namespace has
// only lo, and it is down: without this, not even 127.0.0.1 answers. The
// flags are read and written with ioctl(2) on any socket of the namespace.
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

// newTimeNamespace creates the time namespace. clone(2) cannot: its flag
// for it, CLONE_NEWTIME, collides with the old clone's exit-signal bits.
// unshare(2) can, but the caller stays where it is: the new namespace is
// for its children and for the program it execs next. That is what lets
// step02 set the offsets now, before any process is in the namespace and
// they are frozen.
func newTimeNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare the time namespace: %w", err)
	}
	return nil
}

// restartPids makes the PID namespace hand out pid 2 next, as if init had
// been a single process. It was not: the Go runtime runs several threads,
// and each took a pid (2, 3, …) in the new namespace. execve ends those
// threads and frees their pids; writing 1 to ns_last_pid, the number the
// namespace gave last, makes CMD's first child pid 2 again. The kernel
// lets root of the user namespace that owns the PID namespace do it.
func restartPids(counter int) error {
	defer unix.Close(counter)
	if _, err := unix.Write(counter, []byte("1")); err != nil {
		return fmt.Errorf("write ns_last_pid: %w", err)
	}
	return nil
}

// waitForRelease tells step02 that the namespaces are ready, and waits
// until it has written the clock offsets.
func waitForRelease() error {
	parent := os.NewFile(parentFd, "step02")
	defer parent.Close()
	if _, err := parent.Write([]byte{1}); err != nil {
		return fmt.Errorf("tell step02 the namespaces are ready: %w", err)
	}
	if _, err := parent.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("wait for step02: %w", err)
	}
	return nil
}

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
// step01 and leave the command running without its parent. It runs before
// the command starts: a signal that arrives while the command is starting
// waits in the channel. SIGINT and SIGQUIT come from the terminal's Ctrl-C
// and Ctrl-\, which the terminal sends to the command as well (both are in
// its foreground process group): step01 catches them only to stay alive
// and report the command's status. The others come from `kill`, sent to
// step01 alone, so relaySignals passes them on.
func catchSignals() chan os.Signal {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2)
	return signals
}

// relaySignals passes each caught signal that the command did not get
// from the terminal on to it, until stopCatching closes the channel.
func relaySignals(signals chan os.Signal, p *os.Process) {
	for s := range signals {
		if s == unix.SIGINT || s == unix.SIGQUIT {
			continue // the terminal has sent it to the command already
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
