// Package trace narrates a container's start: one line per step the
// runtime asks of the kernel, from whichever process does it (the
// command line, the monitor, init), with the time since the start, how
// long it took, the call and its arguments as a reader wants them, the
// lesson that teaches it, and on a failure the errno and what it usually
// means (issue 25, `boxcraft run --trace`).
//
// A Tracer is a value handed to each package that reports; there is no
// global. A nil Tracer is off: its methods return at once, and the
// arguments, given as a closure, are never formatted.
//
// init writes its lines to a pipe of its own, which closes on exec; its
// monitor relays them (Relay) onto boxcraft's stderr, so nothing of the
// trace reaches the container's output, its log or its pty.
package trace
