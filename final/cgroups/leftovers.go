package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// removeTimeout bounds how long Remove waits for the processes it killed.
const removeTimeout = 5 * time.Second

// Remove kills what is left in the cgroup and removes its folders. The
// kernel removes a cgroup only when no process is in it: the container's
// first process has ended, but one it left in the background may still
// run (without a PID namespace nothing ends it), and the last ones may
// not be reaped yet. So Remove kills what is left, by pid (only the
// container's processes are in its cgroup), and retries for a while. The
// parent's folders stay: other containers use them.
func (c *Cgroup) Remove() error {
	deadline := time.Now().Add(removeTimeout)
	var failed []error
	thawed := false
	for _, dir := range c.folders() {
		for {
			err := unix.Rmdir(dir) // a cgroup folder goes with rmdir alone: its files are the kernel's
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				failed = append(failed, fmt.Errorf("remove the cgroup %s: %w", dir, err))
				break
			}
			if !thawed && !c.Thawed() {
				// A paused container's processes take no SIGKILL on v1
				// until they are thawed (boxcraft pause, an OCI pause).
				_ = c.Thaw()
			}
			thawed = true
			killProcessesIn(dir)
			time.Sleep(10 * time.Millisecond)
		}
	}
	return errors.Join(failed...)
}

// killProcessesIn sends SIGKILL to each process in a cgroup.
func killProcessesIn(dir string) {
	data, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// RemoveLeftovers removes the cgroups below parent of containers that are
// gone: those whose runtime was killed (by SIGKILL, which it cannot
// catch) before it could remove them. isGone is asked about the name of
// each folder in parent, in each hierarchy; the caller decides what gone
// means, and answers false for a name that is none of its containers'
// (another run's own parent may sit beside them). A gone container's
// cgroup is removed only when it is empty: one that still holds a
// process stays (rmdir fails, harmlessly), so nothing is killed here.
func RemoveLeftovers(parent string, isGone func(id string) bool) {
	if CheckParent(parent) != nil {
		return
	}
	for _, dir := range leftoverCandidates(parent) {
		if isGone(filepath.Base(dir)) {
			_ = unix.Rmdir(dir) // fails, harmlessly, while a process is in it
		}
	}
}

// leftoverCandidates lists the folders in parent: in the v2 tree, or in
// each v1 hierarchy the package uses (each once, when co-mounted).
func leftoverCandidates(parent string) []string {
	v2, err := IsV2()
	if err != nil {
		return nil
	}
	roots := []string{Root}
	if !v2 {
		roots = nil
		for _, name := range v1Hierarchies {
			if hierarchy, ok := v1Hierarchy(name); ok && !slices.Contains(roots, hierarchy) {
				roots = append(roots, hierarchy)
			}
		}
	}
	var folders []string
	for _, root := range roots {
		matches, _ := filepath.Glob(filepath.Join(root, parent, "*"))
		for _, dir := range matches {
			if isFolder(dir) {
				folders = append(folders, dir)
			}
		}
	}
	return folders
}
