// Command boxcraft-exec-init is boxcraft exec's process in a container
// (and boxcraft-runc exec's). boxcraft exec starts it from beside
// boxcraft (make bins builds it there), read-only (CVE-2019-5736), with
// _BOXCRAFT_NSENTER set: package nsexec's C constructor joins the
// container's namespaces and forks before main, and the child takes the
// plan boxcraft exec wrote on fd 3 (nsenter.Plan), in C, up to the exec
// of the command. Neither process ever reaches main, nor starts the Go
// runtime (issue 26: its start was half an exec's time in the child).
//
// Why a program of its own: it is the only one of boxcraft's programs
// that needs C, and so cgo, linked statically (make bins). boxcraft and
// boxcraft-runc, run far more often, build without cgo.
package main

import (
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/nsenter/nsexec"
)

// main runs only when the constructor had nothing to do: started by hand.
func main() {
	// Built without cgo, it has no constructor: it would join nothing,
	// and boxcraft exec would wait for a child that never comes. Ending
	// closes its end of the socket, and boxcraft exec says it ended.
	if !nsexec.Available {
		fmt.Fprintln(os.Stderr, "boxcraft-exec-init: built without cgo (make bins builds it with cgo, static)")
		os.Exit(125)
	}
	fmt.Fprintln(os.Stderr, "boxcraft-exec-init: started by boxcraft exec, not by hand")
	os.Exit(125)
}
