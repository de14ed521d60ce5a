package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The freezer stops every process of a cgroup where it stands, and lets
// them go on later: the OCI runtime's pause and resume (issue 23). A
// frozen process is not scheduled at all, so it cannot notice; a signal
// waits for the thaw. v1 has a freezer hierarchy whose freezer.state
// reads THAWED, FREEZING or FROZEN; v2 has cgroup.freeze in every
// cgroup, and "frozen 1" in cgroup.events once every process has stopped.

// freezeTimeout bounds the wait for the last process to stop.
const freezeTimeout = 10 * time.Second

// Freeze stops the cgroup's processes, and returns once all have.
func (c *Cgroup) Freeze() error { return c.setFrozen(true) }

// Thaw lets them go on.
func (c *Cgroup) Thaw() error { return c.setFrozen(false) }

func (c *Cgroup) setFrozen(frozen bool) error {
	dir, file, value := c.freezerFile(frozen)
	if dir == "" {
		return fmt.Errorf("no freezer: the v1 freezer hierarchy is not mounted at %s/freezer", Root)
	}
	if err := writeFile(dir, file, value); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, filepath.Join(dir, file), err)
	}
	deadline := time.Now().Add(freezeTimeout)
	for c.Frozen() != frozen {
		if time.Now().After(deadline) {
			if frozen { // not left half frozen (v1's FREEZING), as runc does
				_, _, thawed := c.freezerFile(false)
				_ = writeFile(dir, file, thawed)
			}
			return fmt.Errorf("the cgroup %s did not become %s", dir, map[bool]string{true: "frozen", false: "thawed"}[frozen])
		}
		if _, v1 := c.m.(*v1Manager); v1 && frozen {
			_ = writeFile(dir, file, value) // v1 may stop at FREEZING: ask again, as runc does
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// freezerFile is the folder and file that freeze or thaw, and the value.
func (c *Cgroup) freezerFile(frozen bool) (dir, file, value string) {
	if _, v1 := c.m.(*v1Manager); v1 {
		value = "THAWED"
		if frozen {
			value = "FROZEN"
		}
		return c.m.dir("freezer"), "freezer.state", value
	}
	value = "0"
	if frozen {
		value = "1"
	}
	return c.m.dir(""), "cgroup.freeze", value
}

// Frozen says whether every process of the cgroup is stopped.
func (c *Cgroup) Frozen() bool {
	if _, v1 := c.m.(*v1Manager); v1 {
		state, err := readFile(c.m.dir("freezer"), "freezer.state")
		return err == nil && state == "FROZEN"
	}
	data, err := os.ReadFile(filepath.Join(c.m.dir(""), "cgroup.events"))
	return err == nil && strings.Contains(string(data), "frozen 1")
}

// Thawed says whether the cgroup's freezer lets its processes run, as
// it was asked to: v1's freezer.state THAWED, v2's cgroup.freeze 0. A
// freeze under way (v1's FREEZING, or v2's before "frozen 1") is
// neither Thawed nor Frozen. A cgroup with no freezer is thawed.
func (c *Cgroup) Thawed() bool {
	dir, file, thawed := c.freezerFile(false)
	if dir == "" {
		return true
	}
	value, err := readFile(dir, file)
	return err != nil || value == thawed
}

// Procs lists the processes in the cgroup, by pid on the host.
func (c *Cgroup) Procs() ([]int, error) {
	folders := c.folders()
	if len(folders) == 0 {
		return nil, fmt.Errorf("the cgroup has no folder")
	}
	data, err := os.ReadFile(filepath.Join(folders[0], "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("list the cgroup's processes: %w", err)
	}
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
