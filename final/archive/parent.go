package archive

// This file keeps the directory the last entry was made in open for the
// next one. An archive lists a folder's files one after another, and each
// would otherwise open that directory again beneath the folder (openat2)
// and close it: two system calls of a file's six.

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// keptParent is the directory the previous entry was made in. Keeping it
// is safe: an entry in it changes what it holds, never the path that led
// to it. An entry that could change that path (the directory itself, or
// a folder above it) has another parent, and so replaces the one kept.
type keptParent struct {
	dir string // relative to the folder; "" when none is kept
	fd  int    // O_PATH descriptor of it
	gid int    // the group a file made in it gets
}

// parent returns the directory that holds name's last part, opened
// beneath the folder, and that last part. The descriptor is the
// unpacker's: the caller must not close it.
func (u *unpacker) parent(name string) (int, string, error) {
	dir := path.Dir(name)
	if u.kept.dir == dir && u.kept.fd >= 0 {
		return u.kept.fd, path.Base(name), nil
	}
	u.dropParent()
	fd, base, err := u.openParent(name)
	if err != nil {
		return -1, "", err
	}
	// fstat: a file made in a setgid directory takes the directory's
	// group, not the unpacker's (setMetadata then knows it).
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, "", fmt.Errorf("looking at its directory %q: %w", dir, err)
	}
	gid := u.egid
	if st.Mode&unix.S_ISGID != 0 {
		gid = int(st.Gid)
	}
	u.kept = keptParent{dir: dir, fd: fd, gid: gid}
	return fd, base, nil
}

// dropParent closes the directory kept, if any.
func (u *unpacker) dropParent() {
	if u.kept.fd >= 0 {
		unix.Close(u.kept.fd)
	}
	u.kept = keptParent{fd: -1}
}

// processUmask reads this process's umask from /proc/self/status (Linux
// 4.7+), or -1 where it cannot: umask(2) only reads it by changing it,
// which would race with other goroutines making files.
func processUmask() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), "Umask:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(value), 8, 32)
			if err != nil {
				return -1
			}
			return int(mask)
		}
	}
	return -1
}
