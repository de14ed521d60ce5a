package cgroups

// Dir is the container's folder that holds a controller's files
// ("memory", "cpu", "cpuacct", "cpuset", "blkio", "pids"), "" when this
// machine has no such hierarchy (v1). On v2, one folder holds them all.
// A view of /proc made for the container (package procfs) reads its
// files there (issue 21).
func (c *Cgroup) Dir(controller string) string { return c.m.dir(controller) }

// V2 tells whether the cgroup is v2's: the files that hold the same
// figures have other names there (limits.go).
func (c *Cgroup) V2() bool {
	_, ok := c.m.(*v2Manager)
	return ok
}
