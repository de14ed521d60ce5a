package cgroups

import "fmt"

// limitDevices, on v1: the devices hierarchy keeps a list per cgroup,
// which a new cgroup copies from its parent. Writing "a" to devices.deny
// empties it and refuses every device; each line then written to
// devices.allow allows one rule, which the kernel accepts only when the
// parent allows as much (a container cannot be given more than its
// parent has). With allowAll, "a" written to devices.allow allows every
// device, as runc does for --privileged.
func (m *v1Manager) limitDevices(rules []deviceRule, allowAll bool) error {
	dir := m.dirs["devices"]
	if dir == "" {
		if allowAll {
			return nil // nothing to limit, and nothing that could
		}
		return fmt.Errorf("the v1 devices hierarchy is not mounted at %s/devices: the container's devices cannot be limited", Root)
	}
	for _, line := range v1DeviceLines(rules, allowAll) {
		if err := writeFile(dir, line[0], line[1]); err != nil {
			return fmt.Errorf("write %q into %s/%s: %w", line[1], dir, line[0], err)
		}
	}
	return nil
}

// v1DeviceLines are the writes, in order: [file, value].
func v1DeviceLines(rules []deviceRule, allowAll bool) [][2]string {
	if allowAll {
		return [][2]string{{"devices.allow", "a"}}
	}
	lines := [][2]string{{"devices.deny", "a"}}
	for _, r := range rules {
		lines = append(lines, [2]string{"devices.allow", r.String()})
	}
	return lines
}
