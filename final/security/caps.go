package security

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// capabilityNames are the kernel's capabilities by number
// (include/uapi/linux/capability.h), as Docker names them.
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// DefaultCapabilities are Docker's: the 14 that most programs need to
// set a service up (own files, bind a low port, change user), and none
// that reaches beyond the container (SYS_ADMIN: mount; SYS_MODULE:
// load a module; SYS_PTRACE; SYS_RAWIO; NET_ADMIN …).
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
		"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// ParseCapability turns a name as Docker takes it (chown, CHOWN,
// CAP_CHOWN, or ALL) into the kernel's name (CAP_CHOWN, or ALL).
func ParseCapability(name string) (string, error) {
	upper := strings.ToUpper(name)
	if upper == "ALL" {
		return upper, nil
	}
	if !strings.HasPrefix(upper, "CAP_") {
		upper = "CAP_" + upper
	}
	if _, ok := capabilityNumber(upper); !ok {
		return "", fmt.Errorf("unknown capability %q (capabilities(7) lists them, e.g. NET_ADMIN or CAP_NET_ADMIN)", name)
	}
	return upper, nil
}

func capabilityNumber(name string) (int, bool) {
	for i, n := range capabilityNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// HostCapabilities are the capabilities in this process's bounding set,
// by name: what --privileged gives, since no process can hand on a
// capability its own bounding set lacks. The set is read from
// /proc/self/status (CapBnd), which says which the running kernel knows.
func HostCapabilities() ([]string, error) {
	mask, err := statusMask("CapBnd")
	if err != nil {
		return nil, err
	}
	var names []string
	for i, n := range capabilityNames {
		if mask&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names, nil
}

// statusMask reads a capability set of /proc/self/status, by its key.
func statusMask(key string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), key+":"); ok {
			return strconv.ParseUint(strings.TrimSpace(value), 16, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", key)
}

// Mask is the set of names as the kernel's bit mask (capset(2)'s, bit n
// for capability n).
func Mask(names []string) (uint64, error) {
	var mask uint64
	for _, name := range names {
		n, ok := capabilityNumber(name)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		mask |= 1 << n
	}
	return mask, nil
}

// LastCapability is the highest capability the running kernel knows;
// PR_CAPBSET_DROP of a higher one is EINVAL.
// A kernel newer than this table knows more than its names: those are
// dropped too, by number (63 at most, the sets' width).
func LastCapability() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if n, perr := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && perr == nil && n >= 0 {
		return min(n, 63)
	}
	return len(capabilityNames) - 1
}

// CapabilityName is capability n by the kernel's name, or by its number
// when this table is older than the kernel.
func CapabilityName(n int) string {
	if n >= 0 && n < len(capabilityNames) {
		return capabilityNames[n]
	}
	return fmt.Sprintf("capability %d", n)
}

// DropBounding takes every capability but keep out of the bounding set:
// the limit on what this process, and every program it executes, can
// ever hold again. A setuid-root file inside gets no more than this
// (execve gives root the bounding set); only this is irreversible, which
// is why it comes first, while init still holds CAP_SETPCAP, which
// dropping needs.
func DropBounding(keep []string) error {
	mask, err := Mask(keep)
	if err != nil {
		return err
	}
	last := LastCapability() // once: a read of /proc each time cost a start 2 ms (issue 26)
	for n := 0; n <= last; n++ {
		if mask&(1<<n) != 0 {
			continue
		}
		// prctl(PR_CAPBSET_DROP, cap): one capability at a time.
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(n), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", CapabilityName(n), err)
		}
	}
	return nil
}

// KeepCapabilitiesAcrossSetuid asks the kernel not to empty the
// permitted set when this thread's uids stop being 0 (setuid(2) to -u's
// user): SetCapabilities, which comes after, can then still choose the
// sets. execve clears the flag.
func KeepCapabilitiesAcrossSetuid() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("keep the capabilities across setuid: %w", err)
	}
	return nil
}

// SetCapabilities makes keep the permitted and effective sets, empties
// the inheritable set (as Docker since 20.10.14, CVE-2022-24769: a file
// with inheritable capabilities would otherwise gain them at execve) and
// the ambient set. At execve, root keeps its bounding set; a user other
// than root keeps nothing, as no set it could inherit from is left.
//
// capset(2) changes the calling thread only: init calls it on the
// thread that will execve (containerinit locks it).
func SetCapabilities(keep []string) error {
	mask, err := Mask(keep)
	if err != nil {
		return err
	}
	// PR_CAP_AMBIENT_CLEAR_ALL: no capability is passed to a non-root
	// program through the ambient set. (EINVAL before Linux 4.3, where
	// there is no ambient set.)
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: 64 bits in two halves
	for i := range data {
		half := uint32(mask >> (32 * i))
		data[i] = unix.CapUserData{Effective: half, Permitted: half, Inheritable: 0}
	}
	if err := unix.Capset(&header, &data[0]); err != nil {
		return fmt.Errorf("set the capabilities (capset): %w", err)
	}
	return nil
}

// SetsMasks are the sets as masks: effective, permitted, inheritable and
// ambient, in that order.
func SetsMasks(s spec.CapabilitySets) ([4]uint64, error) {
	var masks [4]uint64
	for i, set := range [][]string{s.Effective, s.Permitted, s.Inheritable, s.Ambient} {
		mask, err := Mask(set)
		if err != nil {
			return masks, err
		}
		masks[i] = mask
	}
	return masks, nil
}

// SetCapabilitySets sets the effective, permitted and inheritable sets
// as given, then raises each ambient capability (the OCI spec's five
// sets, issue 23; the bounding set is DropBounding's). The kernel raises
// an ambient capability only when it is permitted and inheritable.
func SetCapabilitySets(s spec.CapabilitySets) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear the ambient capabilities: %w", err)
	}
	masks, err := SetsMasks(s)
	if err != nil {
		return err
	}
	header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		data[i] = unix.CapUserData{Effective: uint32(masks[0] >> (32 * i)), Permitted: uint32(masks[1] >> (32 * i)),
			Inheritable: uint32(masks[2] >> (32 * i))}
	}
	if err := unix.Capset(&header, &data[0]); err != nil {
		return fmt.Errorf("set the capabilities (capset): %w", err)
	}
	for _, name := range s.Ambient {
		n, ok := capabilityNumber(name)
		if !ok {
			return fmt.Errorf("unknown capability %q", name)
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("raise %s in the ambient set: %w", name, err)
		}
	}
	return nil
}

// KnownCapabilities are every capability boxcraft knows by name (the OCI
// front end's features, issue 23).
func KnownCapabilities() []string { return capabilityNames[:] }
