package archive

// This file gives each entry the archive's owner, mode, xattrs and times.

import (
	"archive/tar"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// aclDefault is the xattr of a directory's default ACL: where there is
// one, it gives files made in it their modes, and the umask does not.
const aclDefault = "system.posix_acl_default"

// fileID tells one file from every other: its device and inode numbers.
type fileID struct{ dev, ino uint64 }

// dirTimes is a directory's times, waiting for the end of the archive.
type dirTimes struct {
	entry string // as the archive names it, for errors
	name  string // clean, relative to the folder
	id    fileID
	times []unix.Timespec
}

// made is what the unpacker knows of a file it has just made in the
// directory kept (parent.go): its owner (the unpacker's user, and the
// group the directory gives), and whether its mode is the archive's.
type made struct{ owner, mode bool }

// setMetadata gives base the archive's owner, mode, xattrs and (but for a
// directory) times, as GNU tar does when root unpacks. fd is an open
// descriptor of base for a directory or a regular file, -1 for the rest.
// A chown or chmod that would change nothing is left out: a system call
// of a file's few.
func (u *unpacker) setMetadata(parent int, base string, fd int, hdr *tar.Header, known made) error {
	m, err := u.metadataOf(hdr, known)
	if err != nil {
		return err
	}
	if err := m.setOwnerAndMode(parent, base, fd); err != nil {
		return err
	}
	if err := u.setXattrs(parent, base, fd, hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return m.setTimes(parent, base, fd)
}

// metadata is what setMetadata sets but the xattrs, worked out before
// any of it is set: the filler (filler.go) sets a file's later, on
// another goroutine.
type metadata struct {
	chown, chmod bool // whether to: made says what is so already
	uid, gid     int  // the host's ids
	mode         uint32
	symlink      bool // which has no mode of its own
	times        []unix.Timespec
}

// metadataOf works out an entry's metadata.
func (u *unpacker) metadataOf(hdr *tar.Header, known made) (metadata, error) {
	uid, err := mapID(hdr.Uid, u.opt.UIDMap, "uid")
	if err != nil {
		return metadata{}, err
	}
	gid, err := mapID(hdr.Gid, u.opt.GIDMap, "gid")
	if err != nil {
		return metadata{}, err
	}
	return metadata{
		chown: !known.owner || uid != u.euid || gid != u.kept.gid, uid: uid, gid: gid,
		chmod: !known.mode, mode: uint32(hdr.Mode & 0o7777), symlink: hdr.Typeflag == tar.TypeSymlink,
		times: timesOf(hdr),
	}, nil
}

// setOwnerAndMode sets the owner, then the mode: chown clears the setuid
// and setgid bits. Through fd when it is open, else base in parent.
func (m metadata) setOwnerAndMode(parent int, base string, fd int) error {
	if m.chown {
		var err error
		if fd >= 0 {
			err = unix.Fchown(fd, m.uid, m.gid)
		} else {
			// AT_SYMLINK_NOFOLLOW: a symlink's own owner, not its target's.
			err = unix.Fchownat(parent, base, m.uid, m.gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			return fmt.Errorf("setting its owner to %d:%d: %w", m.uid, m.gid, err)
		}
	}
	if !m.chmod {
		return nil
	}
	var err error
	switch {
	case fd >= 0:
		err = unix.Fchmod(fd, m.mode)
	case !m.symlink: // a symlink has no mode of its own
		// fchmodat always follows a symlink at base, but base is the node
		// makeNode has just made.
		err = unix.Fchmodat(parent, base, m.mode, 0)
	}
	if err != nil {
		return fmt.Errorf("setting its mode to %04o: %w", m.mode, err)
	}
	return nil
}

// setTimes sets the times, through fd when it is open, else base in
// parent.
func (m metadata) setTimes(parent int, base string, fd int) error {
	if err := setTimes(parent, base, fd, m.times); err != nil {
		return fmt.Errorf("setting its times: %w", err)
	}
	return nil
}

// setTimes sets a file's access and modification times: through fd, its
// open descriptor, when it has one, else base in parent, not following a
// symlink there (a symlink's own times, not its target's).
func setTimes(parent int, base string, fd int, times []unix.Timespec) error {
	if fd < 0 {
		return unix.UtimesNanoAt(parent, base, times, unix.AT_SYMLINK_NOFOLLOW)
	}
	// utimensat(2) with no name sets the times of fd itself, as glibc's
	// futimens does (x/sys/unix has no futimens): no name to look up.
	_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&times[0])), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// mapID gives the host's id for an owner's uid or gid in the archive: the
// same id with no map, else the host id the map gives it.
func mapID(id int, idMap []spec.IDMap, kind string) (int, error) {
	// (uid_t)-1 tells chown "leave it": it is no one's id.
	if id < 0 || int64(id) >= 1<<32-1 {
		return 0, fmt.Errorf("owner %s %d is not a valid id", kind, id)
	}
	if len(idMap) == 0 {
		return id, nil
	}
	var ranges []string
	for _, m := range idMap {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return m.HostID + id - m.ContainerID, nil
		}
		ranges = append(ranges, fmt.Sprintf("%d-%d", m.ContainerID, m.ContainerID+m.Size-1))
	}
	return 0, fmt.Errorf("owner %s %d is outside the container's %s map (%s)", kind, id, kind, strings.Join(ranges, ", "))
}

// setXattrs sets the extended attributes the archive's PAX records carry
// as "SCHILY.xattr.NAME", the way GNU tar --xattrs writes them.
func (u *unpacker) setXattrs(parent int, base string, fd int, hdr *tar.Header) error {
	var names []string
	for key := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(key, "SCHILY.xattr."); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names) // the first refusal is the same every time
	for _, name := range names {
		if err := u.checkXattr(name); err != nil {
			return err
		}
		if name == aclDefault {
			u.umask = -1 // from here on, the ACL makes new files' modes
		}
		value := []byte(hdr.PAXRecords["SCHILY.xattr."+name])
		var err error
		if fd >= 0 {
			err = unix.Fsetxattr(fd, name, value, 0)
		} else {
			// No descriptor (opening a device would wake its driver): name
			// base in the parent's descriptor through /proc, and lsetxattr
			// sets a symlink's own attribute, not its target's.
			err = unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(parent)+"/"+base, name, value, 0)
		}
		if err != nil {
			return fmt.Errorf("setting extended attribute %q: %w", name, err)
		}
	}
	return nil
}

// checkXattr refuses the attributes an archive may not set.
func (u *unpacker) checkXattr(name string) error {
	// Only the unpacker marks a layer for overlayfs (whiteout.go): an
	// archive that did would tell overlayfs what to hide or where to look.
	// Refused in a rootfs too, which may yet become a layer.
	if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
		return fmt.Errorf("extended attribute %q: overlayfs's own, which a layer may not carry", name)
	}
	// An ACL names users and groups by the host's ids, which the user
	// namespace's map would have to move too.
	if len(u.opt.UIDMap) > 0 && strings.HasPrefix(name, "system.posix_acl_") {
		return fmt.Errorf("extended attribute %q: an ACL, which names ids the user namespace would move: run this image without a user namespace", name)
	}
	return nil
}

// timesOf is an entry's access and modification times, for utimensat. An
// archive with no access time gets its modification time for both.
func timesOf(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
}

// setDirTimes sets every directory's times, last: writing into a
// directory sets its modification time to now, so a time set before the
// last entry in it would not last. They are set deepest first, each name
// resolved beneath the folder again.
func (u *unpacker) setDirTimes() error {
	dirs := make([]dirTimes, 0, len(u.dirs))
	for _, d := range u.dirs {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool {
		di, dj := strings.Count(dirs[i].name, "/"), strings.Count(dirs[j].name, "/")
		return di > dj || di == dj && dirs[i].name < dirs[j].name
	})
	for _, d := range dirs {
		if err := u.setDirTime(d); err != nil {
			return fmt.Errorf("entry %q: setting its times: %w", d.entry, err)
		}
	}
	return nil
}

// setDirTime sets one directory's times, unless its name no longer leads
// to it: a later entry replaced it, or a symlink on its path.
func (u *unpacker) setDirTime(d dirTimes) error {
	parent, base, err := u.openParent(d.name)
	if err != nil {
		return nil // the path to it is gone, and the directory with it
	}
	defer unix.Close(parent)
	var st unix.Stat_t
	err = unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) || err == nil && (st.Mode&unix.S_IFMT != unix.S_IFDIR || (fileID{st.Dev, st.Ino}) != d.id) {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.UtimesNanoAt(parent, base, d.times, unix.AT_SYMLINK_NOFOLLOW)
}
