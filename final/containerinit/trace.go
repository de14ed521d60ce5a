package containerinit

import (
	"os"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// openTracer is init's tracer (--trace): its lines go to a pipe of its
// own, c.Trace.FD, which the monitor relays onto boxcraft's stderr. The
// pipe is close-on-exec, so the command never holds it, and none of the
// trace reaches the container's stdout, stderr, log or pty. nil when
// the start is not traced.
func openTracer(c *spec.Container) *trace.Tracer {
	if c.Trace.Mode == "" || c.Trace.FD < 3 {
		return nil
	}
	// Marked again here, as every inherited descriptor is later
	// (closeInheritedFiles): the command must not inherit it.
	unix.CloseOnExec(c.Trace.FD)
	pipe := os.NewFile(uintptr(c.Trace.FD), "trace")
	return trace.New(pipe, c.Trace.Mode, trace.Init, time.Unix(0, c.Trace.Origin))
}

// lessonOf is where a step's idea is taught, as the trace names it: a
// lesson (step02…), or the final/ package an issue grew.
func lessonOf(tag string) string {
	switch tag {
	case "issue20":
		return "final/security"
	case "issue21":
		return "final/procfs"
	case "issue23":
		return "final/oci"
	}
	return tag
}

// runSteps runs the steps in order, each reported as one line once done,
// or by the kernel calls it reports itself: a failing start's last line
// is its failing step, with the errno.
func runSteps(tr *trace.Tracer, list []step) error {
	for _, s := range list {
		before, _ := tr.Written()
		start := tr.Start()
		err := s.do()
		// A step whose kernel calls reported themselves is not reported
		// again, unless it failed after them.
		if after, lastFailed := tr.Written(); after == before || (err != nil && !lastFailed) {
			tr.Done(start, lessonOf(s.lesson), s.name, err, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
