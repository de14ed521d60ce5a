package nsenter

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// EnvVar names the variable that asks the constructor to join: "PIDFD
// SOCKET FLAGS", two descriptor numbers and the clone flags in hex.
const EnvVar = "_BOXCRAFT_NSENTER"

// kinds are the namespaces a container may have of its own, each with
// its file in /proc/PID/ns and its clone flag. time is an OCI bundle's
// (issue 23, linux.timeOffsets).
var kinds = []struct {
	name string
	flag int
}{
	{"user", unix.CLONE_NEWUSER}, {"mnt", unix.CLONE_NEWNS}, {"pid", unix.CLONE_NEWPID},
	{"uts", unix.CLONE_NEWUTS}, {"ipc", unix.CLONE_NEWIPC}, {"net", unix.CLONE_NEWNET},
	{"cgroup", unix.CLONE_NEWCGROUP}, {"time", unix.CLONE_NEWTIME},
}

// Flags are the namespaces that process pid has of its own: those that
// differ from this process's. Only those are joined: setns(2) refuses to
// re-enter one's own user namespace, and joining the others changes
// nothing.
func Flags(pid int) (int, error) {
	flags := 0
	for _, k := range kinds {
		var theirs, ours unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, k.name), &theirs); err != nil {
			return 0, fmt.Errorf("read the container's %s namespace: %w", k.name, err)
		}
		if err := unix.Stat("/proc/self/ns/"+k.name, &ours); err != nil {
			return 0, fmt.Errorf("read boxcraft's %s namespace: %w", k.name, err)
		}
		if theirs.Dev != ours.Dev || theirs.Ino != ours.Ino {
			flags |= k.flag
		}
	}
	return flags, nil
}

// Env is the variable for the child: pidfd and socket are the
// descriptor numbers the child has them at.
func Env(pidfd, socket, flags int) string {
	return EnvVar + "=" + strconv.Itoa(pidfd) + " " + strconv.Itoa(socket) + " " + strconv.FormatInt(int64(flags), 16)
}
