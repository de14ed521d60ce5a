package cgroups

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
)

// describeWrite is a limit's write as the trace prints it: the file, the
// value, and which version's folder holds it.
func (c *Cgroup) describeWrite(l limit) string {
	dir := c.m.dir(l.controller)
	version := "cgroup v1, " + l.controller + " hierarchy"
	if _, v2 := c.m.(*v2Manager); v2 {
		version = "cgroup v2"
	}
	return fmt.Sprintf("%s = %s  (%s, %s)  %s", l.file, l.value, version, dir, l.flag)
}

// Describe names the cgroup's version and folders, for the trace.
func (c *Cgroup) Describe() string { return c.describeFolders() }

// describeFolders lists the container's folders, one per hierarchy on v1.
func (c *Cgroup) describeFolders() string {
	list := c.folders()
	sort.Strings(list)
	if len(list) == 0 {
		return "none"
	}
	if _, v2 := c.m.(*v2Manager); v2 {
		return list[0] + " (cgroup v2)"
	}
	// v1: the same folder below each hierarchy's root.
	var hierarchies []string
	below := ""
	for _, dir := range list {
		rel, err := filepath.Rel(Root, dir)
		name, rest, _ := strings.Cut(rel, "/")
		if err != nil {
			return strings.Join(list, " ")
		}
		hierarchies, below = append(hierarchies, name), rest
	}
	return fmt.Sprintf("%s/{%s}/%s (cgroup v1)", Root, strings.Join(hierarchies, ","), below)
}

// LimitDevices is limitDevices, reported to the tracer New was given.
func (c *Cgroup) LimitDevices(s spec.Security) error {
	return c.tr.Do("step03", "devices", func() string {
		if _, v2 := c.m.(*v2Manager); v2 {
			return fmt.Sprintf("a BPF_PROG_TYPE_CGROUP_DEVICE program allowing %d added devices and the defaults", len(s.Devices))
		}
		return fmt.Sprintf("devices.deny a, then devices.allow for the defaults and %d added devices", len(s.Devices))
	}, func() error { return c.limitDevices(s) })
}
