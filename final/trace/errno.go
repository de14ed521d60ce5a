package trace

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// meaning is what an errno usually means, from one call or from any.
type meaning struct {
	call  string // "" for any call
	errno syscall.Errno
	text  string
}

// meanings are the failures a learner meets most, the ones the lessons
// ran into: a call's own first, then the errno's in general.
func meanings() []meaning {
	return []meaning{
		{"pivot_root", unix.EINVAL, "the new root is not a mount point, or a mount above it is shared (make / private first: step04)"},
		{"pivot_root", unix.EBUSY, "the new root or put_old is busy: it is the current root already"},
		{"mount", unix.ENOTDIR, "the mount point is not a folder (an image whose /proc or /sys is a file?)"},
		{"mount", unix.ENOENT, "the mount point or the source does not exist in the root"},
		{"mount", unix.ENODEV, "this kernel does not know the filesystem type (is its module loaded?)"},
		{"execve", unix.EACCES, "the file lacks the execute bit, or sits on a noexec mount"},
		{"execve", unix.ENOEXEC, "not an executable this kernel can run: no #! line, or another architecture"},
		{"execve", unix.ENOENT, "the file, or the interpreter its #! line or ELF header names, is missing"},
		{"", unix.EPERM, "not permitted: the process lacks the capability (in its user namespace), or a seccomp filter or LSM refused"},
		{"", unix.EACCES, "permission denied by the file's mode, a read-only or noexec mount, or an LSM"},
		{"", unix.EBUSY, "in use: a mount point with something mounted on it, a cgroup with processes in it"},
		{"", unix.EINVAL, "the kernel refused an argument: a value out of range, or a flag this call does not take here"},
		{"", unix.ENOENT, "no such file: a path, a cgroup file this kernel lacks, or a controller not enabled"},
		{"", unix.ENOTDIR, "a path that should be a folder is a file"},
		{"", unix.ENOSPC, "no room: a cgroup limit or namespace count reached, or the disk is full"},
		{"", unix.EEXIST, "it exists already"},
		{"", unix.EROFS, "the filesystem is mounted read-only"},
		{"", unix.ENOSYS, "this kernel does not have the call (too old, or built without it)"},
	}
}

// Explain names err's errno (EPERM) and says what it usually means when
// call fails with it. An error that wraps no errno has none.
func Explain(call string, err error) (string, string) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "", ""
	}
	name := unix.ErrnoName(errno)
	if name == "" {
		name = errno.Error()
	}
	for _, m := range meanings() {
		if m.errno == errno && (m.call == "" || m.call == call) {
			return name, m.text
		}
	}
	return name, errno.Error()
}
