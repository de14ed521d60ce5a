package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/boxcraft/boxcraft/internal/facts"
)

// procView is figure 14: what the container's own /proc costs (issue
// 21). A read of /proc/meminfo inside, answered by the monitor over
// FUSE, against the kernel's own file (--proc=host); a sysinfo(2)
// answered by the monitor through seccomp user notification, against
// the kernel's; and the monitors' memory with 20 containers running,
// with the view and without.
func (s *b) procView() error {
	rootfs, done, err := s.probeRootfs("proc-rootfs")
	if err != nil {
		return err
	}
	defer done()
	costs := map[string]float64{}
	for _, c := range []struct{ name, proc, experiment string }{
		{"read view", "container", "reads=/proc/meminfo:2000"}, {"read host", "host", "reads=/proc/meminfo:2000"},
		{"sysinfo view", "container", "sysinfos=2000"}, {"sysinfo host", "host", "sysinfos=2000"},
	} {
		if costs[c.name], err = s.probeMedian(rootfs, c.proc, c.experiment); err != nil {
			return err
		}
	}
	view, err := s.monitorsMemory("container")
	if err != nil {
		return err
	}
	host, err := s.monitorsMemory("host")
	if err != nil {
		return err
	}
	s.section("14. boxcraft: the container's own /proc",
		"The probe in a container reads /proc/meminfo 2,000 times (open, read to the end, close), and calls sysinfo(2) 2,000 times, with boxcraft's view (the default: the monitor answers both, over FUSE and through seccomp user notification) and with `--proc=host` (the kernel answers); median of 5 containers each. Then 20 containers of `busybox sleep 600` with each, and their monitors' memory (/proc/PID/smaps_rollup), as figure 8 reads it: the view lives in the monitor, so its cost is the difference.",
		"| what | with the view | the kernel's (`--proc=host`) | target |\n|---|---|---|---|\n")
	fmt.Fprintf(&s.report, "| a read of /proc/meminfo | %.1f µs | %.1f µs | < 50 µs: %s |\n", costs["read view"]/1e3, costs["read host"]/1e3, verdict(costs["read view"] < 50e3))
	fmt.Fprintf(&s.report, "| a sysinfo(2) | %.1f µs | %.2f µs | < 50 µs: %s |\n", costs["sysinfo view"]/1e3, costs["sysinfo host"]/1e3, verdict(costs["sysinfo view"] < 50e3))
	for _, row := range []struct {
		what string
		f    func(memory) int
	}{{"a monitor's anonymous memory", func(m memory) int { return m.anon }}, {"a monitor's private memory (USS)", func(m memory) int { return m.private }}} {
		fmt.Fprintf(&s.report, "| %s, median of 20 | %s | %s | — |\n", row.what, kib(median(pick(view, row.f))), kib(median(pick(host, row.f))))
	}
	fmt.Fprintf(&s.report, "| the 20 monitors' PSS together | %s | %s | ≤ 10 MiB more than without: %s |\n",
		kib(sum(pick(view, pssOf))), kib(sum(pick(host, pssOf))), verdict(sum(pick(view, pssOf))-sum(pick(host, pssOf)) <= 10<<10))
	return nil
}

func pssOf(m memory) int { return m.pss }

func pick(all []memory, f func(memory) int) []int {
	var v []int
	for _, m := range all {
		v = append(v, f(m))
	}
	return v
}

func sum(v []int) int {
	total := 0
	for _, n := range v {
		total += n
	}
	return total
}

// probeRootfs unpacks the image with the probe at /probe.
func (s *b) probeRootfs(name string) (string, func(), error) {
	rootfs := filepath.Join(workDir, name)
	done := func() { os.RemoveAll(rootfs) }
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return "", done, err
	}
	if out, err := exec.Command("tar", "-xf", s.image, "-C", rootfs).CombinedOutput(); err != nil {
		done()
		return "", done, fmt.Errorf("unpack the image for the probe: %v: %s", err, out)
	}
	probe := filepath.Join(filepath.Dir(s.bx.bin), "probe")
	if out, err := exec.Command("cp", probe, filepath.Join(rootfs, "probe")).CombinedOutput(); err != nil {
		done()
		return "", done, fmt.Errorf("copy the probe: %v: %s", err, out)
	}
	return rootfs, done, nil
}

// probeMedian runs the probe's experiment in 5 containers with --proc
// proc, and returns the median of the time it reports (ns).
func (s *b) probeMedian(rootfs, proc, experiment string) (float64, error) {
	var costs []float64
	for range 5 {
		out, err := s.bx.output("run", "--rm", "--rootfs", rootfs, "--proc", proc, "/probe", experiment)
		if err != nil {
			return 0, err
		}
		var f facts.Facts
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			return 0, fmt.Errorf("the probe's report: %w", err)
		}
		costs = append(costs, max(f.Experiments.ReadFileNs, f.Experiments.SysinfoNs))
	}
	slices.Sort(costs)
	return costs[len(costs)/2], nil
}

// monitorsMemory starts 20 detached containers with --proc proc, reads
// their monitors' memory 2 s later, and removes them.
func (s *b) monitorsMemory(proc string) ([]memory, error) {
	var ids []string
	defer func() {
		if len(ids) > 0 {
			_, _ = s.bx.output(append([]string{"rm", "-f"}, ids...)...)
		}
	}()
	for range 20 {
		id, err := s.bx.output("run", "-d", "--proc", proc, "busybox", "sleep", "600")
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	time.Sleep(2 * time.Second)
	var all []memory
	for _, id := range ids {
		m, err := s.bx.monitorMemory(id)
		if err != nil {
			return nil, err
		}
		all = append(all, m)
	}
	return all, nil
}
