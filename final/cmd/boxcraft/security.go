package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

// addSecurityFlags adds Docker's flags that give back what boxcraft takes
// away from root inside (issue 20).
func addSecurityFlags(flags *pflag.FlagSet) {
	addList(flags, "cap-add", "", "add a capability (NET_ADMIN, CAP_SYS_TIME, … or ALL)")
	addList(flags, "cap-drop", "", "drop a capability (CHOWN, … or ALL)")
	flags.Bool("privileged", false, "every capability, no seccomp filter, nothing of /proc or /sys masked or read-only")
	addList(flags, "security-opt", "", "no-new-privileges[=true|false], seccomp=unconfined|FILE.json, systempaths=unconfined")
}

// parseSecurity turns the security flags into spec.Security, starting
// from Docker's defaults: 14 capabilities, no_new_privs, the default
// seccomp profile, /proc's and /sys's dangerous paths masked or
// read-only. Every flag is checked before anything is made.
func parseSecurity(flags *pflag.FlagSet) (spec.Security, error) {
	var s spec.Security
	s.Privileged, _ = flags.GetBool("privileged")
	host, err := security.HostCapabilities()
	if err != nil {
		return s, fmt.Errorf("read this host's capabilities: %w", err)
	}
	if s.Capabilities, err = capabilities(flags, host, s.Privileged); err != nil {
		return s, err
	}
	s.NoNewPrivileges = !s.Privileged
	if !s.Privileged {
		s.MaskedPaths, s.ReadonlyPaths = security.DefaultMaskedPaths(), security.DefaultReadonlyPaths()
		s.Seccomp = defaultSeccomp(s.Capabilities)
	}
	opts := getList(flags, "security-opt")
	for _, opt := range opts {
		if err := securityOpt(&s, opt); err != nil {
			return s, err
		}
	}
	return s, nil
}

// capabilities are Docker's defaults, with --cap-drop taken away and
// --cap-add added (a capability in both is added, as Docker does), or
// with --privileged every capability of the host's own bounding set.
// A capability the host's bounding set lacks cannot be given: no process
// can hand on what it does not have.
func capabilities(flags *pflag.FlagSet, host []string, privileged bool) ([]string, error) {
	if privileged {
		return host, nil
	}
	add, err := capabilityFlag(flags, "cap-add")
	if err != nil {
		return nil, err
	}
	drop, err := capabilityFlag(flags, "cap-drop")
	if err != nil {
		return nil, err
	}
	caps := security.DefaultCapabilities()
	switch {
	case slices.Contains(add, "ALL"):
		caps = slices.Clone(host)
	case slices.Contains(drop, "ALL"):
		caps = nil
	}
	caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(drop, c) && !slices.Contains(add, c) })
	for _, c := range add {
		if c == "ALL" || slices.Contains(caps, c) {
			continue
		}
		if !slices.Contains(host, c) {
			return nil, fmt.Errorf("--cap-add %s: this host's own bounding set does not have it, so no container can", c)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

// capabilityFlag reads --cap-add or --cap-drop, each value a name or a
// comma-separated list, as the kernel names them.
func capabilityFlag(flags *pflag.FlagSet, flag string) ([]string, error) {
	values := getList(flags, flag)
	var names []string
	for _, value := range values {
		for _, name := range strings.Split(value, ",") {
			c, err := security.ParseCapability(strings.TrimSpace(name))
			if err != nil {
				return nil, fmt.Errorf("--%s: %w", flag, err)
			}
			names = append(names, c)
		}
	}
	return names, nil
}

// securityOpt applies one --security-opt KEY[=VALUE] (Docker also takes
// KEY:VALUE).
func securityOpt(s *spec.Security, opt string) error {
	key, value, given := strings.Cut(opt, "=")
	if !given {
		key, value, given = strings.Cut(opt, ":")
	}
	switch key {
	case "no-new-privileges":
		switch {
		case !given || value == "true":
			s.NoNewPrivileges = true
		case value == "false":
			s.NoNewPrivileges = false
		default:
			return fmt.Errorf("--security-opt %s: give no-new-privileges, =true or =false", opt)
		}
	case "seccomp":
		return seccompOpt(s, value)
	case "systempaths":
		if value != "unconfined" {
			return fmt.Errorf("--security-opt %s: give systempaths=unconfined", opt)
		}
		s.MaskedPaths, s.ReadonlyPaths = nil, nil
	case "label", "apparmor":
		return fmt.Errorf("--security-opt %s: boxcraft has no %s (no LSM profiles); its layers are capabilities, seccomp and masked paths", opt, map[string]string{"label": "SELinux labels", "apparmor": "AppArmor"}[key])
	default:
		return fmt.Errorf("--security-opt %q: give no-new-privileges, seccomp=unconfined|FILE or systempaths=unconfined", opt)
	}
	return nil
}

// seccompOpt applies seccomp=unconfined (no filter) or seccomp=FILE (a
// profile in Docker's JSON format).
func seccompOpt(s *spec.Security, value string) error {
	switch value {
	case "unconfined":
		s.Seccomp = nil
		return nil
	case "":
		return fmt.Errorf("--security-opt seccomp: give seccomp=unconfined or seccomp=FILE.json")
	}
	profile, err := loadSeccomp(value, s.Capabilities)
	if err != nil {
		return fmt.Errorf("--security-opt seccomp=%s: %w", value, err)
	}
	s.Seccomp = profile
	return nil
}
