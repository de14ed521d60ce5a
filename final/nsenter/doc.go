// Package nsenter joins a running container's namespaces for boxcraft
// exec, as runc's libcontainer/nsenter does: before the Go runtime starts.
//
// Step02 made namespaces with clone(2). Joining them is setns(2), and two
// of them cannot be joined by a Go program once it runs: the kernel
// refuses a user namespace to a process that has more than one thread
// (and the Go runtime starts its second thread, sysmon, before any of
// boxcraft's code runs), and a mount namespace to a thread that shares its
// working folder with other threads. So the joining is C, in a
// constructor that the C library runs before main, while the process is
// still one thread (package nsexec, which boxcraft-exec-init alone links:
// boxcraft and boxcraft-runc build without cgo). It does nothing unless
// the environment holds EnvVar. This package is the Go half, the side
// of boxcraft exec: which namespaces to join, the variable, and the plan
// (Plan) that the constructor's child takes in the container, in C, up
// to the exec of the command: exec-init never starts the Go runtime.
//
// The hand-off, in the order it happens:
//
//	boxcraft exec (Go)                    boxcraft-exec-init (C only)
//	pidfd_open(container's init)
//	the plan: user looked up in
//	  /proc/PID/root, filter compiled
//	clone into the container's cgroup ──▶ constructor: waits on the socket
//	v1: write its pid to cgroup.procs
//	"go" on the socket ─────────────────▶ setns(pidfd, every namespace)
//	                                      root of the user namespace
//	                                      clone(CLONE_PARENT): the child is
//	                                        in the pid namespace, and
//	                                        boxcraft exec's own child
//	reads "pid N" ◀────────────────────── writes the child's pid, exits
//	the plan, on fd 3 ──────────────────▶ the child takes its steps:
//	its terminal's master (-t) ◀─────────── a terminal of the container's,
//	                                        working folder, bounding set,
//	                                        user, capabilities, seccomp…
//	report pipe: EOF ◀─────────────────── execve (or a failure, as JSON)
//
// setns(2) on a pidfd (Linux 5.8) joins several namespaces at once, the
// user namespace first, as one change: no half-joined state, and no
// window in which the container's init could die and its pid be reused.
package nsenter
