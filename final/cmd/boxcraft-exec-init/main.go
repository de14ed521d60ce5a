// Command boxcraft-exec-init is boxcraft exec's process in a container,
// on its own: what `boxcraft exec-init` is, without the rest of boxcraft.
// boxcraft exec starts it when it is beside boxcraft (make bins builds it
// there), read-only (CVE-2019-5736), with _BOXCRAFT_NSENTER set: package
// nsenter's C constructor joins the container's namespaces and forks
// before main, and the child reads its settings on fd 3, applies the
// process's steps and execs the command (containerinit.ExecMain).
//
// Why a program of its own (issue 26): boxcraft exec paid boxcraft's
// whole Go start-up twice, once for the command line and once for
// exec-init, whose Go part is containerinit alone. This one links
// containerinit and nsenter, so it is built with cgo, statically, as
// boxcraft is; it starts in about the time boxcraft-init does.
package main

import (
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/nsenter"
)

func main() {
	// Built without cgo, it has no constructor: it would join nothing,
	// and boxcraft exec would wait for a child that never comes. Ending
	// closes its end of the socket, and boxcraft exec says it ended.
	if !nsenter.Available {
		fmt.Fprintln(os.Stderr, "boxcraft-exec-init: built without cgo (make bins builds it with cgo, static)")
		os.Exit(125)
	}
	if os.Getenv(nsenter.EnvVar) == "" {
		fmt.Fprintln(os.Stderr, "boxcraft-exec-init: started by boxcraft exec, not by hand")
		os.Exit(125)
	}
	containerinit.ExecMain() // returns only through os.Exit
}
