package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
)

// topCommand is docker top: the host's ps, with the options given (-ef
// when none), and of its lines the header and those of the container's
// processes, the ones in its cgroup (their pids are the host's, as ps
// shows them). As Docker's, it needs ps on the host, and a PID column.
func topCommand(a *app, flags *pflag.FlagSet) (int, error) {
	rt, c, err := a.firstContainer(flags, 1, "a container, and ps's options after it (-ef when none)")
	if err != nil {
		return statusFailed, err
	}
	if c.Status.Status != state.Running {
		return statusFailed, fmt.Errorf("container %s %w", c.Record.Spec.Name, runtime.ErrNotRunning)
	}
	pids, err := rt.Procs(c)
	if err != nil {
		return statusFailed, err
	}
	options := flags.Args()[1:]
	if len(options) == 0 {
		options = []string{"-ef"}
	}
	lines, err := psLines(options)
	if err != nil {
		return statusFailed, err
	}
	kept, err := linesOf(lines, pids)
	if err != nil {
		return statusFailed, fmt.Errorf("ps %s: %w", strings.Join(options, " "), err)
	}
	_, err = fmt.Fprint(a.stdout, strings.Join(kept, "\n")+"\n")
	return 0, err
}

// psLines runs the host's ps with options, and returns its lines.
func psLines(options []string) ([]string, error) {
	var stderr bytes.Buffer
	ps := exec.Command("ps", options...)
	ps.Stderr = &stderr
	out, err := ps.Output()
	if err != nil {
		if msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg) // its first line: the usage follows
		}
		return nil, fmt.Errorf("ps %s: %w", strings.Join(options, " "), err)
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n"), nil
}

// linesOf keeps ps's header and the lines whose PID is one of pids. The
// PID is found as the header's how-manieth word, as Docker finds it: a
// column before it whose values hold spaces (args, lstart) shifts it,
// and such a line is refused rather than left out.
func linesOf(lines []string, pids []int) ([]string, error) {
	column := slices.Index(strings.Fields(lines[0]), "PID")
	if column < 0 {
		return nil, errors.New("its output has no PID column: give options that show one")
	}
	kept := []string{lines[0]}
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= column {
			return nil, fmt.Errorf("a line has no PID: %q", line)
		}
		pid, err := strconv.Atoi(fields[column])
		if err != nil {
			return nil, fmt.Errorf("unexpected pid %q: put PID before any column whose values hold spaces", fields[column])
		}
		if slices.Contains(pids, pid) {
			kept = append(kept, line)
		}
	}
	return kept, nil
}
