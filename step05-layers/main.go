// step05 runs a command in a container: a root filesystem of its own,
// stacked from an image's layers, inside new namespaces, within limits on
// what it may use.
//
//	step05 run (--image IMAGE | --rootfs DIR) [--keep]
//	           [--ns LIST] [--hostname NAME] [--uid-map MAP] [--gid-map MAP]
//	           [--boottime-offset S] [--monotonic-offset S]
//	           [LIMIT FLAGS (addLimitFlags)] [--] CMD [ARGS...]
//	step05 commit CONTAINER IMAGE_OUT
//
// step01's chroot changed which files the command sees. Namespaces change
// what else it sees: each type gives the command its own copy of one thing
// the kernel otherwise shares, such as the hostname (uts), the process
// list (pid), the mounts (mnt), System V IPC (ipc), the network (net),
// user ids (user), the cgroup tree (cgroup) and two clocks (time).
//
// Some set-up must happen inside the namespaces, after they exist and
// before CMD runs. So the runtime starts itself again, as a hidden "init"
// command, in the new namespaces; init does that set-up and then replaces
// itself with CMD. The root is an image unpacked safely (unpack.go), and
// pivot_root(2), unlike chroot, leaves no way back to the host's (rootfs.go).
//
// Namespaces hide; they do not ration. Inside, CMD can still use every
// CPU, all the memory and the disks' whole bandwidth, and fork until the
// host has no pids left. The runtime adds cgroups (cgroup.go): before CMD
// runs, it is in a cgroup of its own, whose limits the kernel enforces.
//
// step04 unpacked the whole image anew for every container. An image is
// a stack of layers (formats.go): the runtime unpacks each once, into a
// store that every container shares (layers.go), stacks them with
// overlayfs under a layer of the container's own (image.go), and commits
// that layer as a new image's top one (commit.go).
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

// program is the name this runtime goes by in its messages, its usage
// and its state folder (PROGRAM in comments): the one line a step changes
// when it is copied.
const program = "step05"

const usage = "usage: " + program + " run (--image IMAGE | --rootfs DIR) [--keep] [NAMESPACE FLAGS] [LIMIT FLAGS] [--] CMD [ARGS...] (" + program + " run --help lists the flags), " + program + " commit CONTAINER IMAGE_OUT"

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
	case "commit": // commit.go
		return 0, commit(args[1:])
	case "init": // hidden: the runtime runs itself this way inside the namespaces
		if err := containerInit(args[1:]); err != nil {
			return 0, fmt.Errorf("init: %w", err)
		}
		return 0, nil
	case "help", "-h", "--help":
		fmt.Println(usage)
		return 0, nil
	default:
		return 0, fmt.Errorf("unknown command %q (%s)", args[0], usage)
	}
}

// run checks its arguments, then starts CMD in a container and waits for it.
func run(args []string) (int, error) {
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	flags.SetInterspersed(false) // everything from CMD on belongs to CMD
	flags.SetOutput(io.Discard)  // errors are reported below, in one line
	flags.String("image", "", "an image: an OCI layout folder, or a rootfs tarball (plain or gzip), its layers stacked under one of the container's own")
	flags.String("rootfs", "", "a folder to use as the root as it is, instead of an image (changes inside stay in it)")
	flags.Bool("keep", false, "keep the container's upper layer (what it changed in --image's root) after it ends, for "+program+" commit, and print where it is")
	flags.String("ns", strings.Join(allNamespaces, ","), "the namespaces to create, comma-separated ("+program+" needs mnt)")
	flags.String("hostname", defaultHostname, "the hostname inside (uts)")
	flags.String("uid-map", "", "user ids: CONTAINER:HOST:SIZE (user; default 0:100000:65536, or SUDO_USER's /etc/subuid range)")
	flags.String("gid-map", "", "group ids: CONTAINER:HOST:SIZE (user; default as for --uid-map, from /etc/subgid)")
	flags.Int64("boottime-offset", 0, "seconds added to the boottime clock and /proc/uptime (time)")
	flags.Int64("monotonic-offset", 0, "seconds added to the monotonic clock (time)")
	addLimitFlags(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Println(usage)
			fmt.Print(flags.FlagUsages())
			return 0, nil
		}
		return 0, fmt.Errorf("%v (%s)", err, usage)
	}
	if flags.NArg() < 1 {
		return 0, fmt.Errorf("need a CMD (%s)", usage)
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("namespaces, cgroups and mounts need root: run this with sudo")
	}
	c, err := configure(flags)
	if err != nil {
		return 0, err
	}
	// Signals are caught, and relayed to CMD, until the rootfs and cgroup go.
	signals := catchSignals()
	defer stopCatching(signals)
	if c.image != "" {
		return runFromImage(c, signals) // image.go
	}
	return runInRootfs(c, signals)
}

// runInRootfs checks that CMD can start in the rootfs, then runs it.
func runInRootfs(c *container, signals chan os.Signal) (int, error) {
	if err := c.checkReachable(); err != nil {
		return 0, err
	}
	var err error
	if c.path, err = findCommand(c.rootfs, c.argv[0]); err != nil {
		return 0, err
	}
	return runInCgroup(c, signals)
}

// allNamespaces are the namespace types the runtime knows, by the names
// /proc/self/ns gives them.
var allNamespaces = []string{"uts", "pid", "mnt", "ipc", "net", "user", "cgroup", "time"}

// cloneFlags are the flags that ask clone(2) for a new namespace of each
// type. time is missing: see newTimeNamespace. So is cgroup: see
// enterCgroupNamespace.
var cloneFlags = map[string]uintptr{
	"uts": unix.CLONE_NEWUTS, "pid": unix.CLONE_NEWPID, "mnt": unix.CLONE_NEWNS, "ipc": unix.CLONE_NEWIPC,
	"net": unix.CLONE_NEWNET, "user": unix.CLONE_NEWUSER,
}

// The defaults for the hostname and the user namespace: container root is
// host uid 100000, above the ids given to users and system accounts, and
// the 65536 ids after it (every id a 16-bit system knows) follow. It is
// the range useradd gives the first user in /etc/subuid.
const (
	defaultHostname = "boxcraft"
	defaultHostID   = 100000
	defaultIDCount  = 65536
	maxHostname     = 64        // HOST_NAME_MAX: sethostname refuses longer names
	maxID           = 1<<32 - 1 // ids are 32-bit, and this one, 4294967295, means "no id"
)

// container is what run has checked and will start.
type container struct {
	image        string   // the image, or "" with --rootfs
	rootfs, path string   // path is CMD as found inside the rootfs
	keep         bool     // --keep
	argv         []string // CMD and its arguments
	namespaces   map[string]bool
	hostname     string
	uidMap       syscall.SysProcIDMap
	gidMap       syscall.SysProcIDMap
	offsets      map[string]int64 // seconds, by clock name as timens_offsets names it
	limits       resources
}

// configure checks every flag and argument, so that nothing starts when
// any of them is wrong.
func configure(flags *pflag.FlagSet) (*container, error) {
	c := &container{argv: flags.Args(), offsets: map[string]int64{}}
	var err error
	list, _ := flags.GetString("ns")
	if c.namespaces, err = parseNamespaces(list); err != nil {
		return nil, err
	}
	// A flag for a namespace that will not exist would silently do
	// nothing: refuse it instead.
	for _, need := range []struct{ flag, namespace string }{
		{"hostname", "uts"}, {"uid-map", "user"}, {"gid-map", "user"},
		{"boottime-offset", "time"}, {"monotonic-offset", "time"},
	} {
		if flags.Changed(need.flag) && !c.namespaces[need.namespace] {
			return nil, fmt.Errorf("--%s needs the %s namespace, which --ns %s leaves out", need.flag, need.namespace, list)
		}
	}
	if !c.namespaces["mnt"] {
		return nil, fmt.Errorf("--ns %s leaves out mnt, which "+program+" needs: the container's root and its /proc, /sys and /dev are mounts the host must not get", list)
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
	for _, clock := range []struct {
		name string
		id   int32
	}{{"boottime", unix.CLOCK_BOOTTIME}, {"monotonic", unix.CLOCK_MONOTONIC}} {
		seconds, _ := flags.GetInt64(clock.name + "-offset")
		if err := checkOffset(clock.name, clock.id, seconds); err != nil {
			return nil, err
		}
		c.offsets[clock.name] = seconds
	}
	if c.limits, err = parseResources(flags); err != nil {
		return nil, err
	}
	return c, c.chooseRoot(flags)
}

// chooseRoot reads --image, --rootfs and --keep. Exactly one of --image
// and --rootfs names the root.
func (c *container) chooseRoot(flags *pflag.FlagSet) (err error) {
	c.keep, _ = flags.GetBool("keep")
	image, _ := flags.GetString("image")
	rootfs, _ := flags.GetString("rootfs")
	switch {
	case flags.Changed("image") && flags.Changed("rootfs"):
		return errors.New("--image and --rootfs both name the root: give one of them")
	case flags.Changed("image"):
		c.image, err = checkImage(image)
	case c.keep:
		return errors.New("--keep keeps what a container of an --image changed, its upper layer: a --rootfs folder is never removed")
	case flags.Changed("rootfs"):
		c.rootfs, err = checkRootfs(rootfs)
	default:
		return fmt.Errorf("need --image IMAGE or --rootfs DIR to be the root (%s)", usage)
	}
	return err
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
	malformed := fmt.Errorf("--%s %q: want CONTAINER:HOST:SIZE, three numbers, e.g. 0:100000:65536", flag, text)
	fields := strings.Split(text, ":")
	if len(fields) != 3 {
		return syscall.SysProcIDMap{}, malformed
	}
	var numbers [3]uint64
	for i, field := range fields {
		n, err := strconv.ParseUint(field, 10, 32)
		if err != nil {
			return syscall.SysProcIDMap{}, malformed
		}
		numbers[i] = n
	}
	m := syscall.SysProcIDMap{ContainerID: int(numbers[0]), HostID: int(numbers[1]), Size: int(numbers[2])}
	switch {
	case m.Size == 0 || m.ContainerID != 0:
		return m, fmt.Errorf("--%s %q: the range must start at container id 0 and hold at least one id", flag, text)
	case numbers[1]+numbers[2] > maxID:
		return m, fmt.Errorf("--%s %q: host ids end at %d", flag, text, maxID-1)
	}
	return m, nil
}

// sudoUserRange maps container id 0 onward to the first range that
// subIDFile gives the user who ran sudo: the ids set aside for that user's
// containers, as rootless Podman uses them. Without one, it is the default
// range.
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

// findCommand looks CMD up as the command itself will after the root switch:
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
		return false, errors.New("openat2 is missing: " + program + " needs Linux 5.11 or newer")
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

// mountPoints are the rootfs's folders that init mounts on.
var mountPoints = []string{"proc", "sys", "dev"}

// checkReachable checks what init will need: the mountPoints in the rootfs
// to mount on, and with a user namespace, where init is an ordinary user
// on the host (container root is host uid 100000), a rootfs folder and a
// the runtime binary that others may use. The folders above the rootfs do not
// matter: init never walks the path (see runInNamespaces).
func (c *container) checkReachable() error {
	for _, dir := range mountPoints {
		// Lstat: a symlink would take the mount elsewhere.
		if info, err := os.Lstat(filepath.Join(c.rootfs, dir)); err != nil || !info.IsDir() {
			return fmt.Errorf("rootfs %s has no %s folder to mount /%s on", c.rootfs, dir, dir)
		}
	}
	if !c.namespaces["user"] {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(c.rootfs, &st); err != nil || (st.Uid != uint32(c.uidMap.HostID) && st.Mode&0o005 != 0o005) {
		return fmt.Errorf("rootfs %s: the container's root is host uid %d, so others need r and x on it (chmod o+rx)", c.rootfs, c.uidMap.HostID)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if info, err := os.Stat(self); err != nil || info.Mode().Perm()&0o001 == 0 {
		return fmt.Errorf("%s: the container's root is host uid %d, so others need x on "+program+" itself to start it as init (chmod o+x)", self, c.uidMap.HostID)
	}
	return nil
}

// runInCgroup makes the container's cgroup, runs the container in it and
// removes the cgroup, first removing what earlier runs, killed before they
// could, left. When the OOM killer ended CMD, it says so: the status, 137
// (128+SIGKILL), does not tell why. Signals are caught meanwhile, so that
// a Ctrl-C or a kill cannot end the runtime and leave the cgroup behind.
func runInCgroup(c *container, signals chan os.Signal) (int, error) {
	cg, err := newCgroup(runName(os.Getpid()), c.limits)
	if err != nil {
		return 0, err
	}
	status, err := runInNamespaces(c, cg, signals)
	if err == nil && status == 128+int(unix.SIGKILL) && c.limits.memory != 0 && cg.oomKills() > 0 {
		fmt.Fprintf(os.Stderr, program+": killed: out of memory (limit %s)\n", formatBytes(c.limits.memory))
	}
	if removeErr := cg.remove(); removeErr != nil {
		fmt.Fprintf(os.Stderr, program+": %v\n", removeErr)
	}
	return status, err
}

// runInNamespaces starts the runtime itself again as "init", in new
// namespaces and in the container's cgroup, and waits for it: init sets
// the namespaces up from inside and then becomes CMD. Go's os/exec does
// the part that happens from outside, between fork and exec:
//
//   - Cloneflags: clone(2) creates a new namespace of each type asked for,
//     and the child starts in them.
//   - UidMappings and GidMappings: with a user namespace, the parent (this
//     process, as host root) writes the child's /proc/PID/uid_map and
//     gid_map before the child goes on. Credential then makes the child
//     uid 0 and gid 0 inside, which the maps turn into the host's
//     unprivileged ids.
//   - Pdeathsig: when the runtime dies, even by SIGKILL, the kernel kills init
//     (later CMD), and with the PID namespace's first process every other
//     process in it. (The kernel sends it when the thread that started the
//     child ends: here the main thread, which lasts as long as the runtime.)
//   - Setsid: setsid(2) gives init a session of its own, with no
//     controlling terminal, so that CMD cannot type into the caller's
//     shell through its terminal (the TIOCSTI ioctl), as runc's init
//     calls setsid. And init inherits a session keyring of its own, which
//     the runtime joins just before (joinNewSessionKeyring).
//
// The time namespace is not among the Cloneflags: the runtime makes it first,
// for its children (see newTimeNamespace).
//
// init must be in the cgroup before CMD runs. On v2, clone(2) puts it
// there at birth (CLONE_INTO_CGROUP: Go's UseCgroupFD); on v1 the runtime
// moves it in once it has started. So init waits on a pipe until the
// runtime releases it (waitForRelease).
//
// init starts in the rootfs: it inherits the runtime's working folder, which
// the runtime sets to the rootfs first. With a user namespace, init is an
// ordinary user on the host and may not be allowed to walk the path to the
// rootfs (a private home folder, a test's temporary folder); an inherited
// working folder needs no walk, and clone(2) moves it into the new mount
// namespace's copy of the tree.
func runInNamespaces(c *container, cg *cgroup, signals chan os.Signal) (int, error) {
	if err := os.Chdir(c.rootfs); err != nil {
		return 0, fmt.Errorf("rootfs %s: %w", c.rootfs, err)
	}
	if c.namespaces["time"] {
		if err := newTimeNamespace(c.offsets); err != nil {
			return 0, err
		}
	}
	cmd := &exec.Cmd{
		Path:   "/proc/self/exe", // this very program, whatever its path
		Args:   append([]string{program, "init", c.namespaceList(), c.hostname, c.path}, c.argv...),
		Env:    containerEnv(),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: c.cloneFlags(),
			Pdeathsig:  unix.SIGKILL,
			Setsid:     true,
		},
	}
	// The release pipe: init waits on its reading end, initsEnd, its fd 3
	// (the first of ExtraFiles), until a byte comes through releaseEnd.
	initsEnd, releaseEnd, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer initsEnd.Close()
	defer releaseEnd.Close()
	cmd.ExtraFiles = []*os.File{initsEnd}
	if cg.v2 {
		dir, err := cg.openV2()
		if err != nil {
			return 0, err
		}
		defer dir.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(dir.Fd())
	}
	if c.namespaces["user"] {
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{c.uidMap}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{c.gidMap}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true // container root may set its groups, as a root does
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if err := joinNewSessionKeyring(); err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, unix.EINVAL) && c.namespaces["time"] && !c.namespaces["user"] {
			return 0, errors.New("this kernel will not start a child in a new time namespace the way Go does without a user namespace (a vfork): add user to --ns, or leave out time")
		}
		return 0, fmt.Errorf("start %s in new namespaces: %w", c.argv[0], err)
	}
	initsEnd.Close() // init's now
	// init has its working folder; the runtime leaves the root, which would
	// keep the overlay on it busy, so that it can be unmounted at the end.
	if err := os.Chdir("/"); err != nil {
		return 0, err
	}
	if !cg.v2 {
		if err := cg.addV1(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
	}
	// One byte says: the cgroup holds you, go on.
	if _, err := releaseEnd.Write([]byte{1}); err != nil {
		_ = cmd.Wait() // init has ended: reap it, so that its cgroup can go
		return 0, fmt.Errorf("release init: %w", err)
	}
	go relaySignals(signals, cmd.Process)
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

// newTimeNamespace makes a time namespace with the offsets given, for the
// children the runtime starts next. unshare(CLONE_NEWTIME) leaves the caller in
// its own time namespace: the new one is for its children, and it stays
// empty until the first is born. Only while it is empty may its offsets be
// set, in /proc/self/timens_offsets. (clone(2) can make a time namespace
// too, but the child is in it at once, too early for the offsets.)
//
// Both calls concern one thread: unshare changes the namespaces of the
// calling thread, and /proc/self/timens_offsets are the main thread's. So
// the runtime runs on its main thread (see init below), and starts init from it.
func newTimeNamespace(offsets map[string]int64) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare the time namespace: %w", err)
	}
	text := fmt.Sprintf("monotonic %d 0\nboottime %d 0\n", offsets["monotonic"], offsets["boottime"])
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(text), 0); err != nil {
		return fmt.Errorf("set the clock offsets: %w", err)
	}
	return nil
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

// init keeps the main goroutine on the main thread, for joinNewSessionKeyring
// and newTimeNamespace.
// Go runs init functions on the main thread, and a goroutine locked there
// stays there; the runtime then starts new threads from a thread of its
// own, never from this one.
func init() { runtime.LockOSThread() }

// containerInit runs inside the new namespaces as "PROGRAM init NSLIST
// HOSTNAME PATH ARGV...". It does the set-up that only a process inside can
// do, then replaces itself with CMD, which so keeps init's pid: 1 in a new
// PID namespace.
func containerInit(args []string) error {
	if len(args) < 4 {
		return errors.New("run by " + program + " run, not by hand")
	}
	namespaces, err := parseNamespaces(args[0])
	if err != nil {
		return err
	}
	hostname, path, argv := args[1], args[2], args[3:]
	if err := waitForRelease(); err != nil {
		return err
	}
	if namespaces["cgroup"] {
		if err := enterCgroupNamespace(); err != nil {
			return err
		}
	}
	if namespaces["uts"] {
		if err := setHostname(hostname); err != nil {
			return err
		}
	}
	if namespaces["mnt"] {
		if err := mountPrivateProc(namespaces["pid"]); err != nil {
			return err
		}
	}
	if namespaces["net"] {
		if err := bringUpLoopback(); err != nil {
			return err
		}
	}
	// pivot_root, in place of step03's chroot (rootfs.go).
	if err := setUpRoot(namespaces); err != nil {
		return err
	}
	if err := closeInheritedFiles(); err != nil {
		return err
	}
	if namespaces["pid"] {
		if err := restartPids(); err != nil {
			return err
		}
	}
	if namespaces["mnt"] && !namespaces["user"] {
		if err := readOnlyProcSys(); err != nil {
			return err
		}
	}
	// execve(2) replaces init with CMD in the same process: same pid, same
	// namespaces.
	if err := unix.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("exec %s: %w", path, err)
	}
	return nil
}

// waitForRelease waits for run's byte on the pipe that is init's fd 3:
// init is in the container's cgroup. Should run end first, the read meets
// the end of the pipe, and init stops.
func waitForRelease() error {
	pipe := os.NewFile(3, "release")
	defer pipe.Close()
	if n, _ := pipe.Read(make([]byte, 1)); n != 1 {
		return errors.New(program + " run ended before the container's cgroup was ready")
	}
	return nil
}

// enterCgroupNamespace gives the container a cgroup namespace of its own.
// A new cgroup namespace is rooted at the cgroup its first process is in
// at that moment: made now, after the release, it is the container's own,
// which CMD sees as "/" in /proc/self/cgroup. Made by clone(2), on v1 it
// would be the runtime's. unshare(2) changes only the calling thread:
// init runs on its main thread, the one that execs CMD.
func enterCgroupNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("unshare the cgroup namespace: %w", err)
	}
	return nil
}

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
// appears in every copy. (With a user namespace the kernel turns the
// copy's shared mounts into slaves, which still receive the host's.)
// MS_REC|MS_PRIVATE on / makes every mount in the copy private, so /proc
// below lands in the container alone, and the host's later mounts stay out.
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

// closeInheritedFiles marks every file beyond stdin, stdout and stderr
// close-on-exec (close_range(2), Linux 5.11), so that CMD does not get them. Go opens its own files
// that way, but files the runtime was given by whatever started it are open in
// init too, and an open folder of the host is a way out of any root.
func closeInheritedFiles() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited files: %w", err)
	}
	return nil
}

// restartPids makes the PID namespace hand out pid 2 next, as if init had
// been a single process. It was not: the Go runtime runs several threads,
// and each took a pid (2, 3, …) in the new namespace. execve ends those
// threads and frees their pids; writing 1 to ns_last_pid, the number the
// namespace gave last, makes CMD's first child pid 2 again. (A thread the
// runtime started after this write would still take pid 2; it starts them
// early.) The kernel lets root of the user namespace that owns the PID
// namespace write it. Without a mount namespace there is no /proc of the
// container's own to write it in, and init does without.
func restartPids() error {
	err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte("1"), 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write ns_last_pid: %w", err)
	}
	return nil
}

// readOnlyProcSys makes /proc/sys read-only, as Docker does. Its files
// are the kernel's settings (sysctls), most of them the whole machine's,
// and without a user namespace root inside is root of the host, which may
// write them: kernel/core_pattern names a program that the kernel runs as
// root on the host when a process crashes. (In a user namespace, root
// inside owns none of them.) /proc/sys bound onto itself is a mount of its
// own, which a remount makes read-only, and the rest of /proc stays as it
// is. The bind is not recursive: what the host mounted below /proc/sys
// (binfmt_misc, whose handlers the kernel runs for any program) stays out.
// It comes last, after restartPids has written ns_last_pid. Root inside
// keeps CAP_SYS_ADMIN, with which it could remount it read-write: only
// dropping capabilities closes that (final/).
func readOnlyProcSys() error {
	if err := unix.Mount("/proc/sys", "/proc/sys", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind /proc/sys onto itself: %w", err)
	}
	// A remount sets every flag anew: proc's own (nosuid, nodev, noexec)
	// are asked for again.
	const flags = unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("", "/proc/sys", "", flags, ""); err != nil {
		return fmt.Errorf("make /proc/sys read-only: %w", err)
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
// the runtime and leave the command running without its parent. It runs before
// the command starts: a signal that arrives while the command is starting
// waits in the channel. SIGINT and SIGQUIT come from the terminal's Ctrl-C
// and Ctrl-\, which the terminal sends to its foreground process group:
// the runtime's, and not the command's, which has a session of its own.
// The others come from `kill`, sent to the runtime alone. relaySignals passes
// them all on.
//
// In a PID namespace the command is pid 1, and the kernel delivers to pid 1
// only the signals it has a handler for: a `sleep` ignores them all.
// SIGKILL from the host still ends it.
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
