package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// hardening is figure 10: what boxcraft's default security costs, at
// start-up (against --privileged, which drops none of it) and per system
// call (a getpid(2) loop inside, under the default seccomp filter and
// without one).
func (s *b) hardening() error {
	x := s.bx
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"default":    x.cmd("run", "--rm", "busybox", "/bin/true"),
		"privileged": x.cmd("run", "--rm", "--privileged", "busybox", "/bin/true"),
	})
	if err != nil {
		return err
	}
	filtered, unfiltered, err := s.getpidCosts()
	if err != nil {
		return err
	}
	s.section("10. boxcraft: what the hardening costs",
		"`boxcraft run --rm busybox /bin/true` with boxcraft's defaults (Docker's 14 capabilities, no_new_privs, the default seccomp profile compiled and installed, the device cgroup, masked and read-only paths, the runtime's binary read-only) against `--privileged`, which applies none of them. Then the probe's loop of 200,000 getpid(2) calls in a container, with the default seccomp filter and with `--security-opt seccomp=unconfined`: the filter runs on every system call (median of 5 containers each).",
		ratioTable)
	s.row("boxcraft run", results["default"], results["privileged"], "boxcraft run --privileged", 0)
	cost := results["default"].median() - results["privileged"].median()
	fmt.Fprintf(&s.report, "\nThe hardening adds %s to a start (goal: at most 1 ms). A getpid(2) takes %.0f ns under the default filter and %.0f ns without it: %.0f ns a system call.\n",
		round(cost), filtered, unfiltered, filtered-unfiltered)
	return nil
}

// getpidCosts runs the probe's getpid loop in containers of a rootfs
// that holds it, with and without the seccomp filter, and returns the
// median time of one call under each.
func (s *b) getpidCosts() (filtered, unfiltered float64, err error) {
	rootfs := filepath.Join(workDir, "hardening-rootfs")
	defer os.RemoveAll(rootfs)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return 0, 0, err
	}
	if out, err := exec.Command("tar", "-xf", s.image, "-C", rootfs).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("unpack the image for the probe: %v: %s", err, out)
	}
	probe := filepath.Join(filepath.Dir(s.bx.bin), "probe")
	if out, err := exec.Command("cp", probe, filepath.Join(rootfs, "probe")).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("copy the probe: %v: %s", err, out)
	}
	measure := func(flags ...string) (float64, error) {
		var costs []float64
		for i := 0; i < 5; i++ {
			args := append(append([]string{"run", "--rm", "--rootfs", rootfs}, flags...), "/probe", "getpids=200000")
			out, err := s.bx.output(args...)
			if err != nil {
				return 0, err
			}
			var f facts.Facts
			if err := json.Unmarshal([]byte(out), &f); err != nil {
				return 0, fmt.Errorf("the probe's report: %w", err)
			}
			costs = append(costs, f.Experiments.GetpidNs)
		}
		slices.Sort(costs)
		return costs[len(costs)/2], nil
	}
	if filtered, err = measure(); err != nil {
		return 0, 0, err
	}
	unfiltered, err = measure("--security-opt", "seccomp=unconfined")
	return filtered, unfiltered, err
}
