package security

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SealedExecutable copies the running binary (/proc/self/exe) into a
// sealed memfd, for the monitor to start the container's init from
// (/proc/self/fd/N) rather than from the binary on the host's disk.
//
// CVE-2019-5736: while init runs inside the container, and when a
// command there is a script whose interpreter is #!/proc/self/exe
// (resolved in init), the container's root can open the runtime's binary
// through /proc/PID/exe and, once it has stopped running, write to it:
// the next `docker run` on the host runs the attacker's code as root.
// runc answers with a copy: the container can reach only the copy,
// which nothing can write, because it is sealed (F_SEAL_WRITE and the
// others) and, while it runs, busy (ETXTBSY).
//
// The copy costs a read of the binary (a few milliseconds for a
// boxcraft of ~10 MB, from the page cache).
func SealedExecutable() (*os.File, error) {
	self, err := os.Open("/proc/self/exe")
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
	// Seal it: no write, no change of size, and no further seal
	// changes, from anyone, through any descriptor or /proc path.
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
