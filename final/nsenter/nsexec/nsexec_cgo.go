//go:build cgo

package nsexec

// The C is in nsexec.c, plan.c, steps.c, terminal.c, exec.c and report.c: cgo
// compiles them into any program that imports this package.

/*
#cgo CFLAGS: -Wall -Wextra -Wno-unused-parameter -O2
*/
import "C"

// Available says that this program can join namespaces: it was built
// with cgo, so the constructor is in it.
const Available = true
