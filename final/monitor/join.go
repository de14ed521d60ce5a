package monitor

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// joinFlags are the clone flags of the namespaces an OCI bundle may name
// by path (issue 23): the thread that clones init joins them, and init
// is born in them rather than in new ones. A user namespace is left
// out: a process of many threads, as every Go program is, cannot join
// one (final/oci refuses it); nor can it join a time namespace.
var joinFlags = map[string]uintptr{
	"mnt": unix.CLONE_NEWNS, "pid": unix.CLONE_NEWPID, "net": unix.CLONE_NEWNET,
	"ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS, "cgroup": unix.CLONE_NEWCGROUP,
}

// joinedFlags are the clone flags that c's joined namespaces take away.
func joinedFlags(n spec.Namespaces) uintptr {
	var flags uintptr
	for kind := range n.Join {
		flags |= joinFlags[kind]
	}
	return flags
}

// enterOCINamespaces readies the locked thread that clones init (see
// onOwnThread) for an OCI bundle's namespaces: a time namespace with
// its clocks moved, and the namespaces named by path, joined. init,
// cloned from this thread, inherits them; the thread ends with the
// container's start, and the rest of boxcraft keeps its own.
func enterOCINamespaces(c *spec.Container) error {
	if c.OCI != nil && c.OCI.TimeNamespace {
		if err := newTimeNamespace(c.OCI.TimeOffsets); err != nil {
			return err
		}
	}
	return joinNamespaces(c.Namespaces.Join)
}

// newTimeNamespace makes the time namespace the thread's children go to
// (unshare(CLONE_NEWTIME) moves the thread's children, not the thread),
// and moves its clocks: the kernel takes the offsets only before a
// process is in it. init enters it when it executes (with vfork, as Go
// starts it, the switch happens at execve).
func newTimeNamespace(offsets map[string]spec.TimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("linux.timeOffsets: unshare the time namespace: %w", err)
	}
	if len(offsets) == 0 {
		return nil
	}
	var lines []string
	for clock, o := range offsets {
		lines = append(lines, fmt.Sprintf("%s %d %d", clock, o.Secs, o.Nanosecs))
	}
	sort.Strings(lines)
	// /proc/TID, not /proc/self: the offsets are this thread's children's
	// namespace's, and /proc/self is the process's first thread.
	path := fmt.Sprintf("/proc/%d/timens_offsets", unix.Gettid())
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0); err != nil {
		return fmt.Errorf("linux.timeOffsets: write %s: %w", path, err)
	}
	return nil
}

// joinNamespaces joins each namespace named by path: all are opened
// first (a joined mount namespace changes what a path names), and
// setns(2) checks that each is of its kind. Joining a mount namespace
// needs a working folder of the thread's own (unshare(CLONE_FS)).
func joinNamespaces(join map[string]string) error {
	if len(join) == 0 {
		return nil
	}
	kinds := make([]string, 0, len(join))
	fds := map[string]int{}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for kind, path := range join {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("join the %s namespace %s: %w", kind, path, err)
		}
		fds[kind] = fd
		kinds = append(kinds, kind)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] == "mnt" || kinds[j] != "mnt" && kinds[i] < kinds[j] })
	for _, kind := range kinds {
		if kind == "mnt" {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare the working folder: %w", err)
			}
		}
		if err := unix.Setns(fds[kind], int(joinFlags[kind])); err != nil {
			return fmt.Errorf("join the %s namespace %s: %w", kind, join[kind], err)
		}
	}
	return nil
}
