package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// root is the new root while it is set up: a descriptor of its top, from
// which every path inside it is resolved.
type root struct {
	fd int
	tr *trace.Tracer // --trace: the mounts are reported
}

// inRoot makes openat2(2) treat the root as "/": an absolute symlink, or
// "..", met on the way, stays inside it, as it will after pivot_root.
// Magic links (/proc/PID/fd/N) could point anywhere, and are refused.
const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// open resolves name, a path inside the root, and opens it with flags
// (O_PATH for a mount point). resolve adds to inRoot.
func (r root) open(name string, flags uint64, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: inRoot | resolve}
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	if rel == "" {
		rel = "."
	}
	for range 16 {
		fd, err := unix.Openat2(r.fd, rel, &how)
		// EAGAIN: a rename somewhere in the kernel raced the lookup,
		// which RESOLVE_IN_ROOT then refuses to trust. Look again.
		if !errors.Is(err, unix.EAGAIN) {
			return fd, err
		}
	}
	return -1, fmt.Errorf("resolve %s in the root: %w", name, unix.EAGAIN)
}

// mkdirAll makes the folder name inside the root, with any parent
// missing, and returns an O_PATH descriptor of it. Each parent is looked
// up from the root again, so a symlink among them resolves inside it. A
// dangling symlink on the way is followed as RESOLVE_IN_ROOT follows it,
// inside the root (/../../x is the root's /x), and what it names made
// there, as Docker makes a volume's target.
func (r root) mkdirAll(name string) (int, error) { return r.mkdirFollowing(name, 0) }

// maxLinks is as many symlinks as the kernel follows in one path (ELOOP).
const maxLinks = 40

func (r root) mkdirFollowing(name string, links int) (int, error) {
	const dir = unix.O_PATH | unix.O_DIRECTORY
	fd, err := r.open(name, dir, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	clean := path.Clean("/" + name)
	parent, err := r.mkdirFollowing(path.Dir(clean), links)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	err = unix.Mkdirat(parent, path.Base(clean), 0o755)
	if errors.Is(err, unix.EEXIST) && links < maxLinks {
		if target, ok := r.danglingLink(parent, path.Base(clean)); ok {
			return r.mkdirFollowing(target, links+1)
		}
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return r.open(name, dir, 0)
}

// danglingLink reads the symlink name in the folder dir, and returns
// what it names as a path inside the root: a relative target is taken
// from dir, whose path inside the root is its path less the root's.
func (r root) danglingLink(dir int, name string) (string, bool) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", false // not a symlink: something else is there
	}
	target := string(buf[:n])
	if path.IsAbs(target) {
		return target, true
	}
	rootPath, err1 := os.Readlink(fdPath(r.fd))
	dirPath, err2 := os.Readlink(fdPath(dir))
	inside, ok := strings.CutPrefix(dirPath, rootPath)
	if err1 != nil || err2 != nil || !ok {
		return "", false
	}
	return path.Join("/", inside, target), true
}

// mkfile makes an empty file name inside the root when it is missing (a
// mount point for a file), and returns an O_PATH descriptor of it.
func (r root) mkfile(name string) (int, error) {
	fd, err := r.open(name, unix.O_PATH, 0)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, err := r.mkdirAll(path.Dir(path.Clean("/" + name)))
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if err := makeFileAt(parent, path.Base(name)); err != nil {
		return -1, err
	}
	return r.open(name, unix.O_PATH, 0)
}

// makeFileAt makes the empty file name in the folder dir. O_NOFOLLOW|
// O_EXCL: a symlink there is not followed.
func makeFileAt(dir int, name string) error {
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// fdPath names what fd refers to for mount(2), which takes paths only:
// the kernel follows /proc/self/fd/N to the very file fd holds, whatever
// a path to it would resolve to now (runc mounts the same way). Before
// pivot_root, /proc is the host's, which names this process too.
func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// mountOn mounts onto the folder or file fd holds. A descriptor taken
// before the mount holds what is below it: to change the new mount
// (remount, mount_setattr), open its path again.
func mountOn(fd int, source, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, fdPath(fd), fstype, flags, data)
}
