package cgroups

import (
	"slices"

	"github.com/boxcraft/boxcraft/final/spec"
)

// Update writes r's limits into the cgroup of a container that runs (an
// OCI runtime's update, issue 23): only those r gives, the swap limit
// only when given. The kernel applies each at once to the processes
// already in the cgroup.
func (c *Cgroup) Update(r spec.Resources) error {
	limits := slices.DeleteFunc(c.m.limits(r), func(l limit) bool { return l.flag == "--memory-swap" && !r.SwapGiven })
	err := c.writeLimits(limits)
	if err != nil && r.SwapGiven {
		// v1 refuses a memory limit above memory+swap's, and a
		// memory+swap limit below memory's: raising both, swap's goes
		// first.
		err = c.writeLimits(swapFirst(limits))
	}
	return err
}

// swapFirst is limits with the swap limit moved before the others.
func swapFirst(limits []limit) []limit {
	var swap, rest []limit
	for _, l := range limits {
		if l.flag == "--memory-swap" {
			swap = append(swap, l)
		} else {
			rest = append(rest, l)
		}
	}
	return append(swap, rest...)
}
