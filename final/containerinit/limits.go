package containerinit

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// rlimitNumbers are setrlimit(2)'s resources by the OCI spec's names.
var rlimitNumbers = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// RlimitKnown says whether name is a resource setrlimit(2) takes.
func RlimitKnown(name string) bool { _, ok := rlimitNumbers[name]; return ok }

// RlimitNumber is setrlimit(2)'s number for the resource name.
func RlimitNumber(name string) (int, bool) { n, ok := rlimitNumbers[name]; return n, ok }

// setRlimits sets each limit on init, which the command inherits across
// execve (issue 23: an OCI bundle's process.rlimits). Raising a hard
// limit needs CAP_SYS_RESOURCE, in the capability sets init has by then
// (securitySteps).
func setRlimits(limits []spec.Rlimit) error {
	for _, l := range limits {
		n, ok := rlimitNumbers[l.Type]
		if !ok {
			return fmt.Errorf("rlimit %s: unknown", l.Type)
		}
		// syscall's, not x/sys's: Go raised RLIMIT_NOFILE's soft limit at
		// start-up and puts it back at execve unless syscall.Setrlimit
		// changed it since.
		err := syscall.Setrlimit(n, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard})
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("setrlimit %s: %w: its hard limit is above the one init has, which boxcraft could not raise", l.Type, err)
		} else if err != nil {
			return fmt.Errorf("setrlimit %s: %w", l.Type, err)
		}
	}
	return nil
}

// memoryLimits are the limits that bound what Go's runtime maps: on the
// address space, or its writable part (RLIMIT_DATA). Init sets them
// last, at the execve (execUnderMemoryLimits), and the others in a step.
func memoryLimits(limits []spec.Rlimit) (memory, others []spec.Rlimit) {
	for _, l := range limits {
		if l.Type == "RLIMIT_AS" || l.Type == "RLIMIT_DATA" {
			memory = append(memory, l)
		} else {
			others = append(others, l)
		}
	}
	return memory, others
}

// setOOMScoreAdj biases the OOM killer for init and what it starts.
func setOOMScoreAdj(score int) error {
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(score)), 0); err != nil {
		return fmt.Errorf("write oom_score_adj: %w", err)
	}
	return nil
}
