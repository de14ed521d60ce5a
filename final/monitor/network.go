package monitor

import (
	"fmt"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

// joinNetwork puts the thread that clones init into the network
// namespace of the container that --network container:ID names, so that
// init is born in it (setns changes the calling thread alone; the thread
// is locked, and ends with the container: onOwnThread).
func joinNetwork(c *spec.Container, dirs state.Dirs) error {
	id, ok := strings.CutPrefix(c.Network.Mode, spec.NetworkContainer)
	if !ok {
		return nil
	}
	st, err := dirs.ReadStatus(id)
	if err != nil || st.Status != state.Running || st.Pid == 0 {
		return fmt.Errorf("--network container:%.12s: the container is not running", id)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", st.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("--network container:%.12s: its network namespace: %w", id, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("--network container:%.12s: join its network namespace: %w", id, err)
	}
	return nil
}
