package cgroups

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// LoadDeviceProgram loads, and closes, a program for the rules.
func LoadDeviceProgram(rules ...string) error {
	parsed, err := parseRules(rules)
	if err != nil {
		return err
	}
	fd, err := loadDeviceProgram(deviceProgram(parsed))
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// AttachDeviceProgram attaches to the cgroup2 folder dir a program that
// allows the rules alone, each "c 1:3 rw" (numbers, no wildcards).
func AttachDeviceProgram(dir string, rules ...string) error {
	parsed, err := parseRules(rules)
	if err != nil {
		return err
	}
	return attachDeviceProgram(dir, deviceProgram(parsed))
}

func parseRules(rules []string) ([]deviceRule, error) {
	var parsed []deviceRule
	for _, line := range rules {
		var r deviceRule
		if _, err := fmt.Sscanf(line, "%c %d:%d %s", &r.kind, &r.major, &r.minor, &r.access); err != nil {
			return nil, fmt.Errorf("rule %q: %w", line, err)
		}
		parsed = append(parsed, r)
	}
	return parsed, nil
}
