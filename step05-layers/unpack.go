// This file unpacks a layer of an image into a folder of the layer store,
// safely, converting its whiteouts for overlayfs (layers.go).
//
// An image is an archive someone else wrote, unpacked as root: a careless
// unpacker lets it write anywhere on the host, through a name with ".."
// or an absolute one (checkName), a symlink that points outside ("link ->
// /etc", then "link/cron.d/x": openBeneath, makeRoom), or a hard link to a
// file outside ("/etc/shadow": makeHardLink).

package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// unzip reads a layer's blob, plain or gzip-compressed: its first bytes
// tell which, whatever the image says.
func unzip(blob io.Reader) (io.Reader, error) {
	buffered := bufio.NewReader(blob)
	// A blob too short to peek at is no gzip: the tar reader says what it is.
	magic, _ := buffered.Peek(2)
	if !bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) {
		return buffered, nil
	}
	unzipped, err := gzip.NewReader(buffered)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return unzipped, nil
}

// unpack writes the tar stream r into dir, an existing empty folder:
// the container's rootfs. With id maps, archive id N becomes host id
// HostID+N; with nil maps, the archive's ids are kept.
func unpack(r io.Reader, dir string, uidMap, gidMap *syscall.SysProcIDMap) error {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", dir, err)
	}
	defer unix.Close(root)
	u := &unpacker{root: root, uidMap: uidMap, gidMap: gidMap}
	archive := tar.NewReader(r)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		if err := u.entry(hdr, archive); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// unpacker is what unpack keeps from one entry to the next.
type unpacker struct {
	root           int // O_PATH descriptor of the rootfs
	uidMap, gidMap *syscall.SysProcIDMap
}

// entry makes one entry of the archive in the rootfs.
func (u *unpacker) entry(hdr *tar.Header, content io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil // PAX defaults for the entries after it, not a file
	case tar.TypeChar, tar.TypeBlock:
		// A device node would give the container a device of the host's, a
		// disk say (boxcraft makes them without a user namespace: final/archive).
		return errors.New("a device node, which this runtime does not unpack")
	}
	name, err := checkName(hdr.Name)
	if err != nil {
		return err
	}
	for key := range hdr.PAXRecords {
		if strings.HasPrefix(key, "GNU.sparse.") {
			// archive/tar would fill the holes with zeros: a few bytes of
			// archive could ask for terabytes of them.
			return errors.New("sparse files are not supported")
		}
	}
	parent, err := openBeneath(u.root, path.Dir(name))
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	base := path.Base(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(parent, base) // layers.go
	}
	if hdr.Typeflag == tar.TypeLink {
		return u.makeHardLink(parent, base, hdr.Linkname)
	}
	if err := makeRoom(parent, base, hdr.Typeflag == tar.TypeDir); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return u.makeDir(parent, base, hdr)
	case tar.TypeReg:
		return u.makeFile(parent, base, hdr, content)
	case tar.TypeSymlink:
		// The target is only text: harmless until something is written
		// through it, which openBeneath refuses.
		err = unix.Symlinkat(hdr.Linkname, parent, base)
	case tar.TypeFifo:
		err = unix.Mknodat(parent, base, unix.S_IFIFO|0o600, 0)
	default: // archive/tar reads the old regular-file type '\x00' as TypeReg
		return fmt.Errorf("type %q is not supported", hdr.Typeflag)
	}
	if err != nil {
		return fmt.Errorf("make the entry: %w", err)
	}
	return u.setMetadata(parent, base, -1, hdr)
}

// checkName turns an entry's name into a clean path relative to the
// rootfs ("." for the rootfs itself), or refuses it.
func checkName(name string) (string, error) {
	if name == "" {
		return "", errors.New("the name is empty")
	}
	if strings.HasPrefix(name, "/") || slices.Contains(strings.Split(name, "/"), "..") {
		return "", errors.New("the name leads outside the rootfs")
	}
	return path.Clean(name), nil
}

// openBeneath opens the folder name below root with openat2(2), whose
// RESOLVE_BENEATH refuses (EXDEV) any step out of root, by an absolute
// symlink or a "..", and RESOLVE_NO_MAGICLINKS /proc's links, which jump
// anywhere. (boxcraft makes a folder the archive left out: final/archive.)
func openBeneath(root int, name string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(root, name, &how)
	for try := 0; errors.Is(err, unix.EAGAIN) && try < 100; try++ {
		fd, err = unix.Openat2(root, name, &how) // a rename raced with a "..": again
	}
	switch {
	case errors.Is(err, unix.EXDEV):
		return -1, errors.New("its path leads outside the rootfs through a symlink")
	case err != nil:
		return -1, fmt.Errorf("open its folder %q: %w", name, err)
	}
	return fd, nil
}

// makeRoom clears base for a new entry. A folder over a folder is
// kept; anything else there is removed, a symlink itself included, so a
// symlink an earlier entry planted cannot redirect this entry.
func makeRoom(parent int, base string, isDir bool) error {
	var st unix.Stat_t
	err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look at what is there: %w", err)
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if isDir {
			return nil
		}
		// rmdir: an empty folder only (ENOTEMPTY), and never "." (EINVAL),
		// so an entry "." that is no folder cannot replace the rootfs.
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(parent, base, flags); err != nil {
		return fmt.Errorf("remove what is there: %w", err)
	}
	return nil
}

// makeDir makes a folder, 0700 until setMetadata sets the archive's
// mode, or keeps the one there.
func (u *unpacker) makeDir(parent int, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(parent, base, 0o700)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("make the folder: %w", err)
	}
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the folder: %w", err)
	}
	defer unix.Close(fd)
	return u.setMetadata(parent, base, fd, hdr)
}

// makeFile makes a regular file and copies its content from the archive.
func (u *unpacker) makeFile(parent int, base string, hdr *tar.Header, content io.Reader) error {
	// O_CREAT|O_EXCL|O_NOFOLLOW: a new file or an error, never one that
	// is there, nor a symlink's target.
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create the file: %w", err)
	}
	file := os.NewFile(uintptr(fd), base)
	defer file.Close()
	if _, err := io.Copy(file, content); err != nil {
		return fmt.Errorf("copy its content: %w", err)
	}
	if err := u.setMetadata(parent, base, fd, hdr); err != nil {
		return err
	}
	return file.Close()
}

// makeHardLink gives the file at target a second name, base. The target is
// checked as a name is: a link to a host's file would be that very file.
func (u *unpacker) makeHardLink(parent int, base, target string) error {
	clean, err := checkName(target)
	if err != nil {
		return fmt.Errorf("link target %q: %w", target, err)
	}
	targetParent, err := openBeneath(u.root, path.Dir(clean))
	if err != nil {
		return fmt.Errorf("link target %q: %w", target, err)
	}
	defer unix.Close(targetParent)
	targetBase := path.Base(clean)
	if err := makeRoom(parent, base, false); err != nil {
		return err
	}
	// Flags 0: link targetBase itself, never what a symlink points to.
	// The kernel refuses a folder (EPERM).
	if err := unix.Linkat(targetParent, targetBase, parent, base, 0); err != nil {
		return fmt.Errorf("link to %q: %w", target, err)
	}
	return nil
}

// setMetadata gives base the archive's owner, mode and (but for a folder)
// times, as GNU tar does as root, but no extended attributes (final/archive
// sets them). fd is base open, for a folder or a regular file, or -1.
func (u *unpacker) setMetadata(parent int, base string, fd int, hdr *tar.Header) error {
	uid, err := mapID(hdr.Uid, u.uidMap, "uid")
	if err != nil {
		return err
	}
	gid, err := mapID(hdr.Gid, u.gidMap, "gid")
	if err != nil {
		return err
	}
	// AT_SYMLINK_NOFOLLOW: a symlink's own owner, not its target's.
	if err := unix.Fchownat(parent, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set its owner to %d:%d: %w", uid, gid, err)
	}
	// chmod after chown, since chown clears the setuid and setgid bits.
	mode := uint32(hdr.Mode & 0o7777)
	switch {
	case fd >= 0:
		err = unix.Fchmod(fd, mode)
	case hdr.Typeflag != tar.TypeSymlink: // a symlink has no mode of its own
		// fchmodat follows a symlink, but base is the FIFO just made.
		err = unix.Fchmodat(parent, base, mode, 0)
	}
	if err != nil {
		return fmt.Errorf("set its mode to %04o: %w", mode, err)
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil // each entry written in it would set them to now
	}
	atime := cmp.Or(hdr.AccessTime, hdr.ModTime) // the archive may not have it
	times := []unix.Timespec{
		{Sec: atime.Unix(), Nsec: int64(atime.Nanosecond())},
		{Sec: hdr.ModTime.Unix(), Nsec: int64(hdr.ModTime.Nanosecond())},
	}
	// AT_SYMLINK_NOFOLLOW: a symlink's own times, not its target's.
	if err := unix.UtimesNanoAt(parent, base, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set its times: %w", err)
	}
	return nil
}

// mapID gives the host's id for an owner's uid or gid in the archive: the
// same id with no map, HostID+id with one.
func mapID(id int, idMap *syscall.SysProcIDMap, kind string) (int, error) {
	// (uid_t)-1 tells chown "leave it": it is no one's id.
	if id < 0 || int64(id) >= 1<<32-1 {
		return 0, fmt.Errorf("owner %s %d is not a valid id", kind, id)
	}
	if idMap == nil {
		return id, nil
	}
	if id >= idMap.Size {
		return 0, fmt.Errorf("owner %s %d is outside the container's %s map (0-%d)", kind, id, kind, idMap.Size-1)
	}
	return idMap.HostID + id, nil
}
