package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// addProcFlags adds --proc: whose /proc the container's meminfo,
// cpuinfo, stat, uptime, loadavg, swaps, diskstats and sysinfo(2) are
// (issue 21). Docker has no such flag: its containers see the host's.
func addProcFlags(flags *pflag.FlagSet) {
	flags.String("proc", "container", "container: /proc's memory, CPU and uptime files and sysinfo(2) answer from the container's limits; host: the host's")
}

// parseProc reads --proc: true for the container's view.
func parseProc(flags *pflag.FlagSet) (bool, error) {
	value, _ := flags.GetString("proc")
	switch value {
	case "container":
		return true, nil
	case "host":
		return false, nil
	}
	return false, fmt.Errorf("--proc %s: give container or host", value)
}
