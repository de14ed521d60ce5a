package rootfs

import (
	"golang.org/x/sys/unix"
)

// remountReadOnly makes the mount at path read-only.
func remountReadOnly(path string) error {
	return remount(path, unix.MS_RDONLY)
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
