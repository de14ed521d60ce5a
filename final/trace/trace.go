package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// The modes --trace takes: the text a reader reads, or JSON lines.
const (
	ModeText = "text"
	ModeJSON = "json"
)

// The processes a line comes from.
const (
	CLI     = "cli"
	Monitor = "monitor"
	Init    = "init"
)

// Event is one step: the JSON of --trace=json, field for field.
type Event struct {
	AtMs    float64 `json:"at_ms"`   // since the command started
	TookMs  float64 `json:"took_ms"` // 0 for a mark (a step about to happen)
	Proc    string  `json:"proc"`    // cli, monitor or init
	Call    string  `json:"call"`    // the kernel call, or the step's name
	Args    string  `json:"args,omitempty"`
	Lesson  string  `json:"lesson"` // step02…, final/network…
	Errno   string  `json:"errno,omitempty"`
	Meaning string  `json:"meaning,omitempty"` // what the errno usually means here
	Error   string  `json:"error,omitempty"`
}

// Tracer writes events, as text or JSON lines, to one writer. Its zero
// value is not used: nil is off.
type Tracer struct {
	out    *output
	json   bool
	origin time.Time
	proc   string
}

// output is a writer that tracers of several processes' lines share.
type output struct {
	mu         sync.Mutex
	w          io.Writer
	off        bool   // Close: nothing more is written
	count      int    // the lines written, relayed ones included
	lastFailed bool   // whether the last line written reports a failure
	cause      []byte // the first line that reported a failure
	relayed    []byte // the first relayed line that reported one
	last       []byte // the last line written
}

// New is a tracer writing mode's lines to w for proc, timed from origin
// (the command's start, shared by every process of one start).
func New(w io.Writer, mode, proc string, origin time.Time) *Tracer {
	return &Tracer{out: &output{w: w}, json: mode == ModeJSON, origin: origin, proc: proc}
}

// As is t for another process's lines on the same output: the monitor's,
// when it runs in boxcraft's own process.
func (t *Tracer) As(proc string) *Tracer {
	if t == nil {
		return nil
	}
	return &Tracer{out: t.out, json: t.json, origin: t.origin, proc: proc}
}

// Written is how many lines t's output has had, and whether the last
// reported a failure: a step whose inner calls reported themselves need
// not be reported again.
func (t *Tracer) Written() (int, bool) {
	if t == nil {
		return 0, false
	}
	t.out.mu.Lock()
	defer t.out.mu.Unlock()
	return t.out.count, t.out.lastFailed
}

// CheckMode refuses a --trace value other than text and json.
func CheckMode(mode string) error {
	if mode != ModeText && mode != ModeJSON {
		return fmt.Errorf("--trace=%s: give text or json", mode)
	}
	return nil
}

// Enabled tells whether t writes: callers that would build arguments at
// a cost check it first.
func (t *Tracer) Enabled() bool { return t != nil }

// Mode is t's mode, text or json, for the processes it hands the start to.
func (t *Tracer) Mode() string {
	if t.json {
		return ModeJSON
	}
	return ModeText
}

// Origin is the time t's offsets count from.
func (t *Tracer) Origin() time.Time { return t.origin }

// Start is the time a step begins, or the zero time when off (no clock read).
func (t *Tracer) Start() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Now()
}

// Done reports a step begun at start (Start): call and its arguments,
// formatted only when on, the lesson, and err if it failed.
func (t *Tracer) Done(start time.Time, lesson, call string, err error, args func() string) {
	if t == nil {
		return
	}
	now := time.Now()
	e := Event{AtMs: ms(start.Sub(t.origin)), TookMs: ms(now.Sub(start)), Proc: t.proc, Call: call, Lesson: lesson}
	if args != nil {
		e.Args = args()
	}
	if err != nil {
		e.Errno, e.Meaning = Explain(call, err)
		e.Error = err.Error()
	}
	t.write(e)
}

// Do runs do as one step and reports it.
func (t *Tracer) Do(lesson, call string, args func() string, do func() error) error {
	if t == nil {
		return do()
	}
	start := time.Now()
	err := do()
	t.Done(start, lesson, call, err, args)
	return err
}

// Mark reports a step about to happen that cannot report its end (an
// execve that succeeds): its duration is 0.
func (t *Tracer) Mark(lesson, call string, args func() string) {
	if t == nil {
		return
	}
	now := time.Now()
	t.write(Event{AtMs: ms(now.Sub(t.origin)), Proc: t.proc, Call: call, Args: args(), Lesson: lesson})
}

// Close stops t: a monitor's tracer writes nothing once the command runs.
func (t *Tracer) Close() {
	if t == nil {
		return
	}
	t.out.mu.Lock()
	t.out.off = true
	t.out.mu.Unlock()
}

func (t *Tracer) write(e Event) {
	t.out.put([]byte(Format(e, t.json)), e.Error != "", false)
}

// put writes one line, whole: the lines of several processes do not mix.
func (o *output) put(line []byte, failed, relayed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.off {
		_, _ = o.w.Write(line)
		o.count++
		o.lastFailed, o.last = failed, line
		if failed && o.cause == nil {
			o.cause = line
		}
		if failed && relayed && o.relayed == nil {
			o.relayed = line
		}
	}
}

// EndOnCause ends a failed start's trace on its cause: the first step
// that failed is written again as the last line when other lines came
// after it, for the processes of a start work side by side (the monitor
// sets the network up while init sets its root up) and what the others
// did after the failure, or failed at because of it, is not the cause.
// When the start's error is another process's own report (relayed:
// init's failure), the cause is that process's first failed line, even
// if a step of this one failed first in the trace because of it (a veth
// moved into the network namespace of an init that had just ended).
func (t *Tracer) EndOnCause(relayed bool) {
	if t == nil {
		return
	}
	o := t.out
	o.mu.Lock()
	defer o.mu.Unlock()
	cause := o.cause
	if relayed && o.relayed != nil {
		cause = o.relayed
	}
	if cause != nil && !bytes.Equal(o.last, cause) && !o.off {
		_, _ = o.w.Write(cause)
		o.count++
		o.lastFailed, o.last = true, cause
	}
}

// Relay copies the lines another process wrote in the same mode (init's,
// a detached monitor's) to t's writer, until r ends. It returns a channel
// closed when r has ended.
func (t *Tracer) Relay(r io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		lines := bufio.NewScanner(r)
		lines.Buffer(make([]byte, 64*1024), 1024*1024)
		for lines.Scan() {
			line := append(lines.Bytes(), '\n')
			t.out.put(line, relayedFailure(line), true)
		}
	}()
	return done
}

// relayedFailure tells whether a relayed line reports a failure: a
// JSON line with an error, or a text line with an errno or "failed:".
func relayedFailure(line []byte) bool {
	s := string(line)
	return strings.Contains(s, `"error":`) || strings.Contains(s, "]  E") || strings.Contains(s, "]  failed: ")
}

// Format is e as one line of text, or of JSON.
func Format(e Event, asJSON bool) string {
	if asJSON {
		data, _ := json.Marshal(e)
		return string(data) + "\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%+8.2fms %7.2fms  %-7s  %s", e.AtMs, e.TookMs, e.Proc, e.Call)
	if e.Args != "" {
		b.WriteString(" " + shortIDs(e.Args))
	}
	fmt.Fprintf(&b, "  [%s]", e.Lesson)
	if e.Errno != "" {
		fmt.Fprintf(&b, "  %s: %s", e.Errno, e.Meaning)
	} else if e.Error != "" {
		fmt.Fprintf(&b, "  failed: %s", e.Error)
	}
	return b.String() + "\n"
}

// Rest is e's line as Format writes it without its times and its end:
// what follows "took" up to the newline (text), or up to the closing
// brace (JSON). It is for a process that writes the times itself and
// cannot call Format (exec-init's C: nsenter.Plan), and adds a failure
// ("  failed: …", or ,"error":"…") at the end.
func Rest(e Event, asJSON bool) string {
	e.AtMs, e.TookMs, e.Errno, e.Meaning, e.Error = 0, 0, "", "", ""
	line := strings.TrimSuffix(Format(e, asJSON), "\n")
	if asJSON {
		return strings.TrimSuffix(strings.TrimPrefix(line, `{"at_ms":0,"took_ms":0`), "}")
	}
	return line[len(fmt.Sprintf("%+8.2fms %7.2fms  ", 0.0, 0.0)):]
}

// shortIDs shortens each container ID (64 hex digits) in s to its first
// 12, as docker ps shows it: the text is for a reader (JSON keeps it).
func shortIDs(s string) string {
	var b strings.Builder
	run := 0 // hex digits in a row, s[i] included
	for i := 0; i < len(s); i++ {
		if run = run + 1; !isHex(s[i]) {
			run = 0
		}
		b.WriteByte(s[i])
		if run == 64 && (i+1 == len(s) || !isHex(s[i+1])) {
			out := b.String()
			b.Reset()
			b.WriteString(out[:len(out)-64+12] + "…")
		}
	}
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// Parse reads one line of --trace=json back (tests, tools).
func Parse(line []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(line, &e)
	return e, err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
