package main

// boxcraft's figure of --trace (issue 25, final/trace): what tracing
// costs a start when it is off, and when it is on.

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/boxcraft/boxcraft/final/trace"
)

// tracing writes figure 18: a start with --trace against one without,
// and what one step's report costs when the tracer is off (nil), by
// testing.Benchmark, against calling the step bare.
func (s *b) tracing() error {
	x := s.bx
	out, err := x.traceOf("run", "--rm", "--trace", "busybox", "/bin/true")
	if err != nil {
		return err
	}
	steps := strings.Count(out, "\n")
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"off": x.cmd("run", "--rm", "busybox", "/bin/true"),
		"on":  x.cmd("run", "--rm", "--trace", "busybox", "/bin/true"), // stderr to /dev/null
	})
	if err != nil {
		return err
	}
	bare, off := stepCost(nil, false), stepCost(nil, true)
	added := time.Duration(steps) * (off.perOp - bare.perOp)
	s.section("18. boxcraft: --trace",
		fmt.Sprintf("`boxcraft run --rm --trace busybox /bin/true` (its %d lines to /dev/null) against the same without --trace, in turn. Off, each step calls its tracer, nil: `tr.Do(lesson, call, args, step)` returns `step()` at once, and the arguments, a closure, are never formatted; testing.Benchmark times one such call against calling the step bare (a no-op), and the line below multiplies the difference by the %d steps a start reports. The goal: off costs a start nothing measurable, under 1 µs (a start takes milliseconds).", steps, steps),
		ratioTable)
	s.row("run --rm --trace", results["on"], results["off"], "run --rm", 0)
	fmt.Fprintf(&s.report, "\nOff, one step's report costs %.1f ns and %d allocations (a bare call: %.1f ns, %d); %d steps add %.2f µs to a start whose median is %s (goal < 1 µs: %s).\n",
		float64(off.perOp), off.allocs, float64(bare.perOp), bare.allocs, steps, float64(added)/1e3, round(results["off"].median()), verdict(added < time.Microsecond))
	return nil
}

// traceOf runs a traced boxcraft command and returns its trace (stderr).
func (x *boxcraft) traceOf(args ...string) (string, error) {
	cmd := x.cmd(args...)()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("boxcraft %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String(), nil
}

// cost is one call's time and allocations.
type cost struct {
	perOp  time.Duration
	allocs int64
}

// stepCost times a step (a no-op that counts) called bare, or through
// tr.Do with its arguments as a trace would format them.
func stepCost(tr *trace.Tracer, reported bool) cost {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		calls, file, value := 0, "memory.max", int64(67108864)
		step := func() error { calls++; return nil }
		for b.Loop() {
			if reported {
				_ = tr.Do("step03", "write", func() string { return fmt.Sprintf("%s = %d", file, value) }, step)
			} else {
				_ = step()
			}
		}
	})
	return cost{perOp: time.Duration(r.NsPerOp()), allocs: r.AllocsPerOp()}
}
