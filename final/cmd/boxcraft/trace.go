package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/trace"
	"github.com/spf13/pflag"
)

// addTraceFlag is --trace, on run and build: each step of a start on
// boxcraft's stderr (final/trace); --trace=json as JSON lines.
func addTraceFlag(flags *pflag.FlagSet) {
	flags.String("trace", "", "print each step of the start, the kernel call and the lesson that teaches it, on stderr (--trace=json: JSON lines)")
	flags.Lookup("trace").NoOptDefVal = trace.ModeText
}

// startTrace gives rt a tracer when --trace is given, timed from now.
func startTrace(rt *runtime.Runtime, flags *pflag.FlagSet) error {
	mode, _ := flags.GetString("trace")
	if !flags.Changed("trace") {
		return nil
	}
	if err := trace.CheckMode(mode); err != nil {
		return err
	}
	rt.Trace = trace.New(os.Stderr, mode, trace.CLI, time.Now())
	return nil
}

// traceHint ends a failed start's one line by pointing at --trace, when
// the start was not traced. An exec refused before anything started (the
// container is not running, or paused) has no step to show.
func traceHint(rt *runtime.Runtime, err error) error {
	if err == nil || rt.Trace.Enabled() || errors.Is(err, runtime.ErrNotRunning) || errors.Is(err, runtime.ErrPaused) {
		return err
	}
	return fmt.Errorf("%w; run with --trace to see each step", err)
}
