package archive

// This file writes the other way: a container's upper layer, overlayfs's
// record of what the container changed, as an image layer's tar
// (step05-layers' commit). overlayfs's whiteouts become .wh. files again
// (see whiteout.go), and with a user namespace the owners move back from
// the host's ids to the container's.

import (
	"archive/tar"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
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
//
// leave is what the layer does not take (LeaveOut): files the runtime
// wrote into the root.
func Diff(ctx context.Context, w io.Writer, upper string, uidMap, gidMap []spec.IDMap, leave LeaveOut) error {
	d := &differ{ctx: ctx, archive: tar.NewWriter(w), uidMap: uidMap, gidMap: gidMap, names: map[fileID]string{},
		buffer: make([]byte, 128<<10), dirents: make([]byte, 64<<10), leave: newLeaving(leave)}
	dir, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the upper layer: %w", err)
	}
	defer unix.Close(dir)
	if err := d.walk(dir, ""); err != nil {
		return err // names the file, relative to upper: the container's name for it
	}
	return d.archive.Close()
}

// differ is one Diff's work.
type differ struct {
	ctx            context.Context
	archive        *tar.Writer
	uidMap, gidMap []spec.IDMap
	names          map[fileID]string // the first name of each file with several
	buffer         []byte            // copyFile's, for every file
	dirents        []byte            // readNames', for every folder
	hdr            tar.Header        // header's, for every file
	src            fdReader          // copyFile's, for every file
	content        io.LimitedReader  // copyFile's: src, up to the file's size
	leave          leaving           // leaveOut's
	// listed, when not nil, takes each header instead of the archive,
	// and no content is read (Changes).
	listed func(*tar.Header)
}

// writeHeader writes hdr into the archive, or hands it to listed.
func (d *differ) writeHeader(hdr *tar.Header) error {
	if d.listed != nil {
		d.listed(hdr)
		return nil
	}
	return d.archive.WriteHeader(hdr)
}

// walk writes the entries of the open folder dir, named name below the
// upper layer ("" for the top), in the order of their names, each folder
// followed by what it holds, as filepath.WalkDir orders them. Each file
// is looked at, opened and read by its name in dir (fstatat, openat):
// the kernel then looks one name up, not the whole path from "/" again,
// which cost a commit of 10,000 files a fifth of its time.
func (d *differ) walk(dir int, name string) error {
	names, err := d.readNames(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", cmp.Or(name, "."), err)
	}
	return d.walkNames(dir, name, names)
}

// walkNames writes the entries names of the open folder dir (walk).
func (d *differ) walkNames(dir int, name string, names []string) error {
	for _, base := range names {
		if err := d.ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if d.leave.file(path.Join(name, base)) {
			continue
		}
		if err := d.entry(dir, base, path.Join(name, base)); err != nil {
			return err
		}
	}
	return nil
}

// readNames reads the names in the folder dir, sorted.
func (d *differ) readNames(dir int) ([]string, error) {
	var names []string
	for {
		// getdents64: the folder's entries, as many as fit.
		n, err := unix.ReadDirent(dir, d.dirents)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(d.dirents[:n], -1, names) // leaves out . and ..
	}
	slices.Sort(names)
	return names, nil
}

// entry writes one file of the upper layer, base in the folder dir: a
// whiteout, or the file, and a folder's content after it.
func (d *differ) entry(dir int, base, name string) error {
	// In a layer, .wh.NAME deletes NAME, and .wh..wh..opq hides a
	// folder's lower content: a file the container named so would
	// silently delete what it never deleted.
	if strings.HasPrefix(base, whiteoutPrefix) {
		return fmt.Errorf("%s: the container made a file whose name starts with %s, which an image layer reads as a whiteout (a deletion): rename it, and commit again", name, whiteoutPrefix)
	}
	var st unix.Stat_t
	// AT_SYMLINK_NOFOLLOW: a symlink is archived as itself, never followed.
	if err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		// A whiteout: an empty file named .wh.NAME says "deleted".
		return d.writeHeader(whiteoutHeader(path.Join(path.Dir(name), whiteoutPrefix+base), st))
	}
	f, err := openFile(dir, base, st)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if f.fd >= 0 {
		defer unix.Close(f.fd)
	}
	var names []string // a folder's, read before its header: it may be left out
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if names, err = d.readNames(f.fd); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if d.leave.folder(name, names, &st) && !isOpaque(f.fd) {
			return nil
		}
	}
	hdr, err := d.header(f, name, st)
	if err != nil || hdr == nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		if err := checkSparse(st.Size, st.Blocks*512, Limits{}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := d.writeHeader(hdr); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > 0 && d.listed == nil {
			if err := d.copyFile(f.fd, hdr.Size); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	case tar.TypeDir:
		if isOpaque(f.fd) {
			if err := d.writeHeader(whiteoutHeader(path.Join(name, opaqueWhiteout), st)); err != nil {
				return err
			}
		}
		return d.walkNames(f.fd, name, names)
	}
	return nil
}

// file is a file of the upper layer: base in the open folder dir, and a
// descriptor of it, or -1 (a symlink, a device, a FIFO, an empty file).
type file struct {
	dir  int
	base string
	fd   int
}

// openFile opens base in the folder dir, which fstatat saw as st, when
// it is a folder or a file with content: both are read through a
// descriptor, and their extended attributes too. O_NOFOLLOW: the file
// fstatat saw, never a symlink put in its place; O_DIRECTORY and
// O_NONBLOCK: nor a FIFO, which would block the open. The rest keep no
// descriptor (fd -1).
func openFile(dir int, base string, st unix.Stat_t) (file, error) {
	f := file{dir: dir, base: base, fd: -1}
	flags := -1
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		flags = unix.O_DIRECTORY
	case unix.S_IFREG:
		if st.Size > 0 {
			flags = unix.O_NONBLOCK
		}
	}
	if flags < 0 {
		return f, nil
	}
	fd, err := unix.Openat(dir, base, flags|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	f.fd = fd
	return f, err
}

// procPath names the file without a descriptor of its own, beneath its
// folder's descriptor, for the calls that have no *at form (the xattrs'
// l* calls, which do not follow a symlink at the last name).
func (f file) procPath() string {
	return "/proc/self/fd/" + strconv.Itoa(f.dir) + "/" + f.base
}

// whiteoutHeader is the header of a whiteout file: empty, root's, with
// the time of the change.
func whiteoutHeader(name string, st unix.Stat_t) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: modTime(st), Format: tar.FormatPAX}
}

// modTime is a file's modification time to the second, as Docker (and
// containerd, and umoci) write it: a time with nanoseconds needs a PAX
// record, and so two more blocks of 512 bytes for every file (10 MB more
// tar for 10,000 small files), where a whole second fits the header's own
// field.
func modTime(st unix.Stat_t) time.Time { return time.Unix(st.Mtim.Sec, 0) }

// header is the tar header of one file of the upper layer, or nil for a
// socket, which no archive holds.
func (d *differ) header(f file, name string, st unix.Stat_t) (*tar.Header, error) {
	// No access time, as Docker writes none: reading a file changes it,
	// so a layer would differ from itself, and it costs each file a PAX
	// record. The unpacker gives the modification time for both.
	// One header for every file (WriteHeader copies it): a header of
	// its own for each of 10,000 files kept the garbage collector busy.
	d.hdr = tar.Header{Name: name, Mode: int64(st.Mode & 0o7777), ModTime: modTime(st), Format: tar.FormatPAX}
	hdr := &d.hdr
	var err error
	if hdr.Uid, err = unmapID(int(st.Uid), d.uidMap, "uid"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if hdr.Gid, err = unmapID(int(st.Gid), d.gidMap, "gid"); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if ok, err := d.setType(hdr, f, name, st); err != nil || !ok {
		return nil, err
	}
	if hdr.Typeflag == tar.TypeLink {
		return hdr, nil // the first name carries the attributes
	}
	if hdr.PAXRecords, err = layerXattrs(f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return hdr, nil
}

// setType fills in what kind of file hdr is, and what goes with it: a
// folder's trailing slash, a symlink's target, a file's size, a device's
// numbers. A second name of a file is a hard link to its first. It
// returns false for a socket, which is left out.
func (d *differ) setType(hdr *tar.Header, f file, name string, st unix.Stat_t) (bool, error) {
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		if hdr.Linkname, err = readlinkAt(f.dir, f.base); err != nil {
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
// what the file is. Through its descriptor when it has one (flistxattr),
// else by its name beneath its folder's (llistxattr: a symlink's own
// attributes, not its target's).
func layerXattrs(f file) (map[string]string, error) {
	list := func(dest []byte) (int, error) { return unix.Llistxattr(f.procPath(), dest) }
	get := func(name string, dest []byte) (int, error) { return unix.Lgetxattr(f.procPath(), name, dest) }
	if f.fd >= 0 {
		list = func(dest []byte) (int, error) { return unix.Flistxattr(f.fd, dest) }
		get = func(name string, dest []byte) (int, error) { return unix.Fgetxattr(f.fd, name, dest) }
	}
	size, err := list(nil)
	if err != nil || size == 0 {
		return nil, err
	}
	names := make([]byte, size)
	if size, err = list(names); err != nil {
		return nil, err
	}
	records := map[string]string{}
	for _, name := range strings.Split(strings.TrimRight(string(names[:size]), "\x00"), "\x00") {
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		value := make([]byte, 64<<10) // XATTR_SIZE_MAX: no value is longer
		n, err := get(name, value)
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

// isOpaque tells whether overlayfs marked the open folder dir of the
// upper layer opaque: made anew where the layers below had one (rm -r,
// then mkdir).
func isOpaque(dir int) bool {
	value := make([]byte, 1)
	// trusted.* attributes only the host's root reads: overlayfs keeps
	// its marks there so that no container can forge one.
	n, err := unix.Fgetxattr(dir, "trusted.overlay.opaque", value)
	return err == nil && n == 1 && value[0] == 'y'
}

// readlinkAt reads the target of the symlink base in the folder dir.
func readlinkAt(dir int, base string) (string, error) {
	for size := 256; ; size *= 2 {
		target := make([]byte, size)
		n, err := unix.Readlinkat(dir, base, target)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(target[:n]), nil
		}
	}
}

// copyFile copies a file's size bytes, from its open descriptor fd,
// into the archive.
func (d *differ) copyFile(fd int, size int64) error {
	// Exactly the size fstatat saw, which the header says: a file that
	// grew meanwhile is cut there, one that shrank fails the copy. A bare
	// descriptor (an *os.File would ask the kernel about it first: fcntl,
	// epoll) and one buffer for every file.
	// The reader is the differ's own, as the buffer is: none is made for
	// each file.
	d.src = fdReader(fd)
	d.content = io.LimitedReader{R: &d.src, N: size}
	_, err := io.CopyBuffer(d.archive, &d.content, d.buffer)
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
