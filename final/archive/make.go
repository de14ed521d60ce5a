package archive

// This file makes each kind of entry, in a directory already opened
// beneath the folder (unpack.go), at a name makeRoom cleared.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sys/unix"
)

// makeDir makes a directory, or keeps the one there, and sets its owner,
// mode and xattrs. Its times wait for the end (setDirTimes).
func (u *unpacker) makeDir(parent int, base, name string, hdr *tar.Header) error {
	// 0700 until chmod sets the archive's mode: no one else gets in first.
	// EEXIST: a directory there is kept, anything else cleared away.
	err := unix.Mkdirat(parent, base, 0o700)
	fresh := err == nil
	if errors.Is(err, unix.EEXIST) {
		if err := makeRoom(parent, base, true); err != nil {
			return err
		}
		err = unix.Mkdirat(parent, base, 0o700)
		fresh = err == nil
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("making the directory: %w", err)
	}
	// O_NOFOLLOW|O_DIRECTORY: open the directory at base, or fail.
	fd, err := unix.Openat(parent, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening the directory: %w", err)
	}
	defer unix.Close(fd)
	if err := u.setMetadata(parent, base, fd, hdr, made{owner: fresh}); err != nil {
		return err
	}
	// fstat: its device and inode, to find it again at the end.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("looking at the directory: %w", err)
	}
	id := fileID{st.Dev, st.Ino}
	u.dirs[id] = dirTimes{entry: hdr.Name, name: name, id: id, times: timesOf(hdr)}
	return nil
}

// makeFile makes a regular file and copies its content from the archive.
func (u *unpacker) makeFile(parent int, base string, hdr *tar.Header, content io.Reader) error {
	// Made with the archive's mode, unless it has setuid, setgid or sticky
	// bits, which wait for chmod, after chown (which clears them).
	perm := uint32(0o600)
	if hdr.Mode&0o7000 == 0 {
		perm = uint32(hdr.Mode & 0o777)
	}
	fd, err := createFile(parent, base, perm)
	if errors.Is(err, unix.EEXIST) {
		// Something is there: clear it away, and make the file again.
		if err := makeRoom(parent, base, false); err != nil {
			return err
		}
		fd, err = createFile(parent, base, perm)
	}
	if err != nil {
		return fmt.Errorf("creating the file: %w", err)
	}
	// The umask took nothing from perm: the mode is the archive's already.
	exact := u.umask >= 0 && perm == uint32(hdr.Mode&0o7777) && int(perm)&u.umask == 0
	m, err := u.metadataOf(hdr, made{owner: true, mode: exact})
	if err == nil && hdr.Size <= fillSize && !hasXattrs(hdr) {
		return u.filler.take(fd, hdr, content, m) // the filler closes fd
	}
	if err == nil {
		err = u.fillFile(fd, parent, base, hdr, content, m)
	}
	// close(2) may report a write that failed only then (a full disk).
	if closeErr := unix.Close(fd); err == nil && closeErr != nil {
		err = fmt.Errorf("closing the file: %w", closeErr)
	}
	return err
}

// fillFile copies the file's content from the archive into fd, and sets
// its owner, mode, xattrs and times: a large file's, or one with xattrs,
// which the filler leaves.
func (u *unpacker) fillFile(fd, parent int, base string, hdr *tar.Header, content io.Reader, m metadata) error {
	// The tar reader gives exactly hdr.Size bytes, or an error. One
	// buffer serves every file: io.Copy would make one for each.
	if _, err := io.CopyBuffer(fdWriter(fd), content, u.buffer); err != nil {
		return fmt.Errorf("copying its content: %w", err)
	}
	if err := m.setOwnerAndMode(parent, base, fd); err != nil {
		return err
	}
	if err := u.setXattrs(parent, base, fd, hdr); err != nil {
		return err
	}
	return m.setTimes(parent, base, fd)
}

// hasXattrs says whether the archive gives the entry extended attributes.
func hasXattrs(hdr *tar.Header) bool {
	for key := range hdr.PAXRecords {
		if strings.HasPrefix(key, "SCHILY.xattr.") {
			return true
		}
	}
	return false
}

// createFile makes a new file at base in parent, open for writing.
// O_CREAT|O_EXCL makes a new file or fails with EEXIST: it never opens
// one that is there, and O_NOFOLLOW refuses a symlink at base, so nothing
// is ever written through a link.
func createFile(parent int, base string, perm uint32) (int, error) {
	return unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
}

// fdWriter writes to a descriptor with write(2) alone. An *os.File would
// first ask the kernel (fcntl) whether the descriptor blocks: a system
// call a file.
type fdWriter int

func (fd fdWriter) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := unix.Write(int(fd), p[written:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return written, err
		}
		written += n
	}
	return written, nil
}

// makeSymlink makes a symlink. symlinkat stores the target as text and
// resolves nothing: a target outside the folder is harmless until
// something is written through it, and openBeneath refuses that.
func (u *unpacker) makeSymlink(parent int, base string, hdr *tar.Header) error {
	if err := unix.Symlinkat(hdr.Linkname, parent, base); err != nil {
		return fmt.Errorf("making the symlink: %w", err)
	}
	return u.setMetadata(parent, base, -1, hdr, made{})
}

// makeHardLink gives the file at target a second name, base. The target
// is checked and resolved as an entry's name is: a hard link to a file of
// the host's would give the container that very file.
func (u *unpacker) makeHardLink(parent int, base, target string) error {
	clean, err := checkName(target)
	if err != nil {
		return fmt.Errorf("link target %q: %w", target, err)
	}
	targetParent, targetBase, err := u.openParent(clean)
	if err != nil {
		return fmt.Errorf("link target %q: %w", target, err)
	}
	defer unix.Close(targetParent)
	var st unix.Stat_t
	if err := unix.Fstatat(targetParent, targetBase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("link target %q: %w", target, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("link target %q is a directory", target)
	}
	if err := makeRoom(parent, base, false); err != nil {
		return err
	}
	// linkat with flags 0 links targetBase itself, a symlink included,
	// never what a symlink points to.
	if err := unix.Linkat(targetParent, targetBase, parent, base, 0); err != nil {
		return fmt.Errorf("linking to %q: %w", target, err)
	}
	return nil
}

// makeNode makes a character or block device node, or a FIFO.
func (u *unpacker) makeNode(parent int, base string, hdr *tar.Header) error {
	kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
	var dev uint64
	if kind != unix.S_IFIFO {
		// mknod's device number holds a 12-bit major and a 20-bit minor.
		if hdr.Devmajor < 0 || hdr.Devmajor >= 1<<12 || hdr.Devminor < 0 || hdr.Devminor >= 1<<20 {
			return fmt.Errorf("device number %d,%d is out of range", hdr.Devmajor, hdr.Devminor)
		}
		dev = unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	}
	// A device node gives whoever may open it the device: the host's
	// disks, say. The kernel lets only the host's root make one, and so
	// never the root of a user namespace. The unpacker runs as the host's
	// root, but with id maps it makes the image's files the container's:
	// it must not make the container a node its root could never have made.
	if kind != unix.S_IFIFO && len(u.opt.UIDMap) > 0 {
		return errors.New("a device node, which the root of a user namespace may not have: run this image without a user namespace")
	}
	// mknodat makes the node at base in parent.
	err := unix.Mknodat(parent, base, kind|0o600, int(dev))
	if errors.Is(err, unix.EPERM) && kind != unix.S_IFIFO {
		return fmt.Errorf("cannot make a device node here (%v): inside a user namespace, only the host's root may", err)
	}
	if err != nil {
		return fmt.Errorf("making the node: %w", err)
	}
	return u.setMetadata(parent, base, -1, hdr, made{})
}
