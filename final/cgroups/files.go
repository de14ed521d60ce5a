package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// writeFile writes one value into one cgroup file, in one write(2): the
// kernel reads each write as a whole value. It returns the kernel's error
// number alone, for the caller to say what was refused.
func writeFile(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteString(value); err != nil {
		return errors.Unwrap(err) // the *PathError's errno
	}
	return nil
}

// readFile reads a cgroup file's one value, without its newline.
func readFile(dir, file string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(data)), err
}

// makeParent makes each folder of parent below a hierarchy's root that is
// not there yet (another run may be making the same at the same time:
// EEXIST is no error), and readies each with ready, top down: a folder
// is made in a parent that is ready for it. It returns the parent's path.
func makeParent(root, parent string, ready func(dir string) error) (string, error) {
	dir := root
	for _, part := range strings.Split(filepath.Clean(parent), "/") {
		dir = filepath.Join(dir, part)
		if err := unix.Mkdir(dir, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return "", fmt.Errorf("make the cgroup %s: %w", dir, err)
		}
		if err := ready(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// makeOwn makes the container's own folder, which must be new: another
// container's is never taken over.
func makeOwn(parent, id string) (string, error) {
	dir := filepath.Join(parent, id)
	if err := unix.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("make the cgroup %s: %w", dir, err)
	}
	return dir, nil
}

// isFolder tells whether dir is there and is a folder.
func isFolder(dir string) bool {
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}
