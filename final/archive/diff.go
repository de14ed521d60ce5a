package archive

// This file writes the other way: a container's upper layer, overlayfs's
// record of what the container changed, as an image layer's tar
// (step05-layers' commit). overlayfs's whiteouts become .wh. files again
// (see whiteout.go), and with a user namespace the owners move back from
// the host's ids to the container's.

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// Diff writes the upper layer upper as an image layer's tar: its files as
// they are, overlayfs's whiteouts (character devices 0:0) as .wh.NAME, an
// opaque folder with .wh..wh..opq in it, overlayfs's own extended
// attributes left out. With id maps, owners move back from the host's ids
// to the container's, and an owner outside the maps is refused. A file of
// the container's own named .wh.… is refused: the layer would delete a
// file. Cancelling ctx stops it.
func Diff(ctx context.Context, w io.Writer, upper string, uidMap, gidMap []spec.IDMap) error {
	d := &differ{archive: tar.NewWriter(w), upper: upper, uidMap: uidMap, gidMap: gidMap, names: map[fileID]string{},
		buffer: make([]byte, 128<<10)}
	err := filepath.WalkDir(upper, func(path string, _ fs.DirEntry, err error) error {
		if err != nil || path == upper {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		name, _ := filepath.Rel(upper, path)
		return d.entry(path, name)
	})
	if err != nil {
		return err // names the file, relative to upper: the container's name for it
	}
	return d.archive.Close()
}

// differ is one Diff's work.
type differ struct {
	archive        *tar.Writer
	upper          string
	uidMap, gidMap []spec.IDMap
	names          map[fileID]string // the first name of each file with several
	buffer         []byte            // copyFile's, for every file
}

// entry writes one file of the upper layer: a whiteout, or the file.
func (d *differ) entry(path, name string) error {
	// In a layer, .wh.NAME deletes NAME, and .wh..wh..opq hides a
	// folder's lower content: a file the container named so would
	// silently delete what it never deleted.
	if strings.HasPrefix(filepath.Base(name), whiteoutPrefix) {
		return fmt.Errorf("%s: the container made a file whose name starts with %s, which an image layer reads as a whiteout (a deletion): rename it, and commit again", name, whiteoutPrefix)
	}
	var st unix.Stat_t
	// lstat: a symlink is archived as itself, never followed.
	if err := unix.Lstat(path, &st); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		// A whiteout: an empty file named .wh.NAME says "deleted".
		return d.archive.WriteHeader(whiteoutHeader(filepath.Join(filepath.Dir(name), whiteoutPrefix+filepath.Base(name)), st))
	}
	hdr, err := d.header(path, name, st)
	if err != nil || hdr == nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		if err := checkSparse(st.Size, st.Blocks*512, Limits{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := d.archive.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := d.copyFile(path, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir && isOpaque(path) {
		return d.archive.WriteHeader(whiteoutHeader(filepath.Join(name, opaqueWhiteout), st))
	}
	return nil
}

// whiteoutHeader is the header of a whiteout file: empty, root's, with
// the time of the change.
func whiteoutHeader(name string, st unix.Stat_t) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX}
}

// header is the tar header of one file of the upper layer, or nil for a
// socket, which no archive holds.
func (d *differ) header(path, name string, st unix.Stat_t) (*tar.Header, error) {
	// No access time, as Docker writes none: reading a file changes it,
	// so a layer would differ from itself, and it costs each file a PAX
	// record. The unpacker gives the modification time for both.
	hdr := &tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), ModTime: time.Unix(st.Mtim.Unix()), Format: tar.FormatPAX}
	var err error
	if hdr.Uid, err = unmapID(int(st.Uid), d.uidMap, "uid"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if hdr.Gid, err = unmapID(int(st.Gid), d.gidMap, "gid"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ok, err := d.setType(hdr, path, name, st); err != nil || !ok {
		return nil, err
	}
	if hdr.Typeflag == tar.TypeLink {
		return hdr, nil // the first name carries the attributes
	}
	if hdr.PAXRecords, err = layerXattrs(path); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return hdr, nil
}

// setType fills in what kind of file hdr is, and what goes with it: a
// folder's trailing slash, a symlink's target, a file's size, a device's
// numbers. A second name of a file is a hard link to its first. It
// returns false for a socket, which is left out.
func (d *differ) setType(hdr *tar.Header, path, name string, st unix.Stat_t) (bool, error) {
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = os.Readlink(path); err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
	case unix.S_IFREG:
		id := fileID{st.Dev, st.Ino}
		if first, ok := d.names[id]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return true, nil
		}
		if st.Nlink > 1 {
			d.names[id] = name
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return false, nil
	}
	return true, nil
}

// unmapID gives the container's id for a host's uid or gid: the same id
// with no map, else the container id the map gives it.
func unmapID(id int, idMap []spec.IDMap, kind string) (int, error) {
	if len(idMap) == 0 {
		return id, nil
	}
	var ranges []string
	for _, m := range idMap {
		if id >= m.HostID && id-m.HostID < m.Size {
			return m.ContainerID + id - m.HostID, nil
		}
		ranges = append(ranges, fmt.Sprintf("%d-%d", m.HostID, m.HostID+m.Size-1))
	}
	return 0, fmt.Errorf("owner %s %d is outside the host's ids the container's %s map gives (%s)", kind, id, kind, strings.Join(ranges, ", "))
}

// layerXattrs reads a file's extended attributes as PAX records, but for
// overlayfs's own, which say what the upper layer is to overlayfs, not
// what the file is.
func layerXattrs(path string) (map[string]string, error) {
	// llistxattr: a symlink's own attributes, not its target's.
	size, err := unix.Llistxattr(path, nil)
	if err != nil || size == 0 {
		return nil, err
	}
	list := make([]byte, size)
	if size, err = unix.Llistxattr(path, list); err != nil {
		return nil, err
	}
	records := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(list[:size]), "\x00"), "\x00") {
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		value := make([]byte, 64<<10) // XATTR_SIZE_MAX: no value is longer
		n, err := unix.Lgetxattr(path, name, value)
		if err != nil {
			return nil, fmt.Errorf("extended attribute %s: %w", name, err)
		}
		records["SCHILY.xattr."+name] = string(value[:n])
	}
	if len(records) == 0 {
		return nil, nil
	}
	return records, nil
}

// isOpaque tells whether overlayfs marked a folder of the upper layer
// opaque: made anew where the layers below had one (rm -r, then mkdir).
func isOpaque(path string) bool {
	value := make([]byte, 1)
	// trusted.* attributes only the host's root reads: overlayfs keeps
	// its marks there so that no container can forge one.
	n, err := unix.Lgetxattr(path, "trusted.overlay.opaque", value)
	return err == nil && n == 1 && value[0] == 'y'
}

// copyFile copies a file's size bytes into the archive.
func (d *differ) copyFile(path string, size int64) error {
	// O_NOFOLLOW: the file lstat saw, never a symlink put in its place.
	// A bare descriptor: an *os.File would ask the kernel about it first
	// (fcntl, epoll), four system calls a file for nothing.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Exactly the size lstat saw, which the header says: a file that
	// grew meanwhile is cut there, one that shrank fails the copy. One
	// buffer for every file.
	_, err = io.CopyBuffer(d.archive, io.LimitReader(fdReader(fd), size), d.buffer)
	return err
}

// fdReader reads a descriptor with read(2) alone.
type fdReader int

func (fd fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}
