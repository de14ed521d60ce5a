package network

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// writeInRoot writes a file inside root (changeInRoot).
func writeInRoot(root, file, content string, owner Owner) error {
	return changeInRoot(root, file, owner, func(string) string { return content })
}

// changeInRoot rewrites the file (etc/hosts) inside root, a container's
// root on the host, with what change makes of its content ("" when it
// has none), owned by owner. Its folder is resolved as the container
// resolves it (openat2 RESOLVE_IN_ROOT: an image's symlink leads within
// the root, never to the host's files), and made, owned by the
// container's root, when missing. The file itself is never followed or
// opened unless it is a regular file: an image's symlink there (to
// another of its files, or nowhere), FIFO or device node is replaced by
// a regular file, as Docker's bind mount would hide it; a regular file
// is rewritten in place, since a running container's /etc/hosts is
// changed (names.go) while it has it open. A root mounted read-only is
// left as it is.
func changeInRoot(root, file string, owner Owner, change func(string) string) error {
	dir, err := openFolderInRoot(root, path.Dir(file), owner)
	if errors.Is(err, unix.EROFS) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	f, err := openRegular(dir, path.Base(file))
	if errors.Is(err, unix.EROFS) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write /%s in the container: %w", file, err)
	}
	defer f.Close()
	if err := f.Chown(owner.UID, owner.GID); err != nil {
		return fmt.Errorf("/%s in the container: %w", file, err)
	}
	old, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read /%s in the container: %w", file, err)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("/%s in the container: %w", file, err)
	}
	if _, err := f.WriteAt([]byte(change(string(old))), 0); err != nil {
		return fmt.Errorf("write /%s in the container: %w", file, err)
	}
	return nil
}

// openFolderInRoot opens the folder name inside root, resolved in it,
// and first makes it when missing, owned by owner (the container's root
// user: in a user namespace, its map's).
func openFolderInRoot(root, name string, owner Owner) (int, error) {
	top, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("the container's root: %w", err)
	}
	defer unix.Close(top)
	switch err := unix.Mkdirat(top, name, 0o755); {
	case err == nil:
		if err := unix.Fchownat(top, name, owner.UID, owner.GID, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return -1, fmt.Errorf("make /%s in the container: %w", name, err)
		}
	case !errors.Is(err, unix.EEXIST):
		return -1, fmt.Errorf("make /%s in the container: %w", name, err)
	}
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	dir, err := unix.Openat2(top, name, how)
	if err != nil {
		return -1, fmt.Errorf("open /%s in the container: %w", name, err)
	}
	return dir, nil
}

// openRegular opens the regular file base in the folder dir to read
// and write it, made when missing. Anything else there is removed first
// and a regular file made in its place: it is looked at through an
// O_PATH descriptor, which opens nothing (a device's open alone may act,
// a FIFO's blocks), and the file opened is the one looked at.
func openRegular(dir int, base string) (*os.File, error) {
	ref, err := unix.Openat(dir, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == nil {
		defer unix.Close(ref)
		var st unix.Stat_t
		if err := unix.Fstat(ref, &st); err != nil {
			return nil, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			// Reopened through the descriptor: the inode looked at.
			fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(ref), unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, err
			}
			return os.NewFile(uintptr(fd), base), nil
		case unix.S_IFDIR:
			return nil, errors.New("it is a folder")
		}
		if err := unix.Unlinkat(dir, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, err
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return nil, err
	}
	fd, err := unix.Openat(dir, base, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), base), nil
}
