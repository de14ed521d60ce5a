package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// addVolumeFlags adds Docker's three ways to give a container a folder:
// -v, --mount and --tmpfs.
func addVolumeFlags(flags *pflag.FlagSet) {
	addList(flags, "volume", "v", "HOST:CONTAINER[:ro|rw]: bind a folder or file of the host (an absolute path: named volumes are not supported)")
	addList(flags, "mount", "", "type=bind,source=HOST,target=CONTAINER[,readonly] or type=tmpfs,target=CONTAINER[,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]")
	addList(flags, "tmpfs", "", "CONTAINER[:size=SIZE,mode=OCTAL,…]: a tmpfs of the container's own")
}

// parseVolumes turns -v, --mount and --tmpfs into spec.Mounts, checked:
// a bind's source must be an absolute path that exists on the host (unlike
// Docker's -v, which would make a missing one), and no two mounts share a
// target. They are sorted by the depth of their target, as Docker sorts
// them, so that /data is mounted before /data/sub.
func parseVolumes(flags *pflag.FlagSet) ([]spec.Mount, error) {
	var mounts []spec.Mount
	for _, p := range []struct {
		flag  string
		parse func(string) (spec.Mount, error)
	}{{"volume", parseVolume}, {"mount", parseMount}, {"tmpfs", parseTmpfs}} {
		values := getList(flags, p.flag)
		for _, v := range values {
			m, err := p.parse(v)
			if err != nil {
				return nil, fmt.Errorf("--%s %s: %w", p.flag, v, err)
			}
			mounts = append(mounts, m)
		}
	}
	if err := checkTargets(mounts); err != nil {
		return nil, err
	}
	slices.SortStableFunc(mounts, func(a, b spec.Mount) int { return depth(a.Target) - depth(b.Target) })
	return mounts, nil
}

// parseVolume reads -v HOST:CONTAINER[:ro|rw]. The bind is recursive
// (rbind), as Docker's: what is mounted below HOST comes along, and with
// ro it is read-only too.
func parseVolume(value string) (spec.Mount, error) {
	parts := strings.Split(value, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return spec.Mount{}, errors.New("give HOST:CONTAINER[:ro|rw]")
	}
	readOnly := false
	if len(parts) == 3 {
		switch parts[2] {
		case "ro":
			readOnly = true
		case "rw":
		default:
			return spec.Mount{}, fmt.Errorf("mode %q: give ro or rw", parts[2])
		}
	}
	return bind(parts[0], parts[1], readOnly)
}

// bind is a checked bind mount of the host's source on target.
func bind(source, target string, readOnly bool) (spec.Mount, error) {
	if source == "" || !filepath.IsAbs(source) {
		return spec.Mount{}, fmt.Errorf("source %q: give an absolute path of the host (named volumes are not supported)", source)
	}
	if _, err := os.Stat(source); err != nil {
		return spec.Mount{}, fmt.Errorf("source %s: %w", source, errors.Unwrap(err))
	}
	if err := checkTarget(target); err != nil {
		return spec.Mount{}, err
	}
	options := []string{"rbind"}
	if readOnly {
		options = append(options, "ro")
	}
	return spec.Mount{Source: filepath.Clean(source), Target: path.Clean(target), Type: "bind", Options: options}, nil
}

// parseMount reads --mount's KEY=VALUE list: type=bind or tmpfs,
// source (src), target (destination, dst), readonly (ro), tmpfs-size and
// tmpfs-mode.
func parseMount(value string) (spec.Mount, error) {
	fields := map[string]string{}
	for _, field := range strings.Split(value, ",") {
		key, val, hasValue := strings.Cut(field, "=")
		if alias, ok := map[string]string{"src": "source", "destination": "target", "dst": "target", "ro": "readonly"}[key]; ok {
			key = alias
		}
		if _, known := map[string]bool{"type": true, "source": true, "target": true, "readonly": true, "tmpfs-size": true, "tmpfs-mode": true}[key]; !known {
			return spec.Mount{}, fmt.Errorf("unknown field %q (type, source, target, readonly, tmpfs-size, tmpfs-mode)", field)
		}
		if !hasValue && key == "readonly" {
			val = "true"
		}
		fields[key] = val
	}
	readOnly, err := strconv.ParseBool(orDefault(fields["readonly"], "false"))
	if err != nil {
		return spec.Mount{}, fmt.Errorf("readonly=%s: give true or false", fields["readonly"])
	}
	switch fields["type"] {
	case "bind":
		return bind(fields["source"], fields["target"], readOnly)
	case "tmpfs":
		if fields["source"] != "" {
			return spec.Mount{}, errors.New("a tmpfs has no source")
		}
		return tmpfs(fields["target"], fields["tmpfs-size"], fields["tmpfs-mode"], readOnly, "nosuid", "nodev")
	}
	return spec.Mount{}, fmt.Errorf("type %q: give bind or tmpfs (named volumes are not supported)", fields["type"])
}

// orDefault is value, or otherwise when it is empty.
func orDefault(value, otherwise string) string {
	if value == "" {
		return otherwise
	}
	return value
}

// parseTmpfs reads --tmpfs CONTAINER[:OPTIONS], whose options are
// mount(8)'s; size= and mode= are checked, and Docker's defaults (noexec,
// nosuid, nodev) come first, so that exec or suid given there win.
func parseTmpfs(value string) (spec.Mount, error) {
	target, options, _ := strings.Cut(value, ":")
	var size, mode string
	var rest []string
	for _, opt := range strings.Split(options, ",") {
		switch key, val, _ := strings.Cut(opt, "="); key {
		case "":
		case "size":
			size = val
		case "mode":
			mode = val
		default:
			rest = append(rest, opt)
		}
	}
	return tmpfs(target, size, mode, false, append([]string{"noexec", "nosuid", "nodev"}, rest...)...)
}

// tmpfs is a checked tmpfs on target.
func tmpfs(target, size, mode string, readOnly bool, options ...string) (spec.Mount, error) {
	if err := checkTarget(target); err != nil {
		return spec.Mount{}, err
	}
	if size != "" {
		n, err := parseSize("size", size)
		if err != nil {
			return spec.Mount{}, err
		}
		options = append(options, fmt.Sprintf("size=%d", n))
	}
	if mode != "" {
		if _, err := strconv.ParseUint(mode, 8, 12); err != nil {
			return spec.Mount{}, fmt.Errorf("mode %q: give octal permissions, e.g. 1777", mode)
		}
		options = append(options, "mode="+mode)
	}
	if readOnly {
		options = append(options, "ro")
	}
	return spec.Mount{Source: "tmpfs", Target: path.Clean(target), Type: "tmpfs", Options: options}, nil
}

// checkTarget refuses a target that is not an absolute path inside the
// container, or is its root.
func checkTarget(target string) error {
	if !path.IsAbs(target) || path.Clean(target) == "/" {
		return fmt.Errorf("target %q: give an absolute path inside the container, not /", target)
	}
	return nil
}

// checkTargets refuses two mounts on one target, as Docker does.
func checkTargets(mounts []spec.Mount) error {
	seen := map[string]bool{}
	for _, m := range mounts {
		if seen[m.Target] {
			return fmt.Errorf("duplicate mount point: %s", m.Target)
		}
		seen[m.Target] = true
	}
	return nil
}

// cgroupMount is the container's /sys/fs/cgroup, as Docker's default
// spec has it: its own cgroups, read-only unless --privileged, so that a
// program reads its limits there. None without a cgroup namespace of the
// container's own (--cgroupns host): a new cgroup filesystem would show
// the host's whole tree, and Docker's bind of the container's own
// folders takes the host's, before pivot_root. None under a mount of the
// user's on /sys/fs/cgroup, below it or above it either: theirs is what
// they asked to see there (and in a bind of theirs above it, init would
// make the folder in the host's).
func cgroupMount(c *spec.Container) *spec.Mount {
	const target = "/sys/fs/cgroup"
	if !c.Namespaces.Cgroup {
		return nil
	}
	for _, m := range c.Mounts {
		if within(m.Target, target) || within(target, m.Target) {
			return nil
		}
	}
	options := []string{"nosuid", "noexec", "nodev"}
	if !c.Security.Privileged {
		options = append(options, "ro")
	}
	return &spec.Mount{Source: "cgroup", Target: target, Type: "cgroup", Options: options}
}

// within says whether name is dir or below it.
func within(name, dir string) bool {
	return name == dir || strings.HasPrefix(name, dir+"/")
}

// depth is how many folders deep a target is.
func depth(target string) int { return strings.Count(target, "/") }

// inspectMounts is inspect's Mounts, Docker's shape.
func inspectMounts(mounts []spec.Mount) []map[string]any {
	out := []map[string]any{}
	for _, m := range mounts {
		// The last of ro and rw says, as the mount reads its options.
		rw := true
		for _, o := range m.Options {
			if o == "ro" || o == "rw" {
				rw = o == "rw"
			}
		}
		mode := map[bool]string{true: "rw", false: "ro"}[rw]
		out = append(out, map[string]any{"Type": m.Type, "Source": m.Source, "Destination": m.Target, "Mode": mode, "RW": rw})
	}
	return out
}
