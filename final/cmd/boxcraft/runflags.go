package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// run's flags for what init already does for an OCI bundle (issue 23):
// rlimits (--ulimit), namespaced sysctls (--sysctl), supplementary
// groups (--group-add), and /dev/shm's size (--shm-size), each read as
// Docker reads it.

// addProcessFlags adds --ulimit, --sysctl, --group-add and --shm-size.
func addProcessFlags(flags *pflag.FlagSet) {
	addList(flags, "ulimit", "", "TYPE=SOFT[:HARD] (nofile=1024:2048, core=0; -1 or unlimited): a resource limit of the command")
	addList(flags, "sysctl", "", "KEY=VALUE: a namespaced sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)")
	addList(flags, "group-add", "", "GROUP: a supplementary group, by name (the image's /etc/group) or number")
	flags.String("shm-size", "", "/dev/shm's size, e.g. 128m (b, k, m or g; default 64m)")
}

// parseProcessFlags reads --ulimit, --sysctl, --group-add and --shm-size
// into c, whose namespaces and network are read already: a net.* sysctl
// needs a network namespace of the container's own.
func parseProcessFlags(flags *pflag.FlagSet, c *spec.Container) error {
	var err error
	if c.Process.Rlimits, err = parseUlimits(getList(flags, "ulimit")); err != nil {
		return err
	}
	if c.Sysctl, err = parseSysctls(getList(flags, "sysctl"), c); err != nil {
		return err
	}
	for _, g := range getList(flags, "group-add") {
		if g == "" || strings.ContainsAny(g, ":\n") {
			return fmt.Errorf("--group-add %q: give a group's name or number", g)
		}
		c.Process.GroupAdd = append(c.Process.GroupAdd, g) // init resolves it in the image's /etc/group
	}
	if text, _ := flags.GetString("shm-size"); text != "" && !zeroSize(text) {
		if c.ShmSize, err = parseSize("--shm-size", text); err != nil {
			return err
		}
	}
	return nil
}

// ulimitNames are --ulimit's types, Docker's (go-units): setrlimit(2)'s
// resources but RLIMIT_AS, which Docker leaves out.
var ulimitNames = []string{
	"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}

// parseUlimits reads each TYPE=SOFT[:HARD]; a type given again replaces
// its limit, as Docker's.
func parseUlimits(values []string) ([]spec.Rlimit, error) {
	var limits []spec.Rlimit
	for _, v := range values {
		l, err := parseUlimit(v)
		if err != nil {
			return nil, err
		}
		limits = slices.DeleteFunc(limits, func(o spec.Rlimit) bool { return o.Type == l.Type })
		limits = append(limits, l)
	}
	return limits, nil
}

func parseUlimit(value string) (spec.Rlimit, error) {
	name, limits, ok := strings.Cut(value, "=")
	if !ok || name == "" || limits == "" {
		return spec.Rlimit{}, fmt.Errorf("--ulimit %q: give TYPE=SOFT[:HARD], e.g. nofile=1024:2048", value)
	}
	if !slices.Contains(ulimitNames, name) {
		return spec.Rlimit{}, fmt.Errorf("--ulimit %q: no such type %q (give one of %s)", value, name, strings.Join(ulimitNames, ", "))
	}
	rlimit := "RLIMIT_" + strings.ToUpper(name)
	if !containerinit.RlimitKnown(rlimit) {
		return spec.Rlimit{}, fmt.Errorf("--ulimit %q: %s is unknown to init", value, rlimit)
	}
	softText, hardText, hardGiven := strings.Cut(limits, ":")
	soft, err := parseRlimitValue(softText)
	if err != nil {
		return spec.Rlimit{}, fmt.Errorf("--ulimit %q: soft limit %w", value, err)
	}
	hard := soft
	if hardGiven {
		if hard, err = parseRlimitValue(hardText); err != nil {
			return spec.Rlimit{}, fmt.Errorf("--ulimit %q: hard limit %w", value, err)
		}
	}
	if soft > hard {
		return spec.Rlimit{}, fmt.Errorf("--ulimit %q: the soft limit must not be above the hard limit", value)
	}
	return spec.Rlimit{Type: rlimit, Soft: soft, Hard: hard}, nil
}

// parseRlimitValue reads a limit: a number, or -1 or unlimited for
// RLIM_INFINITY.
func parseRlimitValue(text string) (uint64, error) {
	if text == "-1" || text == "unlimited" {
		return math.MaxUint64, nil
	}
	n, err := strconv.ParseUint(text, 10, 64)
	if err != nil || n > math.MaxInt64 { // Docker's largest, and inspect's
		return 0, fmt.Errorf("%q: give a number (at most %d), or -1 or unlimited", text, int64(math.MaxInt64))
	}
	return n, nil
}

// formatUlimits are the limits as docker inspect shows HostConfig.Ulimits:
// Docker's names, and -1 for unlimited.
func formatUlimits(limits []spec.Rlimit) []map[string]any {
	if len(limits) == 0 {
		return nil
	}
	out := make([]map[string]any, 0, len(limits))
	for _, l := range limits {
		out = append(out, map[string]any{
			"Name": strings.ToLower(strings.TrimPrefix(l.Type, "RLIMIT_")),
			"Soft": int64(l.Soft), "Hard": int64(l.Hard), // RLIM_INFINITY is -1, as Docker's
		})
	}
	return out
}

// parseSysctls reads each KEY=VALUE, taking only a key of a namespace
// the container has of its own, as Docker: the IPC keys without --ipc
// host, net.* with a network namespace neither the host's nor another
// container's. A key of the host's would change the host.
func parseSysctls(values []string, c *spec.Container) (map[string]string, error) {
	var sysctl map[string]string
	for _, v := range values {
		key, value, ok := strings.Cut(v, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("--sysctl %q: give KEY=VALUE", v)
		}
		switch containerinit.SysctlNamespace(key) {
		case "ipc":
			if !c.Namespaces.IPC {
				return nil, fmt.Errorf("--sysctl %q: not allowed with --ipc host: it would change the host's", v)
			}
		case "net":
			if strings.HasPrefix(c.Network.Mode, spec.NetworkContainer) {
				return nil, fmt.Errorf("--sysctl %q: not allowed with --network %s: it would change that container's", v, c.Network.Mode)
			}
			if !c.Namespaces.Net {
				return nil, fmt.Errorf("--sysctl %q: not allowed with --network host: it would change the host's", v)
			}
		default:
			return nil, fmt.Errorf("--sysctl %q: not a namespaced sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*): it would change the host's", v)
		}
		if sysctl == nil {
			sysctl = map[string]string{}
		}
		sysctl[key] = value
	}
	return sysctl, nil
}
