// Command boxcraft-monitor is a detached container's monitor, on its
// own: what `boxcraft monitor ID` is, without the rest of boxcraft.
// boxcraft run -d starts it when it is beside boxcraft (make bins builds
// it there), with the report pipe on fd 3 and the pipe on which it waits
// until the container is made on fd 4; it starts the container,
// holds its output and log, waits for it, records how it ended and tears
// it down (package monitor), then exits.
//
// Why a program of its own (issue 26): it is the one process a detached
// container has beyond its own, for as long as the container runs, and
// boxcraft's registry, build and image code, which it never runs, cost
// it package initialisation and resident pages. conmon plays this part
// for podman, a small program of its own for the same reason.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/extras"
	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/state"
)

func main() {
	if len(os.Args) != 2 || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "boxcraft-monitor: started by boxcraft run -d (as root), not by hand")
		os.Exit(125)
	}
	monitor.WarmUp() // while boxcraft makes the container
	err := monitor.Serve(state.DefaultDirs(), extras.New(), os.Args[1])
	if errors.Is(err, monitor.ErrNotMade) {
		os.Exit(0) // boxcraft gave up before it made the container: nothing to say
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "boxcraft-monitor:", err)
		os.Exit(monitor.StartStatus(err))
	}
}
