package state

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteJSON writes v to path atomically: into a temporary file beside
// it, synced to the disk, then renamed over path. rename(2) replaces a
// file in one step, so a reader sees the old content or the new, never a
// mix, and a crash leaves at worst a temporary file.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // gone once renamed; left only by a failure
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// Lock is a held flock(2) on a file.
type Lock struct{ file *os.File }

// LockFile takes an exclusive lock on path, made when missing, waiting
// for whoever holds it. The kernel drops the lock when the holder's file
// closes, however the process ends: a boxcraft killed while it holds the
// lock blocks no one.
func LockFile(path string) (*Lock, error) {
	return lockFile(path, unix.LOCK_EX)
}

// TryLockFile takes the lock if no one holds it, and says whether it did.
func TryLockFile(path string) (*Lock, bool, error) {
	l, err := lockFile(path, unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return nil, false, nil
	}
	return l, err == nil, err
}

func lockFile(path string, how int) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if err == unix.EWOULDBLOCK {
			return nil, err
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

// File is the locked file, for a process that must hold the lock for as
// long as it lives.
func (l *Lock) File() *os.File { return l.file }
