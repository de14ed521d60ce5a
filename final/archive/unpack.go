package archive

// This file unpacks a tar into a folder, safely. An archive is someone
// else's, and it is unpacked as root, so a careless unpacker lets it
// write anywhere on the host:
//
//   - a name with ".." or an absolute name ("../../etc/cron.d/x",
//     "/etc/cron.d/x") names a file outside the folder;
//   - a symlink that points outside ("link -> /etc"), then an entry written
//     through it ("link/cron.d/x");
//   - a hard link to a file outside (to "/etc/shadow"), which makes the
//     host's file one of the container's, to read and write;
//   - a name that escapes through an earlier symlinked directory
//     ("usr/lib -> ../../..", "lib -> usr/lib", then "lib/x").
//
// Unpack refuses absolute names and names with a ".." part, hard link
// targets included. Then it never hands the kernel a whole path to follow
// from the host's "/": it opens the directory that holds each entry with
// openat2(2) and RESOLVE_BENEATH, from a descriptor of the folder, and the
// kernel follows symlinks only while they stay below it. The entry itself
// is made with an *at call on that directory and its last name, which
// never follows a symlink there: a symlink an earlier entry planted at the
// name is replaced, never written through.

import (
	"archive/tar"
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/spec"
)

// Options say how to unpack.
type Options struct {
	// UIDMap and GIDMap shift owners into a user namespace's ranges:
	// archive id N becomes the host id it maps to. Empty keeps the
	// archive's ids. With maps, device nodes and ACLs are refused.
	UIDMap, GIDMap []spec.IDMap
	// Overlay unpacks a layer: its whiteouts become overlayfs's.
	Overlay bool
}

// Unpack unpacks the tar r into the empty folder dir, safely. Folders the
// archive does not list are made owned by the container's root (id 0,
// mapped); dir itself keeps its owner unless the archive lists "./".
// Cancelling ctx stops it with an error that says it was interrupted;
// what it had unpacked stays, for the caller to remove.
func Unpack(ctx context.Context, r io.Reader, dir string, opt Options) error {
	u, err := newUnpacker(dir, opt)
	if err != nil {
		return err
	}
	defer unix.Close(u.root)
	defer u.dropParent()
	// A tar reader reads a 512-byte header, then the content, then the
	// padding: three reads a file, each a system call on a file or pipe,
	// without a buffer.
	buffered := bufio.NewReaderSize(interruptible{ctx, r}, 256<<10)
	u.filler = startFiller()
	err = u.entries(ctx, tar.NewReader(buffered))
	// Every file handed over is filled (or failed) before the folders'
	// times are set, or before Unpack returns. A file the filler failed
	// to fill came before any entry the unpacker failed on: its error is
	// the first.
	if filled := u.filler.finish(); filled != nil {
		err = filled
	}
	if err != nil {
		// An interrupt is the reason, whatever the read it broke said.
		return cmp.Or(interrupted(ctx), err)
	}
	return u.setDirTimes()
}

// entries makes each entry of the archive, in order.
func (u *unpacker) entries(ctx context.Context, archive *tar.Reader) error {
	for {
		if err := interrupted(ctx); err != nil {
			return err
		}
		hdr, err := archive.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		if err := u.entry(hdr, archive); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		if err := u.filler.failed(); err != nil {
			return err // a file handed over could not be filled
		}
	}
}

// unpacker is what Unpack keeps from one entry to the next.
type unpacker struct {
	root             int // O_PATH descriptor of the folder unpacked into
	opt              Options
	rootUID, rootGID int                 // the container's root, for folders made
	dirs             map[fileID]dirTimes // times to set once every entry is in
	buffer           []byte              // makeFile's, for every file
	filler           *filler             // fills small files beside it (filler.go)
	kept             keptParent          // the last entry's directory (parent.go)
	// The owner a file made here gets (the group may be its directory's),
	// and the umask its mode is made with: -1 when unknown, or when a
	// default ACL, not the umask, decides. setMetadata leaves out a chown
	// or chmod that would change nothing.
	euid, egid, umask int
}

// newUnpacker opens dir, which every entry's path starts from.
func newUnpacker(dir string, opt Options) (*unpacker, error) {
	uid, err := mapID(0, opt.UIDMap, "uid")
	if err != nil {
		return nil, fmt.Errorf("the container's root: %w", err)
	}
	gid, err := mapID(0, opt.GIDMap, "gid")
	if err != nil {
		return nil, fmt.Errorf("the container's root: %w", err)
	}
	// A descriptor of the folder is what every entry's path starts from:
	// RESOLVE_BENEATH keeps each path below it.
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s to unpack into: %w", dir, err)
	}
	u := &unpacker{root: root, opt: opt, rootUID: uid, rootGID: gid,
		dirs: map[fileID]dirTimes{}, buffer: make([]byte, 128<<10),
		kept: keptParent{fd: -1}, euid: unix.Geteuid(), egid: unix.Getegid(), umask: processUmask()}
	// A default ACL on the folder, not the umask, gives new files their
	// modes: then every mode is set.
	if n, err := unix.Getxattr(dir, aclDefault, nil); err == nil && n > 0 {
		u.umask = -1
	}
	return u, nil
}

// interruptible reads the archive until ctx is done. Then a read fails,
// and with it the unpacking.
type interruptible struct {
	ctx context.Context
	io.Reader
}

func (r interruptible) Read(p []byte) (int, error) {
	if err := interrupted(r.ctx); err != nil {
		return 0, err
	}
	return r.Reader.Read(p)
}

// interrupted is the error of an unpacking whose ctx is done.
func interrupted(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("unpacking interrupted: %w", err)
	}
	return nil
}

// entry makes one entry of the archive below the folder.
func (u *unpacker) entry(hdr *tar.Header, content io.Reader) error {
	name, err := checkEntry(hdr)
	if err != nil || name == "" {
		return err
	}
	if u.opt.Overlay && isAufsMetadata(name) {
		return nil // aufs's own bookkeeping, which no container sees
	}
	parent, base, err := u.parent(name) // parent.go: not to be closed
	if err != nil {
		return err
	}
	switch {
	case u.opt.Overlay && strings.HasPrefix(base, whiteoutPrefix):
		return u.whiteout(parent, base) // whiteout.go
	case hdr.Typeflag == tar.TypeLink:
		return u.makeHardLink(parent, base, hdr.Linkname)
	case hdr.Typeflag == tar.TypeDir && name == ".":
		// The root entry ("./") is the directory kept for the files
		// that follow it, and may change the group they get (setgid):
		// it is looked at again for them.
		defer u.dropParent()
		return u.makeDir(parent, base, name, hdr)
	case hdr.Typeflag == tar.TypeDir:
		return u.makeDir(parent, base, name, hdr)
	case hdr.Typeflag == tar.TypeReg:
		return u.makeFile(parent, base, hdr, content)
	}
	if err := makeRoom(parent, base, false); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return u.makeSymlink(parent, base, hdr)
	default:
		return u.makeNode(parent, base, hdr)
	}
}

// checkEntry returns the entry's clean name, or "" for an entry that is
// no file, or refuses it.
func checkEntry(hdr *tar.Header) (string, error) {
	switch hdr.Typeflag {
	// archive/tar reads the old regular-file type '\x00' as TypeReg.
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeXGlobalHeader:
		// PAX defaults for the entries after it, not a file: GNU tar
		// names it /tmp/GlobalHead.PID.N, which is no name to check.
		return "", nil
	default:
		return "", fmt.Errorf("type %q is not supported", hdr.Typeflag)
	}
	name, err := checkName(hdr.Name)
	if err != nil {
		return "", err
	}
	if isSparse(hdr) {
		// A few bytes of archive could ask for terabytes of zeros.
		return "", errors.New("sparse files are not supported")
	}
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return "", errors.New("the folder unpacked into can only be a directory")
	}
	return name, nil
}

// checkName turns an entry's name into a clean path relative to the
// folder ("." for the folder itself), or refuses it.
func checkName(name string) (string, error) {
	if name == "" {
		return "", errors.New("the name is empty")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("the name is absolute, so it leads outside the folder unpacked into")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New("the name leads outside the folder unpacked into")
		}
	}
	return path.Clean(name), nil
}

// isSparse tells a GNU sparse file in PAX records, which archive/tar
// would hand over as a regular file, holes filled with zeros.
func isSparse(hdr *tar.Header) bool {
	for key := range hdr.PAXRecords {
		if strings.HasPrefix(key, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// openParent opens the directory that holds name's last part, beneath the
// folder, and returns it with that last part. Folders the archive did not
// list before the entry are made, as GNU tar makes them.
func (u *unpacker) openParent(name string) (int, string, error) {
	parent, err := openBeneath(u.root, path.Dir(name))
	if errors.Is(err, unix.ENOENT) {
		if err = u.makeFolders(path.Dir(name)); err == nil {
			parent, err = openBeneath(u.root, path.Dir(name))
		}
	}
	if err != nil {
		return -1, "", err
	}
	return parent, path.Base(name), nil
}

// makeFolders makes each missing folder on the way to dir, mode 0755 (the
// umask allowing) and owned by the container's root, as GNU tar makes
// them when that root unpacks.
func (u *unpacker) makeFolders(dir string) error {
	parts := strings.Split(dir, "/")
	for i := range parts {
		parent, err := openBeneath(u.root, path.Join(append([]string{"."}, parts[:i]...)...))
		if err != nil {
			return err
		}
		// mkdirat makes the folder in parent, beneath the folder; EEXIST
		// when it is there already. fchownat gives it to the container's
		// root, not following a symlink (there is none: the folder is new).
		err = unix.Mkdirat(parent, parts[i], 0o755)
		if err == nil && len(u.opt.UIDMap) > 0 {
			err = unix.Fchownat(parent, parts[i], u.rootUID, u.rootGID, unix.AT_SYMLINK_NOFOLLOW)
		}
		unix.Close(parent)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("making its folder %q: %w", path.Join(parts[:i+1]...), err)
		}
	}
	return nil
}

// openBeneath opens the directory at name below root with openat2(2).
// RESOLVE_BENEATH makes the kernel refuse, with EXDEV, any step that
// would leave root: an absolute symlink, or a ".." that climbs above it.
// Symlinks that stay below root are followed, as the container will see
// them. RESOLVE_NO_MAGICLINKS refuses /proc's links, which jump anywhere.
// The result is an O_PATH descriptor, good for *at calls and no more.
func openBeneath(root int, name string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(root, name, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EAGAIN) && try < 100:
			continue // a rename on the host raced with a "..": try again
		case errors.Is(err, unix.EXDEV):
			return -1, errors.New("its path leads outside the folder unpacked into through a symlink")
		default:
			return -1, fmt.Errorf("opening its directory %q: %w", name, err)
		}
	}
}

// makeRoom clears base for a new entry. A directory over a directory is
// kept, with what it holds. Anything else there is removed, a symlink
// included: unlinkat removes the link itself, so a symlink an earlier
// entry planted here cannot redirect this entry.
func makeRoom(parent int, base string, isDir bool) error {
	var st unix.Stat_t
	// AT_SYMLINK_NOFOLLOW: look at base itself, not where a symlink points.
	err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking at what is there: %w", err)
	}
	wasDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if wasDir && isDir {
		return nil
	}
	flags := 0
	if wasDir {
		flags = unix.AT_REMOVEDIR // rmdir: an empty directory only
	}
	err = unix.Unlinkat(parent, base, flags)
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		return errors.New("a directory that is not empty is in the way")
	}
	if err != nil {
		return fmt.Errorf("removing what is there: %w", err)
	}
	return nil
}
