// Package facts is what the probe reports from inside a container: the
// probe fills it in and prints it as JSON, and the tests decode it to make
// assertions about what the container can see.
package facts

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Facts is everything the probe observed. A fact the probe could not read
// (no /proc mounted, a file that does not exist) is left empty and the
// reason is recorded in Errors under the fact's JSON name.
type Facts struct {
	Pid      int    `json:"pid"`
	Ppid     int    `json:"ppid"`
	UID      int    `json:"uid"`
	EUID     int    `json:"euid"`
	GID      int    `json:"gid"`
	EGID     int    `json:"egid"`
	Hostname string `json:"hostname"`
	Cwd      string `json:"cwd"`
	// Kernel is the kernel's release (uname -r): an image holds no
	// kernel, so a container's is the host's.
	Kernel string `json:"kernel"`
	// Root is the probe's root folder, to compare with a folder on the
	// host.
	Root FileID `json:"root"`
	// Dev lists what /dev holds, not following symlinks.
	Dev []DevEntry `json:"dev"`

	// Namespaces maps each name in /proc/self/ns (uts, pid, mnt, …) to the
	// inode number of the namespace: two processes share a namespace
	// exactly when the inodes are equal.
	Namespaces map[string]uint64 `json:"namespaces"`
	// Cgroup is /proc/self/cgroup, one line per hierarchy.
	Cgroup []string `json:"cgroup"`
	// CgroupFiles maps each cgroup limit file visible under /sys/fs/cgroup
	// (memory.max, cpu.cfs_quota_us, …) to its trimmed content.
	CgroupFiles map[string]string `json:"cgroup_files"`
	// Mounts is /proc/self/mountinfo, one line per mount.
	Mounts []string `json:"mounts"`
	// Pids lists the processes visible in /proc.
	Pids []int `json:"pids"`
	// CPUs is the CPU affinity mask as a list of CPU numbers.
	CPUs []int `json:"cpus"`
	// Rlimits maps a resource name (nofile, nproc, …) to its soft and hard limit.
	Rlimits map[string]Rlimit `json:"rlimits"`
	// Caps holds the capability sets as hexadecimal masks, as in /proc/self/status.
	Caps Caps `json:"caps"`
	// Interfaces lists the network interfaces the probe can see.
	Interfaces []Interface `json:"interfaces"`
	// Clocks are the three clocks a time namespace may or may not move.
	Clocks Clocks `json:"clocks"`
	// MsgQueues lists the keys of the System V message queues visible in
	// /proc/sysvipc/msg.
	MsgQueues []int `json:"msg_queues"`
	// FDs lists the file descriptors the probe was started with.
	FDs []int `json:"fds"`

	// Experiments holds the result of each experiment asked for.
	Experiments Experiments `json:"experiments"`

	Errors map[string]string `json:"errors,omitempty"`
}

// FileID names a file on a machine: its device and inode numbers.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// DevEntry is one entry of /dev: its name, its type ("char", "block",
// "dir", "symlink", "file", "fifo" or "socket"), its permission bits, and
// for a device its numbers, for a symlink its target.
type DevEntry struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Mode  uint32 `json:"mode"`
	Major uint32 `json:"major,omitempty"`
	Minor uint32 `json:"minor,omitempty"`
	Link  string `json:"link,omitempty"`
}

// Rlimit is one resource limit; Unlimited is reported as -1.
type Rlimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Caps are the capability sets of the probe's process, and what else
// bounds its privileges: no_new_privs and its seccomp mode.
type Caps struct {
	Effective   string `json:"effective"`
	Permitted   string `json:"permitted"`
	Inheritable string `json:"inheritable"`
	Bounding    string `json:"bounding"`
	Ambient     string `json:"ambient"`
	NoNewPrivs  bool   `json:"no_new_privs"`
	Seccomp     int    `json:"seccomp"` // prctl(PR_GET_SECCOMP): 0 none, 2 a filter
}

// Interface is one network interface and whether it is up.
type Interface struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
}

// Clocks are clock readings in seconds. Uptime is the first figure of
// /proc/uptime, which follows the boottime clock.
type Clocks struct {
	Realtime  float64 `json:"realtime"`
	Monotonic float64 `json:"monotonic"`
	Boottime  float64 `json:"boottime"`
	Uptime    float64 `json:"uptime"`
}

// Experiments are things the probe tries rather than reads.
type Experiments struct {
	// Attacks are the breakout attempts of final/'s security suite, by
	// the argument that asked for each (attack=NAME or NAME=VALUE).
	Attacks map[string]*Attempt `json:"attacks,omitempty"`
	Escape  *Escape             `json:"escape,omitempty"`
	// Mknod is the attempt to make a device node (/dev/null's numbers),
	// which needs CAP_MKNOD in the host's user namespace.
	Mknod *Attempt `json:"mknod,omitempty"`
	// MsgQueue is the attempt to create a System V message queue with a
	// key the caller chose.
	MsgQueue *Attempt `json:"msg_queue,omitempty"`
	// Alloc is the attempt to allocate and touch some MiB of memory: the
	// probe survives it, or the kernel kills it for want of memory.
	Alloc *Attempt `json:"alloc,omitempty"`
	// Forks is a fork loop: children started until fork failed or enough
	// were running.
	Forks *Forks `json:"forks,omitempty"`
	// GetpidNs is what one getpid(2) took, over a loop of them: the cost
	// of a system call, a seccomp filter's included.
	GetpidNs float64 `json:"getpidNs,omitempty"`
	// SysinfoNs is what one sysinfo(2) took, over a loop of them; and
	// ReadFileNs one open, read and close of a file (/proc/meminfo): a
	// /proc view's costs (issue 21).
	SysinfoNs  float64 `json:"sysinfoNs,omitempty"`
	ReadFileNs float64 `json:"readFileNs,omitempty"`
	// Read and Write are block I/O with O_DIRECT, past the page cache, so
	// that every byte reaches the device.
	Read  *Timed `json:"read,omitempty"`
	Write *Timed `json:"write,omitempty"`
	// Creates are attempts to create a file and write to it, by path.
	Creates map[string]*Attempt `json:"creates,omitempty"`
	// Terminal is the attempt to type into a terminal from inside.
	Terminal *Terminal `json:"terminal,omitempty"`
	// Keyring is what the probe can read of its session keyring.
	Keyring *Keyring `json:"keyring,omitempty"`
	// Sysctls are attempts to write a sysctl (a path below /proc/sys,
	// such as kernel/randomize_va_space) with the value it has already.
	Sysctls map[string]*Attempt `json:"sysctls,omitempty"`
}

// Terminal is the outcome of TIOCSTI, the ioctl that pushes a byte into a
// terminal's input as if it were typed there, so that whatever reads the
// terminal next (the shell the container was started from) reads it. The
// kernel allows it on the caller's controlling terminal, or to a process
// with CAP_SYS_ADMIN in the host's user namespace.
type Terminal struct {
	// Stdin is TIOCSTI on fd 0, which may be the caller's terminal.
	Stdin *Attempt `json:"stdin"`
	// DevTTY is TIOCSTI on /dev/tty, which opens the caller's
	// controlling terminal, if it has one (else ENXIO).
	DevTTY *Attempt `json:"dev_tty"`
}

// Keyring is the probe's session keyring, the kernel's store of secrets
// (keys) that every process of a login session shares, and the key
// the test asked for by its serial number.
type Keyring struct {
	// ID is the session keyring's serial number.
	ID int `json:"id"`
	// Keys are the keys it holds.
	Keys []Key `json:"keys"`
	// Read is the attempt to read the key the test named, by its serial.
	Read  *Attempt `json:"read,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Key is a key of a keyring: its serial number, and what the probe could
// read of it (its description, "TYPE;UID;GID;PERM;NAME", and its payload).
type Key struct {
	ID          int    `json:"id"`
	Description string `json:"description,omitempty"`
	Payload     string `json:"payload,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Timed is an experiment that took a measured time.
type Timed struct {
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// Forks is the outcome of a fork loop.
type Forks struct {
	// Started is how many children ran at once.
	Started int `json:"started"`
	// Tasks is the most tasks (the probe's threads and the children) the
	// probe counted while they ran.
	Tasks int `json:"tasks"`
	// Error is why the next fork failed, if one did.
	Error string `json:"error,omitempty"`
}

// Attempt is the outcome of an experiment that either works or fails.
// Errno is the failing call's error number by name (EPERM, EROFS, …),
// where an experiment gives it.
type Attempt struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Errno string `json:"errno,omitempty"`
}

// Tried is the Attempt that err says: OK when it is nil, and otherwise
// its message, and its error number by name when it carries one.
func Tried(err error) *Attempt {
	if err == nil {
		return &Attempt{OK: true}
	}
	a := &Attempt{Error: err.Error()}
	var errno unix.Errno
	if errors.As(err, &errno) {
		a.Errno = unix.ErrnoName(errno)
	}
	return a
}

// Escape is the result of the classic chroot escape: chroot into a
// subdirectory while holding a descriptor to the current root, fchdir back
// out through it, climb with "..", and chroot to where the climb ends.
type Escape struct {
	// Escaped is true when the root reached differs from the root the probe
	// started in: the climb went past the top of its filesystem view.
	Escaped bool `json:"escaped"`
	// RootDev and RootIno identify the directory the probe ended up with as
	// its root; a test compares them with the host's "/".
	RootDev uint64 `json:"root_dev"`
	RootIno uint64 `json:"root_ino"`
	// RootEntries lists the names in that root, for a person to read.
	RootEntries []string `json:"root_entries"`
	Error       string   `json:"error,omitempty"`
}

// ReadClocks reads the realtime, monotonic and boottime clocks, and the
// uptime that /proc/uptime shows. The probe reports its own; the tests
// read the host's the same way, to compare.
func ReadClocks() (Clocks, error) {
	var c Clocks
	for id, to := range map[int32]*float64{
		unix.CLOCK_REALTIME: &c.Realtime, unix.CLOCK_MONOTONIC: &c.Monotonic, unix.CLOCK_BOOTTIME: &c.Boottime,
	} {
		var ts unix.Timespec
		if err := unix.ClockGettime(id, &ts); err != nil {
			return c, err
		}
		*to = float64(ts.Sec) + float64(ts.Nsec)/1e9
	}
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return c, err
	}
	_, err = fmt.Sscan(string(data), &c.Uptime)
	return c, err
}

// ReadKernelRelease is the running kernel's release, as uname -r prints
// it. The probe reports its own; the tests read the host's the same way.
func ReadKernelRelease() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", err
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// ReadFileID is the device and inode of path. The probe reports its root's;
// the tests compare it with a folder on the host.
func ReadFileID(path string) (FileID, error) {
	var st unix.Stat_t
	err := unix.Stat(path, &st)
	return FileID{Dev: st.Dev, Ino: st.Ino}, err
}

// ReadMsgQueues returns the keys of the System V message queues the
// caller's IPC namespace holds, from /proc/sysvipc/msg (whose second
// column is the key, in decimal). The probe reports its own; the tests
// read the host's the same way.
func ReadMsgQueues() ([]int, error) {
	data, err := os.ReadFile("/proc/sysvipc/msg")
	if err != nil {
		return nil, err
	}
	var keys []int
	for _, line := range strings.Split(string(data), "\n")[1:] { // the first line names the columns
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		key, err := strconv.Atoi(fields[0])
		if err != nil {
			return nil, fmt.Errorf("/proc/sysvipc/msg: key %q: %w", fields[0], err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// MakeMsgQueue creates a System V message queue with key, or opens the one
// there is. x/sys/unix has no msgget, so it is called by its number.
func MakeMsgQueue(key int) error {
	if _, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), unix.IPC_CREAT|0o600, 0); errno != 0 {
		return fmt.Errorf("msgget %d: %w", key, errno)
	}
	return nil
}

// RemoveMsgQueue removes the message queue with key, if there is one.
func RemoveMsgQueue(key int) {
	if id, _, errno := unix.Syscall(unix.SYS_MSGGET, uintptr(key), 0, 0); errno == 0 {
		_, _, _ = unix.Syscall(unix.SYS_MSGCTL, id, unix.IPC_RMID, 0)
	}
}

// ReadNamespaces returns the inode of each namespace the calling process
// is in, keyed by its name in /proc/self/ns. The probe reports its own;
// the tests read the host's the same way, to compare.
func ReadNamespaces() (map[string]uint64, error) {
	entries, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return nil, err
	}
	ns := map[string]uint64{}
	for _, e := range entries {
		var st unix.Stat_t
		if err := unix.Stat("/proc/self/ns/"+e.Name(), &st); err != nil {
			return nil, err
		}
		ns[e.Name()] = st.Ino
	}
	return ns, nil
}

// ParseMount splits a line of /proc/PID/mountinfo: the folder of the
// filesystem that is mounted, where, the filesystem type and its options.
func ParseMount(line string) (root, point, fstype, options string, ok bool) {
	fields := strings.Fields(line)
	for i := 6; i+3 < len(fields); i++ { // optional fields end at "-"
		if fields[i] == "-" {
			return fields[3], fields[4], fields[i+1], fields[i+3], true
		}
	}
	return "", "", "", "", false
}

// MountOptions is a mountinfo line's options of the mount itself (ro,
// nosuid, …), which ParseMount's options, the filesystem's, leave out.
func MountOptions(line string) string {
	if fields := strings.Fields(line); len(fields) > 5 {
		return fields[5]
	}
	return ""
}
