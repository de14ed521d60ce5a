package nsenter

import (
	"encoding/binary"
	"strconv"
)

// A Plan is what exec-init's child does once it is in the container,
// step by step, up to and including the exec of the command: boxcraft
// exec decides it (its order, its numbers: the user found, the seccomp
// filter compiled, the capability masks), and the child, C that never
// starts the Go runtime (package nsexec), only makes each call. The Go
// runtime's start, some 5 ms a process on the workshop's machines, is
// then paid once per exec, by boxcraft exec itself (issue 26).
//
// On the wire (the settings pipe, read to its end) a plan is a list of
// steps, each a byte naming what to do and its fields, each field a
// 32-bit little-endian length, the bytes and a NUL:
//
//	op  count  len line NUL  len arg NUL  len arg NUL …
//
// Every step's first field is its trace line (Line), empty when not
// traced; the rest are its arguments, numbers in decimal. nsexec's plan.c
// reads the same, and its steps.c says a failure in containerinit's
// words.
type Plan struct {
	buf []byte
}

// The steps, as nsexec's C names them.
const (
	opTrace      = 'T' // the trace: mode (text, json or empty), its descriptor, the origin in ns
	opTerminal   = 't' // a pty from the container's /dev/ptmx: its master sent on a socket, its slave stdio
	opSession    = 's' // setsid(2); with "tty", its stdin (a pty) becomes the session's terminal
	opSysinfo    = 'i' // install a filter with a listener (a BPF program), send the listener on a descriptor
	opCloseFrom  = 'c' // mark every descriptor from 3 on close-on-exec
	opChdir      = 'd' // make the working folder if missing, enter it, check it is inside the root
	opOOMScore   = 'o' // write oom_score_adj
	opSeccomp    = 'f' // install a filter (a BPF program)
	opBounding   = 'b' // drop from the bounding set every capability not in a mask, up to the last; then the names
	opKeepCaps   = 'k' // PR_SET_KEEPCAPS
	opIDs        = 'u' // setgroups, setresgid, setresuid: who (for a failure), gid, uid, then the groups
	opCapset     = 'p' // capset(2) of effective, permitted, inheritable masks; each of an ambient mask raised; the names
	opNoNewPrivs = 'n' // PR_SET_NO_NEW_PRIVS
	opRlimits    = 'r' // setrlimit: resource, soft, hard, for each
	opExec       = 'x' // find the command in PATH and execve it: PATH, argc, argv…, env…
)

// PathMark stands, in the exec step's trace line, for the command's path
// as the child finds it (quoted, as %q would).
const PathMark = "@PATH@"

// Line is a step's trace line without its times: what trace.Format
// writes after them, up to the end of the line (text), or after the
// times and before the closing brace (JSON). The child writes the times
// itself, and a failure at the end.
type Line = string

func (p *Plan) add(op byte, line Line, args ...string) {
	p.buf = append(p.buf, op)
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(1+len(args)))
	for _, f := range append([]string{line}, args...) {
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(f)))
		p.buf = append(append(p.buf, f...), 0)
	}
}

// Bytes is the plan as the child reads it.
func (p *Plan) Bytes() []byte { return p.buf }

// Trace makes the child write its steps' lines to fd in mode, timed from
// origin (ns since the epoch, the command's start).
func (p *Plan) Trace(mode string, fd int, origin int64) {
	p.add(opTrace, "", mode, strconv.Itoa(fd), strconv.FormatInt(origin, 10))
}

// Terminal makes the child's terminal, as init makes the container's
// (final/console): a pty from the container's /dev/ptmx, sized width by
// height (when not 0), given to uid (the user the command runs as, its
// group left devpts's), its master sent on socket (SCM_RIGHTS), its
// slave the child's stdin, stdout and stderr. Session, after it, makes
// it the session's terminal.
func (p *Plan) Terminal(socket int, uid uint32, width, height uint16, line Line) {
	p.add(opTerminal, line, strconv.Itoa(socket), strconv.FormatUint(uint64(uid), 10),
		strconv.Itoa(int(width)), strconv.Itoa(int(height)))
}

// Session makes the child a session leader, with its pty as the
// session's terminal when tty.
func (p *Plan) Session(tty bool, line Line) {
	arg := ""
	if tty {
		arg = "tty"
	}
	p.add(opSession, line, arg)
}

// Sysinfo installs prog, a filter that hands sysinfo(2) to a listener,
// and sends the listener to the monitor on fd.
func (p *Plan) Sysinfo(prog []byte, fd int, line Line) {
	p.add(opSysinfo, line, string(prog), strconv.Itoa(fd))
}

// CloseInherited marks every descriptor from 3 on close-on-exec: the
// command inherits none of boxcraft's.
func (p *Plan) CloseInherited(line Line) { p.add(opCloseFrom, line) }

// Chdir enters dir, made first if missing, as Docker does.
func (p *Plan) Chdir(dir string, line Line) { p.add(opChdir, line, dir) }

// OOMScore writes score to /proc/self/oom_score_adj.
func (p *Plan) OOMScore(score int, line Line) {
	p.add(opOOMScore, line, strconv.Itoa(score))
}

// Seccomp installs prog, a filter compiled by package seccomp.
func (p *Plan) Seccomp(prog []byte, line Line) {
	p.add(opSeccomp, line, string(prog))
}

// Bounding drops every capability outside keep, up to last, the
// kernel's, from the bounding set; names are the capabilities' names by
// number, for a failure's message.
func (p *Plan) Bounding(keep uint64, last int, names []string, line Line) {
	args := append([]string{strconv.FormatUint(keep, 10), strconv.Itoa(last)}, names...)
	p.add(opBounding, line, args...)
}

// KeepCaps keeps the permitted set across the change of user.
func (p *Plan) KeepCaps(line Line) {
	p.add(opKeepCaps, line)
}

// IDs sets the groups, the group and the user; who is how a failure names
// the user (-u's value).
func (p *Plan) IDs(who string, uid, gid uint32, groups []uint32, line Line) {
	args := []string{"user " + strconv.Quote(who), strconv.FormatUint(uint64(gid), 10), strconv.FormatUint(uint64(uid), 10)}
	for _, g := range groups {
		args = append(args, strconv.FormatUint(uint64(g), 10))
	}
	p.add(opIDs, line, args...)
}

// Capset sets the effective, permitted and inheritable sets, after the
// ambient set is cleared, then raises each capability of ambient; names
// as Bounding's.
func (p *Plan) Capset(effective, permitted, inheritable, ambient uint64, names []string, line Line) {
	args := []string{strconv.FormatUint(effective, 10), strconv.FormatUint(permitted, 10),
		strconv.FormatUint(inheritable, 10), strconv.FormatUint(ambient, 10)}
	p.add(opCapset, line, append(args, names...)...)
}

// NoNewPrivs sets no_new_privs.
func (p *Plan) NoNewPrivs(line Line) { p.add(opNoNewPrivs, line) }

// Rlimit is one setrlimit(2): its resource by number.
type Rlimit struct {
	Name       string // RLIMIT_NOFILE…, for a failure's message
	Resource   int
	Soft, Hard uint64
}

// Rlimits sets each limit.
func (p *Plan) Rlimits(limits []Rlimit, line Line) {
	var args []string
	for _, l := range limits {
		args = append(args, l.Name, strconv.Itoa(l.Resource), strconv.FormatUint(l.Soft, 10), strconv.FormatUint(l.Hard, 10))
	}
	p.add(opRlimits, line, args...)
}

// Exec looks argv[0] up in path (a name without a slash) and executes
// it with env; line holds PathMark where the path goes.
func (p *Plan) Exec(path string, argv, env []string, line Line) {
	args := append([]string{path, strconv.Itoa(len(argv))}, argv...)
	p.add(opExec, line, append(args, env...)...)
}
