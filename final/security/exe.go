package security

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ReadOnlyExecutable is the running binary (/proc/self/exe) as the
// monitor starts the container's init from it (/proc/self/fd/N): a copy
// of it, or a view of it, that nothing can write.
//
// CVE-2019-5736: while init runs inside the container, and when a
// command there is a script whose interpreter is #!/proc/self/exe
// (resolved in init), the container's root can open the runtime's binary
// through /proc/PID/exe and, once it has stopped running, write to it:
// the next `docker run` on the host runs the attacker's code as root.
//
// runc's answers, both here: a read-only bind mount of the binary (the
// fast one: open_tree(2) clones the file's mount, detached from every
// mount namespace, and mount_setattr(2) makes it read-only, so an open
// for writing is EROFS however it is reached); where the kernel lacks
// them (before 5.12), a sealed copy in memory (SealedExecutable).
func ReadOnlyExecutable() (*os.File, error) {
	return ReadOnlyProgram("/proc/self/exe")
}

// ReadOnlyProgram is ReadOnlyExecutable for the program at path: the
// small init that boxcraft starts in a container (Helper), which needs
// the same protection, as it runs inside the container just as boxcraft
// init did.
func ReadOnlyProgram(path string) (*os.File, error) {
	// OPEN_TREE_CLONE: a new mount of just this file, attached
	// nowhere, alive as long as a descriptor (or a process running it)
	// holds it.
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return sealedProgram(path)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		return sealedProgram(path)
	}
	return os.NewFile(uintptr(fd), filepath.Base(path)+" (read-only)"), nil
}

// Helper is the path of the program name in the running binary's
// folder, or "" when it is not there. make bins builds boxcraft's
// helpers (boxcraft-init, boxcraft-monitor, boxcraft-exec-init,
// boxcraft-registry) beside boxcraft: small programs that link only what
// their part needs, so that they start in a fraction of boxcraft's time
// and memory (issue 26). Without init or the monitor, boxcraft runs
// itself in that part; exec and the registry's commands need theirs.
func Helper(name string) string {
	folder := HelperFolder()
	if folder == "" {
		return ""
	}
	path := filepath.Join(folder, name)
	if unix.Access(path, unix.X_OK) != nil {
		return ""
	}
	return path
}

// HelperFolder is the running binary's folder, where Helper looks, or ""
// when the kernel cannot say.
func HelperFolder() string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	return filepath.Dir(self)
}

// SealedExecutable copies the running binary into a sealed memfd: no
// write, no change of size, no change of the seals, from anyone, through
// any descriptor or /proc path; while it runs, an open for writing is
// ETXTBSY too. It costs a copy of the binary at each start (some 10 ms
// for a 7 MB binary, mostly the new pages).
func SealedExecutable() (*os.File, error) {
	return sealedProgram("/proc/self/exe")
}

// sealedProgram is SealedExecutable for the program at path.
func sealedProgram(path string) (*os.File, error) {
	self, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the runtime's binary: %w", err)
	}
	defer self.Close()
	fd, err := newMemfd()
	if err != nil {
		return nil, err
	}
	copyFile := os.NewFile(uintptr(fd), "memfd:boxcraft")
	if _, err := io.Copy(copyFile, self); err != nil {
		copyFile.Close()
		return nil, fmt.Errorf("copy the runtime's binary into a memfd: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(copyFile.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		copyFile.Close()
		return nil, fmt.Errorf("seal the runtime's copy: %w", err)
	}
	return copyFile, nil
}

// newMemfd makes an anonymous file in memory that may be sealed and
// executed. MFD_EXEC says so on Linux 6.3 and later (which warn when a
// memfd says neither EXEC nor NOEXEC_SEAL); older kernels refuse the
// flag they do not know with EINVAL, and allow execution anyway.
func newMemfd() (int, error) {
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate("boxcraft", flags|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("boxcraft", flags)
	}
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	return fd, nil
}
