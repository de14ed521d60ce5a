package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The host's figures that docker stats' arithmetic needs.
const (
	procStat    = "/proc/stat"
	procMeminfo = "/proc/meminfo"
	// userHZ is the unit of /proc/stat's times: a hundredth of a second
	// on every Linux (USER_HZ, what sysconf(_SC_CLK_TCK) says).
	userHZ = 100
)

// host is what docker stats takes from the host: how many CPUs are
// online (100% is one of them), and its memory, the limit of a
// container that has none of its own.
type host struct {
	cpus   int
	memory uint64 // bytes
}

func readHost() (host, error) {
	cpus, err := readCPUList(onlineCPUs)
	if err != nil {
		return host{}, fmt.Errorf("read the CPUs online: %w", err)
	}
	data, err := os.ReadFile(procMeminfo)
	if err != nil {
		return host{}, err
	}
	memory, err := parseMemTotal(string(data))
	if err != nil {
		return host{}, fmt.Errorf("%s: %w", procMeminfo, err)
	}
	return host{cpus: len(cpus), memory: memory}, nil
}

// parseMemTotal reads /proc/meminfo's "MemTotal:  8036892 kB".
func parseMemTotal(text string) (uint64, error) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no MemTotal line")
}

// systemCPU is the CPU time all the host's CPUs have given since it
// started, busy or idle, in nanoseconds.
func systemCPU() (uint64, error) {
	data, err := os.ReadFile(procStat)
	if err != nil {
		return 0, err
	}
	ns, err := parseSystemCPU(string(data))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", procStat, err)
	}
	return ns, nil
}

// parseSystemCPU reads /proc/stat's first line, "cpu  user nice system
// idle iowait irq softirq steal guest guest_nice", in USER_HZ. As Docker,
// it sums the first seven: steal is time the CPU was not ours (a VM's
// host took it), and guest time is counted in user already.
func parseSystemCPU(text string) (uint64, error) {
	line, _, _ := strings.Cut(text, "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, fmt.Errorf("first line %q: want cpu and its times", line)
	}
	var ticks uint64
	for _, field := range fields[1:8] {
		n, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("first line %q: %w", line, err)
		}
		ticks += n
	}
	return ticks * (1e9 / userHZ), nil
}
