package user

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// entry is one line of /etc/passwd or /etc/group: its name, its id, and
// for a user the primary group and home, for a group its members.
type entry struct {
	name    string
	id      uint32
	gid     uint32
	home    string
	members []string
}

// Lookup resolves name, USER[:GROUP] as -u takes it, in the passwd and
// group files of the folder root ("/" once init has pivoted into the
// container's root; /proc/PID/root from the host). An empty USER is
// root. A number needs no entry (its group is then 0 and its HOME "/",
// root's "/root"); a
// name that has none is refused as Docker refuses it: "unable to find
// user NAME: no matching entries in passwd file".
func Lookup(root, name string) (spec.User, error) {
	userPart, groupPart, groupGiven := strings.Cut(name, ":")
	if groupGiven && groupPart == "" {
		return spec.User{}, fmt.Errorf("user %q: give USER:GROUP, or USER alone", name)
	}
	users, err := readEntries(root, "/etc/passwd", parseUser)
	if err != nil {
		return spec.User{}, err
	}
	u, named, err := findUser(users, userPart)
	if err != nil {
		return spec.User{}, err
	}
	if !groupGiven && !named {
		return u, nil
	}
	groups, err := readEntries(root, "/etc/group", parseGroup)
	if err != nil {
		return spec.User{}, err
	}
	if groupGiven {
		g, err := find(groups, groupPart, "group")
		u.GID = g.id
		return u, err
	}
	u.AdditionalGids = memberOf(groups, userPart)
	return u, nil
}

// Groups resolves --group-add's groups, names or numbers, in the group
// file below root, as Docker does: a number needs no entry; a name that
// has none is refused ("unable to find group NAME: no matching entries
// in group file").
func Groups(root string, names []string) ([]uint32, error) {
	groups, err := readEntries(root, "/etc/group", parseGroup)
	if err != nil {
		return nil, err
	}
	gids := make([]uint32, 0, len(names))
	for _, name := range names {
		g, err := find(groups, name, "group")
		if err != nil {
			return nil, err
		}
		gids = append(gids, g.id)
	}
	return gids, nil
}

// findUser finds USER by name or number; named says it was a name found
// in the file, whose groups then count.
func findUser(users []entry, name string) (spec.User, bool, error) {
	if name == "" {
		name = "0"
	}
	e, err := find(users, name, "user")
	if err != nil {
		return spec.User{}, false, err
	}
	home := e.home
	switch {
	case home != "":
	case e.id == 0:
		home = "/root" // Docker's HOME for root, with or without an entry
	default:
		home = "/"
	}
	return spec.User{UID: e.id, GID: e.gid, Home: home}, e.name == name, nil
}

// find finds name among entries, by name first, then by number. A number
// without an entry is itself (with group 0).
func find(entries []entry, name, kind string) (entry, error) {
	for _, e := range entries {
		if e.name == name {
			return e, nil
		}
	}
	id, err := parseID(name)
	if err != nil {
		return entry{}, fmt.Errorf("unable to find %s %s: no matching entries in %s file", kind, name, map[string]string{"user": "passwd", "group": "group"}[kind])
	}
	for _, e := range entries {
		if e.id == id {
			return e, nil
		}
	}
	return entry{id: id}, nil
}

// memberOf lists the groups whose member list names user.
func memberOf(groups []entry, user string) []uint32 {
	var gids []uint32
	for _, g := range groups {
		for _, m := range g.members {
			if m == user {
				gids = append(gids, g.id)
				break
			}
		}
	}
	return gids
}

// parseID reads an id, as the kernel takes it: up to 2^31-1 (-1 is "no
// change" to setuid(2)).
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, fmt.Errorf("%q is no id", s)
	}
	return uint32(n), nil
}

// parseUser reads NAME:PASSWORD:UID:GID:GECOS:HOME:SHELL.
func parseUser(fields []string) (entry, bool) {
	if len(fields) < 4 {
		return entry{}, false
	}
	uid, err1 := parseID(fields[2])
	gid, err2 := parseID(fields[3])
	e := entry{name: fields[0], id: uid, gid: gid}
	if len(fields) > 5 {
		e.home = fields[5]
	}
	return e, err1 == nil && err2 == nil
}

// parseGroup reads NAME:PASSWORD:GID:MEMBER,MEMBER….
func parseGroup(fields []string) (entry, bool) {
	if len(fields) < 3 {
		return entry{}, false
	}
	gid, err := parseID(fields[2])
	e := entry{name: fields[0], id: gid}
	if len(fields) > 3 && fields[3] != "" {
		e.members = strings.Split(fields[3], ",")
	}
	return e, err == nil
}

// readEntries reads the file name beneath root, skipping lines it cannot
// parse, as libc does. A missing file has no entries.
func readEntries(root, name string, parse func([]string) (entry, bool)) ([]entry, error) {
	f, err := openBeneath(root, name)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the image's %s: %w", name, err)
	}
	defer f.Close()
	var entries []entry
	lines := bufio.NewScanner(io.LimitReader(f, 64<<20))
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if e, ok := parse(strings.Split(line, ":")); ok {
			entries = append(entries, e)
		}
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("read the image's %s: %w", name, err)
	}
	return entries, nil
}

// openBeneath opens name inside root: openat2(2) with RESOLVE_IN_ROOT
// treats root as "/", so an absolute symlink or ".." in the image stays
// in it; RESOLVE_NO_MAGICLINKS refuses /proc/PID/fd/N links, which could
// lead anywhere.
//
// boxcraft exec reads the image's files from the host (/proc/PID/root),
// outside the container's device cgroup and with all of root's
// capabilities, so what it opens is chosen before it is opened: the name
// is resolved to an O_PATH descriptor, which opens nothing, and only a
// regular file on an ordinary filesystem is then opened for reading,
// through it. A device node, a FIFO or a socket in the file's place (a
// container's root may make one), a file of the kernel's (proc, sysfs…:
// /proc/kmsg drains the host's log) or of a FUSE server (which could
// make the read wait for ever) is refused.
func openBeneath(root, name string) (*os.File, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		fd, err := unix.Openat2(dir, strings.TrimPrefix(name, "/"), &how)
		if errors.Is(err, unix.EAGAIN) {
			continue // a rename raced the lookup: look again
		}
		if err != nil {
			return nil, err
		}
		defer unix.Close(fd)
		if err := ordinaryFile(fd, name); err != nil {
			return nil, err
		}
		// The O_PATH descriptor's file itself, opened for reading: no
		// second lookup that a rename could redirect.
		f, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(f), name), nil
	}
	return nil, unix.EAGAIN
}

// pseudoFilesystems are the filesystems whose files are the kernel's,
// or a server's, not data at rest.
var pseudoFilesystems = map[int64]string{
	unix.PROC_SUPER_MAGIC: "proc", unix.SYSFS_MAGIC: "sysfs", unix.DEBUGFS_MAGIC: "debugfs",
	unix.TRACEFS_MAGIC: "tracefs", unix.SECURITYFS_MAGIC: "securityfs", unix.CGROUP_SUPER_MAGIC: "cgroup",
	unix.CGROUP2_SUPER_MAGIC: "cgroup2", unix.BPF_FS_MAGIC: "bpf", unix.EFIVARFS_MAGIC: "efivarfs",
	unix.PSTOREFS_MAGIC: "pstore", unix.FUSE_SUPER_MAGIC: "fuse",
}

// ordinaryFile says why the file at fd (O_PATH) is not to be read, if it
// is not a regular file on an ordinary filesystem.
func ordinaryFile(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", name)
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	if kind, ok := pseudoFilesystems[int64(fs.Type)]; ok {
		return fmt.Errorf("%s is a file of %s, not of the image", name, kind)
	}
	return nil
}
