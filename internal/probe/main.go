// The probe lists the descriptors it was started with (fds). Go's
// runtime, since 1.25, opens its cgroup's CPU limit files at start-up,
// where it sees them (a container's /sys/fs/cgroup), and keeps them open
// to follow the limit; told not to follow it, it closes them again.
//go:debug containermaxprocs=0

// Command probe runs as a container's command and reports, as JSON on
// stdout, what it can see from inside: its ids, namespaces, cgroup, mounts,
// processes, CPUs, limits and capabilities. Named experiments given as
// arguments run after the facts are gathered, because they may change the
// process (the escape experiment changes its root).
//
// It is built static (CGO_ENABLED=0) so that it runs in any rootfs.
//
//	probe                 # facts only
//	probe escape          # facts, then the chroot escape experiment
//	probe mknod           # facts, then try to make a device node
//	probe msgqueue=KEY    # facts, then create a System V message queue with KEY
//	probe alloc=MIB       # facts, then allocate and touch MIB MiB of memory
//	probe forks=N         # facts, then start up to N children (sleep) until fork fails
//	probe getpids=N       # facts, and the time of one getpid(2) over N of them
//	probe sysinfos=N      # facts, and the time of one sysinfo(2) over N of them
//	probe reads=PATH:N    # facts, and the time of one open, read and close of PATH over N
//	probe read=PATH:MIB   # facts, then read MIB MiB from PATH with O_DIRECT
//	probe write=PATH:MIB  # facts, then write MIB MiB to PATH with O_DIRECT
//	probe create=PATH     # facts, then create a file at PATH and write to it (repeatable)
//	probe terminal        # facts, then try to type a space into stdin's terminal and /dev/tty (TIOCSTI)
//	probe keyring[=KEY]   # facts, then list the session keyring, and try to read key number KEY
//	probe sysctl=PATH     # facts, then write /proc/sys/PATH with the value it has (repeatable)
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

func main() {
	f := gather()
	for _, arg := range os.Args[1:] {
		name, value, _ := strings.Cut(arg, "=")
		switch name {
		case "escape":
			f.Experiments.Escape = tryEscape()
		case "mknod":
			f.Experiments.Mknod = tryMknod()
		case "msgqueue":
			f.Experiments.MsgQueue = tryMsgQueue(value)
		case "alloc":
			f.Experiments.Alloc = tryAlloc(number(arg, value))
		case "getpids":
			f.Experiments.GetpidNs = getpidLoop(number(arg, value))
		case "sysinfos":
			f.Experiments.SysinfoNs = sysinfoLoop(number(arg, value))
		case "reads":
			path, count, _ := strings.Cut(value, ":")
			f.Experiments.ReadFileNs = readLoop(path, number(arg, count))
		case "forks":
			f.Experiments.Forks = forkLoop(number(arg, value))
		case "read", "write":
			path, mib, _ := strings.Cut(value, ":")
			timed := directIO(name, path, number(arg, mib))
			if name == "read" {
				f.Experiments.Read = timed
			} else {
				f.Experiments.Write = timed
			}
		case "create":
			if f.Experiments.Creates == nil {
				f.Experiments.Creates = map[string]*facts.Attempt{}
			}
			f.Experiments.Creates[value] = tryCreate(value)
		case "terminal":
			f.Experiments.Terminal = tryTerminal()
		case "keyring":
			f.Experiments.Keyring = readKeyring(value)
		case "sysctl":
			if f.Experiments.Sysctls == nil {
				f.Experiments.Sysctls = map[string]*facts.Attempt{}
			}
			f.Experiments.Sysctls[value] = rewriteSysctl(value)
		default:
			if attack, ok := attacks[name]; ok {
				if f.Experiments.Attacks == nil {
					f.Experiments.Attacks = map[string]*facts.Attempt{}
				}
				f.Experiments.Attacks[arg] = attack(value)
				continue
			}
			fmt.Fprintf(os.Stderr, "probe: unknown experiment %q (known: escape, mknod, msgqueue=KEY, alloc=MIB, forks=N, getpids=N, sysinfos=N, reads=PATH:N, read=PATH:MIB, write=PATH:MIB, create=PATH, terminal, keyring[=KEY], sysctl=PATH)\n", arg)
			os.Exit(2)
		}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(f); err != nil {
		fmt.Fprintf(os.Stderr, "probe: %v\n", err)
		os.Exit(1)
	}
}

// attacks are the breakout attempts of final/'s security suite: each
// tries one way out of a container (files attack_*.go add them), and
// reports what the kernel said.
var attacks = map[string]func(value string) *facts.Attempt{}

// number reads an experiment's number, or stops the probe.
func number(arg, text string) int {
	n, err := strconv.Atoi(text)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "probe: %s: want a number above zero\n", arg)
		os.Exit(2)
	}
	return n
}

// gather reads every fact; each one that fails is noted in f.Errors and
// the others are still reported.
func gather() *facts.Facts {
	f := &facts.Facts{
		Pid:  os.Getpid(),
		Ppid: os.Getppid(),
		UID:  os.Getuid(), EUID: os.Geteuid(),
		GID: os.Getgid(), EGID: os.Getegid(),
		Errors: map[string]string{},
	}
	note := func(name string, err error) {
		if err != nil {
			f.Errors[name] = err.Error()
		}
	}
	// First, before the probe opens files (and sockets) of its own.
	var err error
	f.FDs, err = fds()
	note("fds", err)
	f.Hostname, err = hostname()
	note("hostname", err)
	f.Cwd, err = os.Getwd()
	note("cwd", err)
	f.Kernel, err = facts.ReadKernelRelease()
	note("kernel", err)
	f.Root, err = facts.ReadFileID("/")
	note("root", err)
	f.Dev, err = devEntries()
	note("dev", err)
	f.Namespaces, err = facts.ReadNamespaces() // a namespace is named by its inode
	note("namespaces", err)
	f.Cgroup, err = lines("/proc/self/cgroup")
	note("cgroup", err)
	f.CgroupFiles, err = cgroupFiles()
	note("cgroup_files", err)
	f.Mounts, err = lines("/proc/self/mountinfo")
	note("mounts", err)
	f.Pids, err = pids()
	note("pids", err)
	f.CPUs, err = cpus()
	note("cpus", err)
	f.Rlimits, err = rlimits()
	note("rlimits", err)
	f.Caps, err = caps()
	note("caps", err)
	f.Interfaces, err = interfaces()
	note("interfaces", err)
	f.Clocks, err = facts.ReadClocks()
	note("clocks", err)
	f.MsgQueues, err = facts.ReadMsgQueues()
	note("msg_queues", err)
	return f
}

// hostname asks the kernel directly (uname), so it works without /proc.
func hostname() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Nodename[:]), nil
}

// devTypes names the file types by their S_IFMT bits.
var devTypes = map[uint32]string{
	unix.S_IFCHR: "char", unix.S_IFBLK: "block", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink",
	unix.S_IFREG: "file", unix.S_IFIFO: "fifo", unix.S_IFSOCK: "socket",
}

// devEntries lists /dev, each entry as lstat(2) sees it.
func devEntries() ([]facts.DevEntry, error) {
	names, err := os.ReadDir("/dev")
	if err != nil {
		return nil, err
	}
	var entries []facts.DevEntry
	for _, name := range names {
		path := "/dev/" + name.Name()
		var st unix.Stat_t
		if err := unix.Lstat(path, &st); err != nil {
			return nil, err
		}
		e := facts.DevEntry{Name: name.Name(), Type: devTypes[st.Mode&unix.S_IFMT], Mode: st.Mode & 0o7777}
		if e.Type == "char" || e.Type == "block" {
			e.Major, e.Minor = unix.Major(st.Rdev), unix.Minor(st.Rdev)
		}
		if e.Type == "symlink" {
			e.Link, _ = os.Readlink(path)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// tryCreate creates a file at path, or opens the one there is, and
// writes a byte to it.
func tryCreate(path string) *facts.Attempt {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.Write([]byte("x"))
		f.Close()
	}
	if err != nil {
		return &facts.Attempt{Error: err.Error()}
	}
	return &facts.Attempt{OK: true}
}

// lines returns a file's non-empty lines.
func lines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' }), nil
}

// limitFiles are the cgroup files, v1 and v2, that hold a limit the
// workshop sets.
var limitFiles = map[string]bool{
	"cpu.max": true, "cpu.weight": true,
	"cpu.cfs_quota_us": true, "cpu.cfs_period_us": true, "cpu.shares": true,
	"cpuset.cpus": true, "cpuset.mems": true, "cpuset.cpus.effective": true,
	"memory.max": true, "memory.swap.max": true,
	"memory.limit_in_bytes": true, "memory.memsw.limit_in_bytes": true,
	"pids.max": true,
	"io.max":   true, "io.weight": true, "blkio.weight": true,
	"blkio.throttle.read_bps_device": true, "blkio.throttle.write_bps_device": true,
	"blkio.throttle.read_iops_device": true, "blkio.throttle.write_iops_device": true,
}

// cgroupFiles reads the limit files of the probe's own cgroup, in every
// cgroup hierarchy mounted where it can see it. /proc/self/cgroup names
// the probe's cgroup in each hierarchy ("4:memory:/box" on v1, "0::/box"
// on v2), and mountinfo says where each hierarchy is mounted and which of
// its folders the mount shows. A key is the mount point relative to
// /sys/fs/cgroup, then the file: "memory/memory.limit_in_bytes" on v1,
// "memory.max" on v2.
func cgroupFiles() (map[string]string, error) {
	own, err := lines("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	mounts, err := lines("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	found := map[string]string{}
	for _, mount := range mounts {
		root, point, fstype, options, ok := facts.ParseMount(mount)
		if !ok || (fstype != "cgroup" && fstype != "cgroup2") {
			continue
		}
		path, ok := cgroupIn(own, fstype, options)
		if !ok {
			continue
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // the mount does not show the probe's cgroup
		}
		readLimitFiles(filepath.Join(point, rel), point, found)
	}
	return found, nil
}

// cgroupIn finds, among the lines of /proc/self/cgroup, the probe's cgroup
// in the hierarchy a mount holds: on v2 the line with no controllers, on
// v1 the line whose controllers are all among the mount's options.
func cgroupIn(own []string, fstype, options string) (string, bool) {
	mountOpts := map[string]bool{}
	for _, opt := range strings.Split(options, ",") {
		mountOpts[opt] = true
	}
	for _, line := range own {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		controllers, path := parts[1], parts[2]
		if fstype == "cgroup2" && controllers == "" {
			return path, true
		}
		if fstype == "cgroup" && controllers != "" && allIn(strings.Split(controllers, ","), mountOpts) {
			return path, true
		}
	}
	return "", false
}

func allIn(names []string, set map[string]bool) bool {
	for _, name := range names {
		if !set[name] {
			return false
		}
	}
	return true
}

// readLimitFiles adds the limit files found in dir to found, keyed by the
// mount point relative to /sys/fs/cgroup and the file's name.
func readLimitFiles(dir, point string, found map[string]string) {
	prefix, _ := filepath.Rel("/sys/fs/cgroup", point)
	for name := range limitFiles {
		if data, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			found[filepath.Join(prefix, name)] = strings.TrimSpace(string(data))
		}
	}
}

// pids lists the numeric entries of /proc: the processes this process can see.
func pids() ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var list []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			list = append(list, pid)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("no processes in /proc (is proc mounted?)")
	}
	sort.Ints(list)
	return list, nil
}

// cpus asks the scheduler which CPUs this process may run on.
func cpus() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, err
	}
	var list []int
	for cpu := 0; cpu < len(set)*64; cpu++ {
		if set.IsSet(cpu) {
			list = append(list, cpu)
		}
	}
	return list, nil
}

var rlimitNames = map[string]int{
	"as": unix.RLIMIT_AS, "core": unix.RLIMIT_CORE, "cpu": unix.RLIMIT_CPU,
	"data": unix.RLIMIT_DATA, "fsize": unix.RLIMIT_FSIZE, "memlock": unix.RLIMIT_MEMLOCK,
	"nofile": unix.RLIMIT_NOFILE, "nproc": unix.RLIMIT_NPROC, "stack": unix.RLIMIT_STACK,
}

// rlimits reads each resource limit; RLIM_INFINITY is reported as -1.
func rlimits() (map[string]facts.Rlimit, error) {
	limits := map[string]facts.Rlimit{}
	for name, resource := range rlimitNames {
		var rl unix.Rlimit
		if err := unix.Getrlimit(resource, &rl); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		limits[name] = facts.Rlimit{Soft: limitValue(rl.Cur), Hard: limitValue(rl.Max)}
	}
	return limits, nil
}

func limitValue(v uint64) int64 {
	if v == unix.RLIM_INFINITY {
		return -1
	}
	return int64(v)
}

// caps asks the kernel (capget) for this process's capability sets, which
// works with or without /proc.
func caps() (facts.Caps, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return facts.Caps{}, err
	}
	mask := func(lo, hi uint32) string { return fmt.Sprintf("%016x", uint64(hi)<<32|uint64(lo)) }
	var bounding, ambient uint64
	// One capability at a time, until the kernel knows no more (EINVAL).
	for n := 0; n < 64; n++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(n), 0, 0, 0)
		if err != nil {
			break
		}
		bounding |= uint64(in) << n
		if in, err := unix.PrctlRetInt(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_IS_SET, uintptr(n), 0, 0); err == nil {
			ambient |= uint64(in) << n
		}
	}
	nnp, _ := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	seccomp, _ := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	return facts.Caps{
		Effective:   mask(data[0].Effective, data[1].Effective),
		Permitted:   mask(data[0].Permitted, data[1].Permitted),
		Inheritable: mask(data[0].Inheritable, data[1].Inheritable),
		Bounding:    fmt.Sprintf("%016x", bounding),
		Ambient:     fmt.Sprintf("%016x", ambient),
		NoNewPrivs:  nnp == 1,
		Seccomp:     seccomp,
	}, nil
}

// interfaces lists the network interfaces (asked of the kernel over
// netlink, so without /proc or /sys) and whether each is up.
func interfaces() ([]facts.Interface, error) {
	list, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var found []facts.Interface
	for _, i := range list {
		found = append(found, facts.Interface{Name: i.Name, Up: i.Flags&net.FlagUp != 0})
	}
	return found, nil
}

// tryMknod tries to make a character device with /dev/null's numbers
// (1:3) in /tmp, then removes it. The kernel allows it only to a process
// with CAP_MKNOD in the host's user namespace: root in a user namespace of
// its own is refused, whatever its capabilities there.
func tryMknod() *facts.Attempt {
	path := fmt.Sprintf("/tmp/.probe-mknod-%d", os.Getpid())
	if err := unix.Mknod(path, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil {
		return &facts.Attempt{Error: fmt.Sprintf("mknod %s: %v", path, err)}
	}
	os.Remove(path)
	return &facts.Attempt{OK: true}
}

// tryTerminal tries to type a space into the terminal on stdin, and into
// /dev/tty, the probe's controlling terminal, with TIOCSTI. A space is the
// least harm should it work on a terminal someone uses: a test looks for
// it from the host, in the terminal's input.
func tryTerminal() *facts.Terminal {
	space := []byte(" ")
	tiocsti := func(fd int, name string) error {
		// Its argument points at the byte to type.
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&space[0])))
		if errno != 0 {
			return fmt.Errorf("TIOCSTI on %s: %w", name, errno)
		}
		return nil
	}
	result := &facts.Terminal{Stdin: facts.Tried(tiocsti(0, "stdin"))}
	tty, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		err = fmt.Errorf("open /dev/tty: %w", err)
	} else {
		err = tiocsti(tty, "/dev/tty")
		unix.Close(tty)
	}
	result.DevTTY = facts.Tried(err)
	return result
}

// readKeyring lists the probe's session keyring: each key it holds, with
// its description and payload where the probe may read them. With a key's
// number, it also tries to read that key, wherever it is.
func readKeyring(key string) *facts.Keyring {
	result := &facts.Keyring{}
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		result.Error = fmt.Sprintf("find the session keyring: %v", err)
		return result
	}
	result.ID = id
	// A keyring's payload is the serial numbers of its keys, 4 bytes each.
	list := make([]byte, 4096)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, list, 0)
	if err != nil {
		result.Error = fmt.Sprintf("read the session keyring: %v", err)
	}
	for i := 0; i+4 <= min(n, len(list)); i += 4 {
		k := facts.Key{ID: int(int32(binary.NativeEndian.Uint32(list[i:])))}
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, k.ID)
		if err == nil {
			k.Description = desc
			k.Payload, err = readKey(k.ID)
		}
		if err != nil {
			k.Error = err.Error()
		}
		result.Keys = append(result.Keys, k)
	}
	if key != "" {
		n, err := strconv.Atoi(key)
		if err == nil {
			_, err = readKey(n)
		}
		result.Read = facts.Tried(err)
	}
	return result
}

// readKey reads a key's payload.
func readKey(id int) (string, error) {
	payload := make([]byte, 4096)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, payload, 0)
	if err != nil {
		return "", err
	}
	return string(payload[:min(n, len(payload))]), nil
}

// rewriteSysctl writes a sysctl the value it has: harmless where it
// works, and where it works, root inside could write any other value too.
func rewriteSysctl(name string) *facts.Attempt {
	path := filepath.Join("/proc/sys", name)
	value, err := os.ReadFile(path)
	if err != nil {
		return facts.Tried(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write(value)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
	}
	return facts.Tried(err)
}

// tryMsgQueue creates a System V message queue with the given key and
// leaves it: a test then looks for it from the host.
func tryMsgQueue(value string) *facts.Attempt {
	key, err := strconv.Atoi(value)
	if err != nil {
		return &facts.Attempt{Error: fmt.Sprintf("msgqueue=%s: the key must be a number", value)}
	}
	if err := facts.MakeMsgQueue(key); err != nil {
		return &facts.Attempt{Error: err.Error()}
	}
	return &facts.Attempt{OK: true}
}

// fds lists the probe's open file descriptors. It asks fcntl(2) about
// each number in turn rather than reading /proc/self/fd, which would open
// one more, and it runs first, before the Go runtime opens its own.
func fds() ([]int, error) {
	var limit unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &limit); err != nil {
		return nil, err
	}
	var list []int
	for fd := 0; uint64(fd) < min(limit.Cur, 1<<16); fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			list = append(list, fd)
		}
	}
	return list, nil
}

// tryEscape is the classic way out of a chroot. chroot changes a process's
// root but not its working directory, and the kernel stops ".." only at the
// root itself: so chroot into a new subdirectory while the working
// directory stays outside it, climb "..", and the climb never meets the
// root. Where it ends, chroot(".") makes that the root.
func tryEscape() *facts.Escape {
	result := &facts.Escape{}
	var before unix.Stat_t
	if err := unix.Stat("/", &before); err != nil {
		result.Error = fmt.Sprintf("stat /: %v", err)
		return result
	}
	oldRoot, err := os.Open("/")
	if err != nil {
		result.Error = fmt.Sprintf("open /: %v", err)
		return result
	}
	defer oldRoot.Close()
	// /tmp, because anyone may write there: root of a user namespace owns
	// none of the image's other folders.
	dir, err := os.MkdirTemp("/tmp", ".probe-escape-")
	if err != nil {
		result.Error = fmt.Sprintf("make a directory to chroot into: %v", err)
		return result
	}
	// The new root is a directory below the current one...
	if err := unix.Chroot(dir); err != nil {
		os.Remove(dir)
		result.Error = fmt.Sprintf("chroot %s: %v", dir, err)
		return result
	}
	// ...and the working directory goes back above it, outside the new root.
	if err := unix.Fchdir(int(oldRoot.Fd())); err != nil {
		result.Error = fmt.Sprintf("fchdir to the old root: %v", err)
		return result
	}
	_ = unix.Rmdir(strings.TrimPrefix(dir, "/")) // tidy up, relative to the old root
	// Climb: ".." at the real root of the machine is the root itself, so
	// more climbing than the tree is deep is harmless.
	for i := 0; i < 256; i++ {
		if err := unix.Chdir(".."); err != nil {
			result.Error = fmt.Sprintf("chdir ..: %v", err)
			return result
		}
	}
	if err := unix.Chroot("."); err != nil {
		result.Error = fmt.Sprintf("chroot to where the climb ended: %v", err)
		return result
	}
	var after unix.Stat_t
	if err := unix.Stat("/", &after); err != nil {
		result.Error = fmt.Sprintf("stat / after the climb: %v", err)
		return result
	}
	result.RootDev, result.RootIno = after.Dev, after.Ino
	result.Escaped = after.Dev != before.Dev || after.Ino != before.Ino
	if entries, err := os.ReadDir("/"); err == nil {
		for _, e := range entries {
			result.RootEntries = append(result.RootEntries, e.Name())
		}
	}
	return result
}

// tryAlloc maps mib MiB of memory and writes to every page of it, so
// that the kernel must really provide it (an untouched page costs
// nothing). Under a memory limit smaller than that, the kernel's OOM
// killer ends the probe here.
func tryAlloc(mib int) *facts.Attempt {
	mem, err := unix.Mmap(-1, 0, mib<<20, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return &facts.Attempt{Error: fmt.Sprintf("mmap %d MiB: %v", mib, err)}
	}
	defer unix.Munmap(mem)
	for i := 0; i < len(mem); i += os.Getpagesize() {
		mem[i] = 1
	}
	return &facts.Attempt{OK: true}
}

// forkLoop starts children, each `sleep 1000` (a single task), until n
// run or fork fails, counting the tasks of the probe and its children at
// the peak. Then it ends them. A limit on pids makes fork fail with
// EAGAIN.
func forkLoop(n int) *facts.Forks {
	result := &facts.Forks{}
	var children []int
	for len(children) < n {
		pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "1000"}, &syscall.ProcAttr{})
		if err != nil {
			result.Error = fmt.Sprintf("fork: %v", err)
			break
		}
		children = append(children, pid)
	}
	// At a limit, end one child at once: the Go runtime dies if it needs
	// a thread and cannot have one. The peak counts it.
	if len(children) > 0 {
		_ = unix.Kill(children[0], unix.SIGKILL)
		_, _ = unix.Wait4(children[0], nil, 0, nil)
	}
	threads, err := os.ReadDir("/proc/self/task")
	if err != nil {
		result.Error += fmt.Sprintf("; count the threads: %v", err)
	}
	result.Started, result.Tasks = len(children), len(threads)+len(children)
	for _, pid := range children[min(1, len(children)):] {
		_ = unix.Kill(pid, unix.SIGKILL)
		_, _ = unix.Wait4(pid, nil, 0, nil)
	}
	return result
}

// directIO reads or writes mib MiB at the start of path with O_DIRECT,
// which goes past the page cache to the device, in 64 KiB blocks, and
// reports the time it took. O_DIRECT needs a buffer aligned to the
// device's blocks: mmap's is aligned to a page.
func directIO(op, path string, mib int) *facts.Timed {
	flags := unix.O_RDONLY
	if op == "write" {
		flags = unix.O_WRONLY
	}
	fd, err := unix.Open(path, flags|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return &facts.Timed{Error: fmt.Sprintf("open %s: %v", path, err)}
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 64<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return &facts.Timed{Error: fmt.Sprintf("mmap: %v", err)}
	}
	defer unix.Munmap(buf)
	start := time.Now()
	for done := 0; done < mib<<20; done += len(buf) {
		var n int
		if op == "write" {
			n, err = unix.Pwrite(fd, buf, int64(done))
		} else {
			n, err = unix.Pread(fd, buf, int64(done))
		}
		if err != nil || n != len(buf) {
			return &facts.Timed{Error: fmt.Sprintf("%s %s at %d: %d bytes, %v", op, path, done, n, err)}
		}
	}
	return &facts.Timed{Seconds: time.Since(start).Seconds()}
}

// getpidLoop times n getpid(2) calls, made directly (Go caches no pid),
// and returns one's time in nanoseconds: the cost of entering the
// kernel, a seccomp filter's run included.
// sysinfoLoop is the time of one sysinfo(2), over n: a container's are
// answered by its monitor (issue 21), through seccomp user notification.
func sysinfoLoop(n int) float64 {
	var info unix.Sysinfo_t
	start := time.Now()
	for i := 0; i < n; i++ {
		_ = unix.Sysinfo(&info)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// readLoop is the time of one open, read to the end and close of path,
// over n, as a program reads /proc/meminfo; 0 if it cannot be read.
func readLoop(path string, n int) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := os.ReadFile(path); err != nil {
			return 0
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func getpidLoop(n int) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
