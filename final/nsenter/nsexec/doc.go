// Package nsexec is the C half of package nsenter: a constructor that
// the C library runs before main, while the process is still one thread,
// and that joins the container's namespaces when _BOXCRAFT_NSENTER
// (nsenter.EnvVar) asks it to (runc calls its own nsexec), then forks a
// child that takes boxcraft exec's plan (nsenter.Plan) up to the
// command's exec: init's process steps, made as system calls with
// the numbers boxcraft exec worked out, so that exec-init never starts
// the Go runtime (issue 26). It is cgo, and only boxcraft-exec-init
// imports it: a program that links it is built with cgo and pays the C
// library's start at every start, which boxcraft and boxcraft-runc, run
// far more often, do not.
package nsexec
