package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/durable"
)

// ErrNotFound: no image has that name or ID.
var ErrNotFound = errors.New("no such image")

// Store holds layers by diffID and images by ID, with their names.
type Store struct {
	root string
	// Limits bound what a layer may unzip to (a gzip bomb); zero
	// fields take archive's defaults.
	Limits archive.Limits
}

// The lock files. Whoever adds blobs or layers holds layersLock shared,
// whoever deletes them holds it alone; whoever changes the records or the
// names holds namesLock alone. A process takes layersLock first.
const (
	layersLock = "layers.lock"
	namesLock  = "names.lock"
)

// Open opens (making it when missing) the store at root, and removes the
// work left by processes that died before they finished it.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, dir := range []string{s.path("blobs", "sha256"), s.path("layers"), s.path("images"), s.path("tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open the image store: %w", err)
		}
	}
	if err := s.removeLeftovers(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.root}, elem...)...)
}

// blobPath is where the blob with that digest is kept.
func (s *Store) blobPath(digest string) string {
	return s.path("blobs", "sha256", digestHex(digest))
}

// layerPath is where the layer with that diffID is unpacked, in set.
func (s *Store) layerPath(set, diffID string) string {
	return s.path("layers", set, digestHex(diffID))
}

// lock waits for the lock file name, shared or alone (durable.Shared or
// Exclusive), and returns what releases it.
func (s *Store) lock(name string, kind int) (func(), error) {
	l, err := durable.LockFile(s.path(name), kind)
	if err != nil {
		return nil, fmt.Errorf("lock the image store: %w", err)
	}
	return l.Unlock, nil
}

// tempName starts the names of this process's work in ROOT/tmp, so that
// removeLeftovers knows whose it is.
func tempName() string { return strconv.Itoa(os.Getpid()) + "-" }

// removeLeftovers removes what ROOT/tmp holds of processes that are gone:
// a half-written blob, a half-unpacked layer. A live process's work
// stays.
func (s *Store) removeLeftovers() error {
	entries, err := os.ReadDir(s.path("tmp"))
	if err != nil {
		return fmt.Errorf("clean the image store: %w", err)
	}
	for _, e := range entries {
		owner, _, _ := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(owner)
		// kill(pid, 0) sends nothing: ESRCH says no such process.
		if err == nil && pid > 0 && errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			if err := os.RemoveAll(s.path("tmp", e.Name())); err != nil {
				return fmt.Errorf("clean the image store: %w", err)
			}
		}
	}
	return nil
}

// digestHex is a digest's hex part: "sha256:3f2a…" → "3f2a…".
func digestHex(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return hex
}

// validDigest tells a sha256 digest written in full, as the store names
// its files.
func validDigest(digest string) bool {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	return ok && len(hex) == 64 && isHex(hex)
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
