package monitor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// dupCloexec duplicates fd, close-on-exec: the container gets it only as
// the stdin os/exec hands it.
func dupCloexec(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

// Teardown removes what a container holds on the host once it has
// ended: its cgroup (and any process left in it), its root's overlay,
// and on the bridge its address, veth and published ports' rules.
// It is also what rm -f and prune do for a container whose monitor was
// killed. Each part is done even when another fails. x are the
// program's extras: the bridge gives the container's address back.
func Teardown(dirs state.Dirs, x Extras, rec state.Record) error {
	var errs []error
	if cg, err := cgroups.Open(rec.Spec.CgroupParent, rec.Spec.CgroupName()); err == nil {
		errs = append(errs, cg.Remove())
	}
	errs = append(errs, unmountProcView(dirs, rec.Spec.ID), removeSysinfoSocket(dirs, rec.Spec.ID))
	if rec.Mounted {
		errs = append(errs, unmountRoot(rec.Spec.Root.Path))
	}
	errs = append(errs, x.detach(dirs, rec))
	return errors.Join(errs...)
}

// unmountRoot unmounts the container's root if it is mounted.
func unmountRoot(dir string) error {
	if dir == "" || !isMountPoint(dir) {
		return nil
	}
	if err := mount.Unmount(dir); err != nil {
		return fmt.Errorf("unmount the container's root %s: %w", dir, err)
	}
	return nil
}

// isMountPoint says whether something is mounted on dir: its device
// differs from its parent's, or (a bind of the same filesystem) the
// kernel's mount table lists it.
func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(dir, &st) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	if st.Dev != parent.Dev {
		return true
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	return err == nil && containsMountPoint(string(data), dir)
}

func containsMountPoint(mountinfo, dir string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// removeSysinfoSocket removes the socket of exec's sysinfo(2) listeners
// (SysinfoSocket), which a killed monitor leaves: the next start's bind
// would find it there.
func removeSysinfoSocket(dirs state.Dirs, id string) error {
	err := os.Remove(filepath.Join(dirs.Runtime(id), SysinfoSocketName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the sysinfo socket: %w", err)
	}
	return nil
}
