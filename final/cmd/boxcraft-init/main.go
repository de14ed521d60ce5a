// Command boxcraft-init is a container's init, on its own: what
// `boxcraft init` is, without the rest of boxcraft. The monitor starts it
// in the container's new namespaces when it is beside boxcraft (make bins
// builds it there), read-only (CVE-2019-5736); it reads the settings on
// fd 3, sets the container up and execs its command (package
// containerinit).
//
// Why a program of its own (issue 26): every start pays for init's Go
// start-up, and boxcraft's is heavy, as it links the registry, FUSE,
// netlink and nftables packages, whose package initialisation and pages
// boxcraft init paid for in every container. This one links
// containerinit and its leaves alone, and no cgo: it starts in about
// half the time, in a quarter of the memory.
package main

import "github.com/boxcraft/boxcraft/final/containerinit"

func main() {
	containerinit.Main() // returns only through os.Exit
}
