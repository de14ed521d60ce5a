package trace

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestOffFormatsNothingAndAllocatesNothing(t *testing.T) {
	var tr *Tracer
	formatted := false
	args := func() string { formatted = true; return "" }
	allocs := testing.AllocsPerRun(100, func() {
		_ = tr.Do("step03", "write", args, func() error { return nil })
	})
	assert.Zero(t, allocs, "a nil tracer allocates nothing")
	assert.False(t, formatted, "a nil tracer never formats the arguments")
	assert.ErrorIs(t, tr.Do("step04", "pivot_root", args, func() error { return unix.EINVAL }), unix.EINVAL, "the step's error comes back")
}

func TestAFailureNamesItsErrnoAndWhatItMeans(t *testing.T) {
	var out bytes.Buffer
	tr := New(&out, ModeText, Init, time.Now())
	err := tr.Do("step04", "pivot_root", func() string { return `(".", ".")` }, func() error { return fmt.Errorf("pivot: %w", unix.EINVAL) })
	require.Error(t, err)
	line := out.String()
	assert.Contains(t, line, "init     pivot_root (\".\", \".\")  [step04]  EINVAL: ")
	assert.Contains(t, line, "shared", "pivot_root's EINVAL: a shared mount")
	assert.True(t, strings.HasSuffix(line, "\n") && strings.Count(line, "\n") == 1, "one line")

	name, meaning := Explain("mount", unix.EPERM)
	assert.Equal(t, "EPERM", name)
	assert.Contains(t, meaning, "capability")
	name, _ = Explain("mount", fmt.Errorf("no errno"))
	assert.Empty(t, name, "an error without an errno names none")
}

func TestJSONLinesParseAndRelay(t *testing.T) {
	var inner, outer bytes.Buffer
	origin := time.Now()
	tr := New(&inner, ModeJSON, Init, origin)
	tr.Mark("step01", "execve", func() string { return `"/bin/sh"` })
	tr.Done(tr.Start(), "step03", "write", unix.ENOENT, func() string { return "memory.swap.max = max" })
	relay := New(&outer, ModeJSON, Monitor, origin)
	<-relay.Relay(&inner)
	lines := strings.Split(strings.TrimSuffix(outer.String(), "\n"), "\n")
	require.Len(t, lines, 2, "the relay copies each line whole")
	e, err := Parse([]byte(lines[1]))
	require.NoError(t, err)
	assert.Equal(t, Event{AtMs: e.AtMs, TookMs: e.TookMs, Proc: Init, Call: "write", Args: "memory.swap.max = max", Lesson: "step03",
		Errno: "ENOENT", Meaning: e.Meaning, Error: "no such file or directory"}, e)
	n, failed := relay.Written()
	assert.Equal(t, 2, n)
	assert.True(t, failed, "the relayed last line reports a failure")
}

func TestTextShortensContainerIDs(t *testing.T) {
	id := strings.Repeat("3f2a", 16)
	line := Format(Event{Proc: CLI, Call: "write", Args: "memory.max = 67108864  (cgroup v2, /sys/fs/cgroup/boxcraft/" + id + ")", Lesson: "step03"}, false)
	assert.Contains(t, line, "/boxcraft/3f2a3f2a3f2a…)  [step03]")
	assert.Contains(t, Format(Event{Args: id + "0"}, false), id+"0", "65 hex digits are no ID")
	assert.Contains(t, Format(Event{Args: "/" + id}, true), id, "JSON keeps the ID whole")
}

func TestAFailedStartEndsOnItsCause(t *testing.T) {
	var out bytes.Buffer
	origin := time.Now()
	initTr := New(&out, ModeText, Init, origin)
	monitorTr := initTr.As(Monitor) // one output, as a start's processes share it
	monitorTr.EndOnCause(false)     // no failure: nothing to repeat
	assert.Empty(t, out.String())
	_ = initTr.Do("step04", "pivot_root", func() string { return `(".", ".")` }, func() error { return unix.EINVAL })
	_ = monitorTr.Do("final/network", "netlink", func() string { return "veth" }, func() error { return unix.ENOENT })
	monitorTr.EndOnCause(false)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, "the cause is written again after what came later")
	assert.Equal(t, lines[0], lines[2], "the last line is the first failure")
	monitorTr.EndOnCause(false)
	assert.Equal(t, 3, strings.Count(out.String(), "\n"), "a trace already ending on its cause is left as it is")
}

// TestAFailedStartEndsOnInitsReport: when the start's error is init's
// own report, the trace ends on init's failed line, relayed after a
// monitor step that failed first in the trace because init had ended.
func TestAFailedStartEndsOnInitsReport(t *testing.T) {
	var out bytes.Buffer
	monitorTr := New(&out, ModeText, Monitor, time.Now())
	_ = monitorTr.Do("final/network", "netlink", func() string { return "veth" }, func() error { return unix.ENOENT })
	initLine := Format(Event{Proc: Init, Call: "set up the root and pivot into it", Error: "mount proc: not a directory", Errno: "ENOTDIR"}, false)
	<-monitorTr.Relay(strings.NewReader(initLine))
	monitorTr.EndOnCause(true)
	assert.True(t, strings.HasSuffix(out.String(), initLine), "the last line is init's failure:\n%s", out.String())
	assert.Equal(t, 2, strings.Count(out.String(), "\n"), "it was last already: nothing is written again")
	monitorTr.EndOnCause(false)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, lines[0], lines[2], "otherwise the cause is the first failure, the monitor's")
}

// TestRestIsTheLineAfterItsTimes: a line that exec-init's C writes (its
// own times, then Rest, then the failure) is the line Format writes.
func TestRestIsTheLineAfterItsTimes(t *testing.T) {
	e := Event{AtMs: 12.5, TookMs: 0.25, Proc: Init, Call: "execve", Args: `"/bin/true" ["true"]`, Lesson: "step01"}
	text := fmt.Sprintf("%+8.2fms %7.2fms  ", e.AtMs, e.TookMs) + Rest(e, false) + "\n"
	assert.Equal(t, Format(e, false), text)
	failed := e
	failed.Error = "exec true: permission denied"
	assert.Equal(t, Format(failed, false), strings.TrimSuffix(text, "\n")+"  failed: "+failed.Error+"\n")

	line := fmt.Sprintf(`{"at_ms":%.3f,"took_ms":%.3f`, e.AtMs, e.TookMs) + Rest(e, true) + `,"error":"exec true: permission denied"}`
	back, err := Parse([]byte(line))
	require.NoError(t, err, line)
	assert.Equal(t, failed, back)
}
