package main

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// addNamespaceFlags adds Docker's way of sharing a namespace with the
// host (--pid host …), and podman's --uidmap/--gidmap for a user
// namespace, which Docker gives only through its daemon's settings.
func addNamespaceFlags(flags *pflag.FlagSet) {
	flags.String("uts", "", "host: share the host's hostname (UTS namespace)")
	flags.String("pid", "", "host: share the host's processes (PID namespace)")
	flags.String("ipc", "", "host: share the host's IPC namespace")
	flags.String("network", "bridge", "bridge (boxcraft0, an address, NAT), none (only lo), host, or container:NAME")
	addNetworkFlags(flags)
	flags.String("cgroupns", "private", "private or host: the cgroup namespace")
	flags.String("uidmap", "", "CONTAINER:HOST:SIZE: a user namespace, root inside being HOST outside")
	flags.String("gidmap", "", "CONTAINER:HOST:SIZE: the groups' map (default: --uidmap's)")
}

// parseNamespaces reads the namespace flags: every namespace is the
// container's own unless a flag shares the host's.
func parseNamespaces(rt *runtime.Runtime, flags *pflag.FlagSet, network *spec.Network) (spec.Namespaces, error) {
	var n spec.Namespaces
	own := func(flag string, private ...string) (bool, error) {
		value, _ := flags.GetString(flag)
		switch {
		case value == "host":
			return false, nil
		case value == "" || (len(private) > 0 && value == private[0]):
			return true, nil
		}
		return false, fmt.Errorf("--%s %q: give host", flag, value)
	}
	var err error
	if n.UTS, err = own("uts"); err != nil {
		return n, err
	}
	if n.PID, err = own("pid"); err != nil {
		return n, err
	}
	if n.IPC, err = own("ipc"); err != nil {
		return n, err
	}
	if n.Cgroup, err = own("cgroupns", "private"); err != nil {
		return n, err
	}
	if n.Net, err = parseNetwork(rt, flags, network); err != nil {
		return n, err
	}
	if err := parseNames(flags, network); err != nil {
		return n, err
	}
	return n, parseIDMaps(flags, &n)
}

// parseIDMaps reads --uidmap and --gidmap (CONTAINER:HOST:SIZE). One map
// of each, starting at container id 0.
func parseIDMaps(flags *pflag.FlagSet, n *spec.Namespaces) error {
	if !flags.Changed("uidmap") {
		if flags.Changed("gidmap") {
			return fmt.Errorf("--gidmap needs --uidmap: a user namespace maps both")
		}
		return nil
	}
	uid, err := parseIDMap(flags, "uidmap")
	if err != nil {
		return err
	}
	gid := uid
	if flags.Changed("gidmap") {
		if gid, err = parseIDMap(flags, "gidmap"); err != nil {
			return err
		}
	}
	n.UIDMap, n.GIDMap = []spec.IDMap{uid}, []spec.IDMap{gid}
	return nil
}

func parseIDMap(flags *pflag.FlagSet, flag string) (spec.IDMap, error) {
	value, _ := flags.GetString(flag)
	parts := strings.Split(value, ":")
	var numbers []int
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 10, 31)
		if err != nil {
			break
		}
		numbers = append(numbers, int(n))
	}
	if len(parts) != 3 || len(numbers) != 3 || numbers[2] == 0 || numbers[0] != 0 {
		return spec.IDMap{}, fmt.Errorf("--%s %q: give 0:HOST:SIZE, e.g. 0:100000:65536", flag, value)
	}
	return spec.IDMap{ContainerID: numbers[0], HostID: numbers[1], Size: numbers[2]}, nil
}

var validName = lazyRegexp(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// checkName refuses a --name Docker would refuse.
func checkName(name string) error {
	if name != "" && !validName().MatchString(name) {
		return fmt.Errorf("--name %q: use letters, digits, _ . and -, starting with a letter or digit", name)
	}
	return nil
}

var validHostname = lazyRegexp(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$`)

// checkHostname refuses a hostname the kernel or DNS would not take, and
// one for a container that shares the host's.
func checkHostname(name string, ownUTS bool) error {
	switch {
	case name == "":
		return nil
	case !ownUTS:
		return errors.New("--hostname with --uts host would rename the host: leave one out")
	case len(name) > 64 || !validHostname().MatchString(name):
		return fmt.Errorf("--hostname %q: give up to 64 letters, digits, dots and hyphens", name)
	}
	return nil
}

// processFromImage fills in the command, its environment and its
// working folder, from the image's config and the flags, as docker run
// does: --entrypoint replaces the image's Entrypoint (and drops its
// Cmd); arguments after the image replace its Cmd.
func processFromImage(rt *runtime.Runtime, flags *pflag.FlagSet, c *spec.Container, args []string, o *runtime.CreateOptions) error {
	var entrypoint, cmd, env []string
	workdir := ""
	if c.Image != "" {
		cfg, err := rt.Store.Config(c.Image)
		if err != nil {
			return err
		}
		entrypoint, cmd, env, workdir = cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.Env, cfg.Config.WorkingDir
		c.Process.User = cfg.Config.User
		o.Labels = maps.Clone(cfg.Config.Labels)
	}
	if flags.Changed("user") {
		c.Process.User, _ = flags.GetString("user") // init resolves it in the image's /etc/passwd
	}
	if flags.Changed("entrypoint") {
		value, _ := flags.GetString("entrypoint")
		entrypoint, cmd = nil, nil
		if value != "" {
			entrypoint = []string{value}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	c.Process.Args = append(append([]string{}, entrypoint...), cmd...)
	o.Entrypoint, o.Cmd = entrypoint, cmd
	if len(c.Process.Args) == 0 {
		return fmt.Errorf("run: no command: give one after the image, which has no Entrypoint or Cmd")
	}
	if flags.Changed("workdir") {
		workdir, _ = flags.GetString("workdir")
		if !path.IsAbs(workdir) {
			return fmt.Errorf("--workdir %q: give an absolute path", workdir)
		}
	}
	c.Process.Cwd = workdir
	var err error
	c.Process.Env, err = environment(flags, env, c)
	return err
}

// addLabels adds --label's to the image's labels, as docker run does:
// KEY=VALUE, or KEY alone for an empty value; a key given twice, or one
// the image has, takes the last value.
func addLabels(flags *pflag.FlagSet, o *runtime.CreateOptions) error {
	for _, l := range getList(flags, "label") {
		key, value, _ := strings.Cut(l, "=")
		if key == "" || strings.ContainsAny(key, " \t\n") {
			return fmt.Errorf("--label %q: give KEY=VALUE or KEY, a key without spaces", l)
		}
		if o.Labels == nil {
			o.Labels = map[string]string{}
		}
		o.Labels[key] = value
	}
	return nil
}

// environment is the image's Env, Docker's PATH when it sets none,
// HOSTNAME and TERM, then --env-file and -e. HOME, when none is set, is
// init's to add: the user's own, from the image's /etc/passwd.
func environment(flags *pflag.FlagSet, image []string, c *spec.Container) ([]string, error) {
	env := append([]string{}, image...)
	if !hasVar(env, "PATH") {
		env = append([]string{"PATH=" + containerinit.DefaultPath}, env...)
	}
	env = append(env, "HOSTNAME="+c.Hostname)
	if c.Process.Terminal {
		env = append(env, "TERM=xterm")
	}
	files := getList(flags, "env-file")
	for _, file := range files {
		lines, err := readEnvFile(file)
		if err != nil {
			return nil, err
		}
		env = append(env, lines...)
	}
	given := getList(flags, "env")
	for _, e := range given {
		if e == "" || strings.HasPrefix(e, "=") {
			return nil, fmt.Errorf("--env %q: give KEY=VALUE or KEY", e)
		}
		env = append(env, hostValue(e)...)
	}
	return env, nil
}

// readEnvFile reads KEY=VALUE lines; # starts a comment; a KEY alone
// takes the host's value, as Docker's --env-file.
func readEnvFile(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", file, err)
	}
	defer f.Close()
	var env []string
	lines := bufio.NewScanner(f)
	for n := 1; lines.Scan(); n++ {
		line := strings.TrimLeft(lines.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "=") {
			return nil, fmt.Errorf("--env-file %s: line %d has no variable name", file, n)
		}
		env = append(env, hostValue(line)...)
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", file, err)
	}
	return env, nil
}

// hostValue is KEY=VALUE as it is, and KEY alone with the host's value
// (or nothing, when the host has none).
func hostValue(e string) []string {
	if strings.Contains(e, "=") {
		return []string{e}
	}
	if value, ok := os.LookupEnv(e); ok {
		return []string{e + "=" + value}
	}
	return nil
}

func hasVar(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// lazyRegexp compiles a pattern on first use rather than when the program
// starts: every boxcraft process, a container's init and monitor too,
// would pay for it, and most never match anything.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
