package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// remountReadOnly makes the mount at path read-only.
func remountReadOnly(path string) error { return setReadOnly(path, false) }

// setReadOnly makes the mount at path read-only, and with recursive the
// mounts below it too, with mount_setattr(2): one call that changes that
// flag alone, where a remount reads the mount's flags first (statfs) to
// repeat them, and remountAll reads /proc/self/mountinfo to find the
// mounts below (issue 26: init's masked and read-only paths made five
// such reads a start). Before Linux 5.12 (ENOSYS), a remount does it;
// and where a sandbox's seccomp profile refuses the call (EPERM: one
// older than the call, or Docker's, which refuses what it does not name
// so), as it did before: the remount, which the sandbox allows or not,
// then answers.
func setReadOnly(path string, recursive bool) error {
	var flags uint
	if recursive {
		flags = unix.AT_RECURSIVE
	}
	err := unix.MountSetattr(unix.AT_FDCWD, path, flags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	refused := errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM)
	switch {
	case refused && recursive:
		return remountAll(path, unix.MS_RDONLY)
	case refused:
		return remount(path, unix.MS_RDONLY)
	case err != nil:
		return fmt.Errorf("mount_setattr read-only: %w", err)
	}
	return nil
}

// remount sets flags on the mount at path, keeping those it has.
// MS_REMOUNT|MS_BIND changes the flags of this one mount, not of the
// filesystem, which the host may have mounted elsewhere read-write. A
// remount sets every flag anew, and in a user namespace the kernel
// refuses to clear a flag the host set (nosuid, nodev, noexec, the atime
// ones): so the ones the mount has, read with statfs(2), are asked for
// again. A mount with neither relatime nor noatime is strictatime, which
// a remount must name too.
func remount(path string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	// The flags statfs reports (ST_*) and the mount flags (MS_*) that
	// a remount must repeat.
	kept := [...]struct {
		st int64
		ms uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	}
	flags |= unix.MS_REMOUNT | unix.MS_BIND
	for _, k := range kept {
		if st.Flags&k.st != 0 {
			flags |= k.ms
		}
	}
	if st.Flags&(unix.ST_RELATIME|unix.ST_NOATIME) == 0 && flags&(unix.MS_RELATIME|unix.MS_NOATIME) == 0 {
		flags |= unix.MS_STRICTATIME
	}
	return unix.Mount("", path, "", flags, "")
}

// remountAll sets flags on the mount at path and on every mount below
// it, as a kernel without mount_setattr(2)'s AT_RECURSIVE needs: a
// remount changes one mount, and a read-only bind whose submounts stayed
// writable would not be read-only. The mounts are read from
// /proc/self/mountinfo, parents first, as it lists them.
func remountAll(path string, flags uintptr) error {
	top, err := filepath.EvalSymlinks(path) // /proc/self/fd/N: where the mount is
	if err != nil {
		return err
	}
	points, err := mountPointsBelow(top)
	if err != nil {
		return err
	}
	for _, point := range points {
		if err := remount(point, flags); err != nil {
			return fmt.Errorf("remount %s: %w", point, err)
		}
	}
	return nil
}

// mountPointsBelow lists the mount points at top and below it.
func mountPointsBelow(top string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		// "ID PARENT MAJ:MIN ROOT POINT OPTIONS …"
		fields := strings.Fields(lines.Text())
		if len(fields) < 5 {
			continue
		}
		point := unescape(fields[4])
		if point == top || strings.HasPrefix(point, strings.TrimSuffix(top, "/")+"/") {
			points = append(points, point)
		}
	}
	return points, lines.Err()
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and
// backslash (\040 …).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
