package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/state"
)

// Usage is what a container uses now, as docker stats shows it: its
// cgroup's figures, and the bytes its network interfaces carried.
type Usage struct {
	cgroups.Stats
	NetReceived, NetSent uint64 // bytes, loopback aside (as Docker: what went in or out of the container)
}

// Usage reads what container c uses now: all zeros when it is not
// running (as docker stats shows a stopped container), or when it ended
// while being read.
func (r *Runtime) Usage(c Container) (Usage, error) {
	if c.Status.Status != state.Running {
		return Usage{}, nil
	}
	cg, err := cgroups.Open(c.Record.Spec.CgroupParent, c.Record.Spec.CgroupName())
	if errors.Is(err, os.ErrNotExist) {
		return Usage{}, nil
	}
	if err != nil {
		return Usage{}, err
	}
	var u Usage
	if u.Stats, err = cg.Stats(); err != nil {
		return Usage{}, fmt.Errorf("container %s: %w", c.Record.Spec.Name, err)
	}
	u.NetReceived, u.NetSent, err = netIO(c.Status.Pid)
	return u, err
}

// netIO is what the network interfaces of pid's network namespace
// carried: /proc/PID/net/dev is that namespace's list, seen through one
// of its processes. A container on the host's network (--network host)
// has none of its own: 0, as Docker says.
func netIO(pid int) (received, sent uint64, err error) {
	own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil // it has ended
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	if err != nil || own == host {
		return 0, 0, err
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return parseNetDev(string(data))
}

// parseNetDev sums /proc/net/dev's interfaces but lo: two lines of
// headers, then "  eth0: RXBYTES packets errs drop fifo frame compressed
// multicast TXBYTES …" per interface.
func parseNetDev(text string) (received, sent uint64, err error) {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for _, line := range lines[min(2, len(lines)):] {
		name, counts, ok := strings.Cut(line, ":")
		fields := strings.Fields(counts)
		if !ok || len(fields) < 9 {
			return 0, 0, fmt.Errorf("/proc/net/dev: line %q: want an interface and its counts", line)
		}
		if strings.TrimSpace(name) == "lo" {
			continue
		}
		rx, err1 := strconv.ParseUint(fields[0], 10, 64)
		tx, err2 := strconv.ParseUint(fields[8], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("/proc/net/dev: line %q: %w", line, err)
		}
		received, sent = received+rx, sent+tx
	}
	return received, sent, nil
}
