// Command boxcraft-exec-init is boxcraft exec's process in a container
// (and boxcraft-runc exec's). boxcraft exec starts it from beside
// boxcraft (make bins builds it there), read-only (CVE-2019-5736), with
// _BOXCRAFT_NSENTER set: package nsexec's C constructor joins the
// container's namespaces and forks before main, and the child reads its
// settings on fd 3, applies the process's steps and execs the command
// (containerinit.ExecMain).
//
// Why a program of its own (issue 26): it is the only one of boxcraft's
// programs that needs C, and so cgo, linked statically (make bins). It
// was boxcraft itself, as `boxcraft exec-init`, which made boxcraft, and
// boxcraft-runc, pay cgo's start at every command, and an exec pay
// boxcraft's whole Go start twice. This one links containerinit and the
// constructor alone.
package main

import (
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/nsenter"
	"github.com/boxcraft/boxcraft/final/nsenter/nsexec"
)

func main() {
	// Built without cgo, it has no constructor: it would join nothing,
	// and boxcraft exec would wait for a child that never comes. Ending
	// closes its end of the socket, and boxcraft exec says it ended.
	if !nsexec.Available {
		fmt.Fprintln(os.Stderr, "boxcraft-exec-init: built without cgo (make bins builds it with cgo, static)")
		os.Exit(125)
	}
	if os.Getenv(nsenter.EnvVar) == "" {
		fmt.Fprintln(os.Stderr, "boxcraft-exec-init: started by boxcraft exec, not by hand")
		os.Exit(125)
	}
	containerinit.ExecMain() // returns only through os.Exit
}
