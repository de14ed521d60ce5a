package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/durable"
)

// leases is the allocator's file: which container holds which address
// and published ports, in the subnet the bridge was made with. It is
// read and written under an exclusive flock of its lock file, so two
// starts never take one address or one port.
type leases struct {
	Subnet string           `json:"subnet"`
	Leases map[string]Lease `json:"leases"` // by container ID
}

// Lease is what one container holds.
type Lease struct {
	Addr  string `json:"addr"`
	Ports []Port `json:"ports,omitempty"`
	// Holder is the process that keeps the container (its monitor), and
	// the time it started in clock ticks since boot (/proc/PID/stat): a
	// lease whose holder is gone, or whose pid another process took
	// over, is stale, and the next allocation frees it.
	Holder      int    `json:"holder"`
	HolderStart uint64 `json:"holderStart"`
	Veth        string `json:"veth"`
	// Name, Root and Owner are the container's --name, the host's path
	// of its root and who owns its files: other containers on the
	// bridge find it by name in their /etc/hosts (names.go).
	Name  string `json:"name,omitempty"`
	Root  string `json:"root,omitempty"`
	Owner Owner  `json:"owner"`
}

// ErrPortTaken is a published port that another container holds.
var ErrPortTaken = errors.New("port is already allocated")

// allocator is the file of one state folder.
type allocator struct{ dir string }

func (a allocator) path() string { return filepath.Join(a.dir, "leases.json") }

// update runs change on the file's content under its lock, and writes
// what change left when it returns nil.
func (a allocator) update(change func(*leases) error) error {
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return fmt.Errorf("the address allocator: %w", err)
	}
	lock, err := durable.LockFile(filepath.Join(a.dir, "leases.lock"), durable.Exclusive)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	l := leases{Leases: map[string]Lease{}}
	data, err := os.ReadFile(a.path())
	if err == nil && json.Unmarshal(data, &l) != nil {
		// The file is not synced (below): only a crash of the machine
		// leaves it torn, and after one no container holds a lease.
		l, err = leases{}, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", a.path(), err)
	}
	if l.Leases == nil {
		l.Leases = map[string]Lease{}
	}
	if err := change(&l); err != nil {
		return err
	}
	data, err = json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	// Not synced to the disk: the leases live in run/ (Dir), which a
	// reboot empties with the bridge and the veths they name, and a
	// lease whose holder is gone is freed anyway (freeStale). Two
	// fsync(2) a start and two a teardown cost it a millisecond or more
	// on a disk (issue 26).
	return durable.ReplaceFile(a.path(), data)
}

// take gives id the lowest free address of subnet and its ports, after
// freeing the leases whose holder has gone (returned, for their rules to
// go too).
func (l *leases) take(id string, subnet netip.Prefix, lease Lease) (Lease, []string, error) {
	if l.Subnet != "" && l.Subnet != subnet.String() && len(l.Leases) > 0 {
		return Lease{}, nil, fmt.Errorf("the bridge %s has the subnet %s, which its containers use: --subnet %s needs them gone (and boxcraft network prune)", Bridge, l.Subnet, subnet)
	}
	l.Subnet = subnet.String()
	stale := l.freeStale()
	used := map[string]bool{Gateway(subnet).String(): true}
	for other, held := range l.Leases {
		used[held.Addr] = true
		for _, p := range lease.Ports {
			for _, q := range held.Ports {
				if clashes(p, q) {
					return Lease{}, stale, fmt.Errorf("%w: host port %d/%s is published by container %.12s", ErrPortTaken, p.HostPort, p.Proto, other)
				}
			}
		}
	}
	last := lastAddr(subnet)
	for a := Gateway(subnet).Next(); a.Less(last); a = a.Next() {
		if !used[a.String()] {
			lease.Addr = a.String()
			l.Leases[id] = lease
			return lease, stale, nil
		}
	}
	return Lease{}, stale, fmt.Errorf("the subnet %s has no address left", subnet)
}

// freeStale drops the leases whose holder has gone, and returns their
// container IDs.
func (l *leases) freeStale() []string {
	var gone []string
	for id, held := range l.Leases {
		if start, ok := processStart(held.Holder); !ok || start != held.HolderStart {
			gone = append(gone, id)
			delete(l.Leases, id)
		}
	}
	return gone
}

// lastAddr is the subnet's broadcast address, which no container takes.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// processStart is when pid started, in clock ticks since boot: field 22
// of /proc/PID/stat, read after the command's name, which may hold
// spaces and parentheses. A zombie (state Z: killed, not yet reaped by
// its parent) holds nothing any more, and counts as gone.
func processStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 || fields[0] == "Z" {
		return 0, false
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	return start, err == nil
}

// Held is the address that container id holds on the bridge, and the
// bridge's subnet, as boxcraft inspect shows them; ok is false when it
// holds none.
func Held(dir, id string) (addr netip.Addr, subnet netip.Prefix, ok bool) {
	var l leases
	data, err := os.ReadFile(allocator{dir}.path())
	if err != nil || json.Unmarshal(data, &l) != nil {
		return addr, subnet, false
	}
	lease, held := l.Leases[id]
	addr, err = netip.ParseAddr(lease.Addr)
	if !held || err != nil {
		return addr, subnet, false
	}
	subnet, err = netip.ParsePrefix(l.Subnet)
	return addr, subnet, err == nil
}
