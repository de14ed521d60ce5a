package main

// The breakout attempts that capabilities, no_new_privs and the masked
// and read-only paths stop (issue 20's CAPS part). Each reports what the
// kernel said; none would harm the host if it succeeded: the mount is in
// the container's own namespace, the module is not a module, the sysrq
// file is opened and never written.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/facts"
)

func init() {
	attacks["mount"] = func(string) *facts.Attempt { return facts.Tried(mountTmpfs()) }
	attacks["remount-root"] = func(string) *facts.Attempt { return facts.Tried(remountRootWritable()) }
	attacks["module"] = func(string) *facts.Attempt { return facts.Tried(loadBogusModule()) }
	attacks["sysrq"] = func(string) *facts.Attempt { return facts.Tried(openForWriting("/proc/sysrq-trigger")) }
	attacks["readfile"] = readSome
	attacks["listdir"] = listSome
	attacks["signal"] = signalPid
	attacks["fds"] = func(string) *facts.Attempt { return inheritedFiles() }
	attacks["setuid"] = runSetuid
	attacks["userns"] = func(string) *facts.Attempt { return regainInUserNamespace() }
	attacks["userns-inside"] = func(string) *facts.Attempt { return againstTheHost() }
}

// mountTmpfs mounts a tmpfs on /tmp, and unmounts it: mount(2) needs
// CAP_SYS_ADMIN in the user namespace that owns the mount namespace.
// /tmp, which every image has, even a --read-only one.
func mountTmpfs() error {
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	return unix.Unmount("/tmp", unix.MNT_DETACH)
}

// remountRootWritable undoes --read-only: a remount of "/" without
// MS_RDONLY.
func remountRootWritable() error {
	return unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND, "")
}

// loadBogusModule calls init_module(2) with a few bytes that are no
// module: EPERM says the capability is missing (CAP_SYS_MODULE in the
// host's user namespace); ENOEXEC or EINVAL, that the kernel looked at
// the image and refused it, so a real module would have loaded.
func loadBogusModule() error {
	image := []byte("boxcraft: not a kernel module\x00")
	params := []byte{0}
	_, _, errno := unix.Syscall(unix.SYS_INIT_MODULE, uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)), uintptr(unsafe.Pointer(&params[0])))
	if errno != 0 {
		return errno
	}
	return errors.New("init_module took an image that is not a module")
}

// openForWriting opens path for writing, and closes it without writing.
func openForWriting(path string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	return unix.Close(fd)
}

// readSome reads up to 64 bytes of the file value names (readfile=PATH):
// OK when it read something; a masked file reads empty.
func readSome(path string) *facts.Attempt {
	f, err := os.Open(path)
	if err != nil {
		return facts.Tried(err)
	}
	defer f.Close()
	buf := make([]byte, 64)
	n, err := f.Read(buf)
	if n > 0 {
		return &facts.Attempt{OK: true}
	}
	if err == nil || err.Error() == "EOF" {
		return &facts.Attempt{Error: "read nothing: the file is empty (masked)"}
	}
	return facts.Tried(err)
}

// listSome lists the folder value names (listdir=PATH): OK when it
// holds anything; a masked folder is an empty tmpfs.
func listSome(path string) *facts.Attempt {
	entries, err := os.ReadDir(path)
	if err != nil {
		return facts.Tried(err)
	}
	if len(entries) > 0 {
		return &facts.Attempt{OK: true, Error: fmt.Sprintf("%d entries, %s first", len(entries), entries[0].Name())}
	}
	return &facts.Attempt{Error: "empty: the folder is masked"}
}

// signalPid sends signal 0 to pid value (signal=PID): it checks that the
// process is there and may be signalled, and does nothing to it. A host
// process is out of reach when the container's pid namespace does not
// show it (ESRCH).
func signalPid(value string) *facts.Attempt {
	pid, err := strconv.Atoi(value)
	if err != nil {
		return &facts.Attempt{Error: "signal=PID: " + err.Error()}
	}
	return facts.Tried(unix.Kill(pid, 0))
}

// inheritedFiles lists the descriptors the probe holds beyond stdio,
// other than its own (the one that reads /proc/self/fd, and the Go
// runtime's poller: an eventpoll and an eventfd): any other is the
// runtime's, leaked. OK means one was found; Error lists what each leads
// to.
func inheritedFiles() *facts.Attempt {
	dir, err := os.Open("/proc/self/fd")
	if err != nil {
		return facts.Tried(err)
	}
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return facts.Tried(err)
	}
	var leaked []string
	for _, name := range names {
		fd, _ := strconv.Atoi(name)
		if fd <= 2 || uintptr(fd) == dir.Fd() {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + name)
		if target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" {
			continue
		}
		leaked = append(leaked, name+" -> "+target)
	}
	if len(leaked) > 0 {
		return &facts.Attempt{OK: true, Error: strings.Join(leaked, ", ")}
	}
	return &facts.Attempt{Error: "no descriptor beyond stdio"}
}

// runSetuid runs the setuid-root file value names (setuid=PATH), a copy
// of the probe, and reads its facts: OK when it ran as root or with any
// effective capability. no_new_privs makes execve ignore the setuid bit.
func runSetuid(path string) *facts.Attempt {
	out, err := exec.Command(path).Output()
	if err != nil {
		return facts.Tried(fmt.Errorf("run %s: %w", path, err))
	}
	var f facts.Facts
	if err := json.Unmarshal(out, &f); err != nil {
		return facts.Tried(fmt.Errorf("read %s's facts: %w", path, err))
	}
	gained := f.EUID == 0 || strings.Trim(f.Caps.Effective, "0") != ""
	return &facts.Attempt{OK: gained, Error: fmt.Sprintf("euid %d, effective capabilities %s", f.EUID, f.Caps.Effective)}
}

// regainInUserNamespace starts a copy of the probe in a new user
// namespace (and mount namespace), where it is root with every
// capability, and has it try what would reach the host
// (againstTheHost). The unshare itself may be refused (seccomp without
// CAP_SYS_ADMIN; a kernel without unprivileged user namespaces): that is
// a failure too. OK when any of the copy's attempts succeeded.
func regainInUserNamespace() *facts.Attempt {
	cmd := exec.Command("/proc/self/exe", "userns-inside")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	out, err := cmd.Output()
	if err != nil {
		return facts.Tried(fmt.Errorf("start a copy in a new user namespace: %w", unwrapStart(err)))
	}
	var f facts.Facts
	if err := json.Unmarshal(out, &f); err != nil {
		return facts.Tried(fmt.Errorf("read the copy's facts: %w", err))
	}
	if a := f.Experiments.Attacks["userns-inside"]; a != nil {
		a.Error = "inside a new user namespace (capabilities " + f.Caps.Effective + "): " + a.Error
		return a
	}
	return &facts.Attempt{Error: "the copy reported nothing"}
}

// unwrapStart gives the errno of a failed start (clone's EPERM) when it
// has one.
func unwrapStart(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// againstTheHost is what root of a new user namespace tries: remount
// the container's root read-write, load a module, open sysrq-trigger
// and a sysctl for writing. Each needs a capability in the host's user
// namespace, or a mount the new one does not own. OK when any succeeded;
// Errno is the remount's.
func againstTheHost() *facts.Attempt {
	tries := []struct {
		what string
		err  error
	}{
		{"remount / read-write", remountRootWritable()},
		{"init_module", loadBogusModule()},
		{"open /proc/sysrq-trigger", openForWriting("/proc/sysrq-trigger")},
		{"open /proc/sys/kernel/hostname", openForWriting("/proc/sys/kernel/hostname")},
	}
	result := facts.Tried(tries[0].err)
	var said []string
	for _, t := range tries {
		if t.err == nil {
			result.OK = true
			said = append(said, t.what+": succeeded")
		} else {
			said = append(said, t.what+": "+t.err.Error())
		}
	}
	result.Error = strings.Join(said, "; ")
	return result
}
