// Package durable is how boxcraft changes its files with no daemon to
// order the changes: a file is replaced whole or not at all, and a change
// is made under a lock that the kernel drops when its holder dies, however
// it dies. step04 and step05 kept their state in folders named by pid;
// once several commands share the state (ps while run -d starts, 20
// starts at once), it takes these two.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteFile writes data to path whole or not at all: into a file of its
// own first, synced to the disk, then renamed over path, and the folder
// synced so that the rename lasts. rename(2) replaces a file in one step:
// a reader sees the old content or the new, and a crash leaves at worst a
// temporary file beside it.
func WriteFile(path string, data []byte) error {
	return write(path, data, true)
}

// ReplaceFile writes data to path whole or not at all, as WriteFile does,
// but does not wait for the disk: for a file that need not outlive a
// crash of the machine. A reader still sees the old content or the new.
// Each fsync(2) costs a start from 0.2 ms on an idle disk to tens of ms
// on a busy one (issue 26): a container's status lives in /run, which a
// reboot empties anyway, and a --rm container is gone after a crash.
func ReplaceFile(path string, data []byte) error {
	return write(path, data, false)
}

func write(path string, data []byte, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // gone once renamed; left only by a failure
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	return SyncFolder(filepath.Dir(path))
}

// SyncFolder makes a rename into dir last: fsync on a folder writes its
// entries.
func SyncFolder(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Lock is a held flock(2) on a file.
type Lock struct{ file *os.File }

// ErrLocked: TryLock found the lock held.
var ErrLocked = errors.New("locked")

// Shared and Exclusive are the two kinds of lock: many readers, or one
// writer.
const (
	Shared    = unix.LOCK_SH
	Exclusive = unix.LOCK_EX
	// NoWait, added to either, fails with ErrLocked where the lock
	// would wait.
	NoWait = unix.LOCK_NB
)

// LockFile waits for a lock on path (made when missing), of the kind
// given. flock(2) locks the open file: two goroutines of one process
// exclude each other as two processes do, and the kernel drops the lock
// when the file closes, which a killed process's files do.
func LockFile(path string, kind int) (*Lock, error) {
	return lock(path, kind, os.O_RDWR|os.O_CREATE)
}

// LockExisting waits for a lock on path, a file or a folder, of the kind
// given; path must exist (an error that wraps fs.ErrNotExist otherwise):
// a folder that another process may be removing, which a file made anew
// in it would keep from going. flock(2) needs no write access: the path
// is opened read-only.
func LockExisting(path string, kind int) (*Lock, error) {
	return lock(path, kind, os.O_RDONLY)
}

// TryLock takes an exclusive lock on path if no one holds it, and fails
// with ErrLocked if someone does. A missing path is not made: it is an
// error that wraps fs.ErrNotExist (no one holds what does not exist).
func TryLock(path string) (*Lock, error) {
	return lock(path, unix.LOCK_EX|unix.LOCK_NB, os.O_RDWR)
}

func lock(path string, how, flags int) (*Lock, error) {
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{file: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil {
		l.file.Close()
	}
}
