// Package extras is what boxcraft's own containers may ask of the host
// beyond an init, a cgroup and a root, handed to the monitor as a value
// (monitor.Extras): a place on boxcraft's bridge network (issue 19,
// final/network) and a /proc view answered from the container's cgroup
// (issue 21, final/procfs).
//
// They live here, and not in the monitor, so that a program that never
// serves them does not link them: final/network brings nftables and two
// netlink libraries, final/procfs go-fuse, and each package's set-up
// runs at every start of a program that links it. boxcraft and
// boxcraft-monitor hand New() to the monitor; boxcraft-runc, whose OCI
// bundles ask for neither (final/oci gives a container the host's
// network or a namespace of its own, and the host's /proc), hands in
// none and starts faster (issue 23).
package extras

import "github.com/boxcraft/boxcraft/final/monitor"

// New is boxcraft's extras: its bridge network and its /proc views.
func New() monitor.Extras {
	return monitor.Extras{Bridge: bridge{}, ProcViews: procViews{}}
}
