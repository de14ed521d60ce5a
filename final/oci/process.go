package oci

import (
	"fmt"
	"path"
	"slices"

	"github.com/boxcraft/boxcraft/final/containerinit"
	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ConvertProcess turns config.json's process (or exec's process.json)
// into the command boxcraft runs (step01) and what is taken from it
// (issue 20).
func ConvertProcess(p *specs.Process) (spec.Process, spec.Security, error) {
	return convertProcess(p)
}

func convertProcess(p *specs.Process) (spec.Process, spec.Security, error) {
	if err := refuseUnimplementedProcess(p); err != nil {
		return spec.Process{}, spec.Security{}, err
	}
	if len(p.Args) == 0 {
		return spec.Process{}, spec.Security{}, refuse("process.args", "empty: give the command to run")
	}
	if !path.IsAbs(p.Cwd) {
		return spec.Process{}, spec.Security{}, refuse("process.cwd", "%q: must be an absolute path", p.Cwd)
	}
	groups := slices.Clone(p.User.AdditionalGids)
	if groups == nil {
		groups = []uint32{}
	}
	out := spec.Process{
		Args: p.Args, Env: p.Env, Cwd: p.Cwd, Terminal: p.Terminal, Stdin: true,
		User:   fmt.Sprintf("%d:%d", p.User.UID, p.User.GID),
		Groups: &groups, OOMScoreAdj: p.OOMScoreAdj,
	}
	if p.ConsoleSize != nil {
		out.ConsoleWidth, out.ConsoleHeight = uint16(p.ConsoleSize.Width), uint16(p.ConsoleSize.Height)
	}
	for i, l := range p.Rlimits {
		if !containerinit.RlimitKnown(l.Type) {
			return spec.Process{}, spec.Security{}, refuse(fmt.Sprintf("process.rlimits[%d].type", i), "%q: no such resource", l.Type)
		}
		out.Rlimits = append(out.Rlimits, spec.Rlimit{Type: l.Type, Hard: l.Hard, Soft: l.Soft})
	}
	sec := spec.Security{NoNewPrivileges: p.NoNewPrivileges, Capabilities: []string{}}
	if p.Capabilities != nil {
		caps, sets, err := convertCapabilities(p.Capabilities)
		if err != nil {
			return spec.Process{}, spec.Security{}, err
		}
		sec.Capabilities, sec.CapabilitySets = caps, sets
	}
	return out, sec, nil
}

func refuseUnimplementedProcess(p *specs.Process) error {
	switch {
	case p.ApparmorProfile != "":
		return refuse("process.apparmorProfile", "not implemented (boxcraft has no AppArmor)")
	case p.SelinuxLabel != "":
		return refuse("process.selinuxLabel", "not implemented (boxcraft has no SELinux)")
	case p.User.Username != "":
		return refuse("process.user.username", "Windows only")
	case p.IOPriority != nil:
		return refuse("process.ioPriority", "not implemented")
	case p.Scheduler != nil:
		return refuse("process.scheduler", "not implemented")
	case p.CommandLine != "":
		return refuse("process.commandLine", "Windows only")
	}
	return nil
}

// convertCapabilities: the bounding set is boxcraft's one list (issue
// 20), and the other four go as they are (CapabilitySets).
func convertCapabilities(c *specs.LinuxCapabilities) ([]string, *spec.CapabilitySets, error) {
	for _, set := range []struct {
		name string
		caps []string
	}{{"bounding", c.Bounding}, {"effective", c.Effective}, {"permitted", c.Permitted}, {"inheritable", c.Inheritable}, {"ambient", c.Ambient}} {
		for i, name := range set.caps {
			if !slices.Contains(security.KnownCapabilities(), name) {
				return nil, nil, refuse(fmt.Sprintf("process.capabilities.%s[%d]", set.name, i), "%q: no such capability", name)
			}
		}
	}
	orEmpty := func(list []string) []string {
		if list == nil {
			return []string{}
		}
		return slices.Clone(list)
	}
	sets := &spec.CapabilitySets{Effective: orEmpty(c.Effective), Permitted: orEmpty(c.Permitted),
		Inheritable: orEmpty(c.Inheritable), Ambient: raisableAmbient(c)}
	return orEmpty(c.Bounding), sets, nil
}

// raisableAmbient are the ambient capabilities the kernel can raise:
// those also permitted and inheritable. runc's own `runc spec` lists
// ambient ones with no inheritable set; runc leaves the others out with
// a warning, and so does boxcraft-runc (AmbientWarnings).
func raisableAmbient(c *specs.LinuxCapabilities) []string {
	out := []string{}
	for _, name := range c.Ambient {
		if slices.Contains(c.Permitted, name) && slices.Contains(c.Inheritable, name) {
			out = append(out, name)
		}
	}
	return out
}

// AmbientWarnings says which of p's ambient capabilities are left out
// (raisableAmbient), one line each.
func AmbientWarnings(p *specs.Process) []string {
	if p == nil || p.Capabilities == nil {
		return nil
	}
	var out []string
	for _, name := range p.Capabilities.Ambient {
		if !slices.Contains(raisableAmbient(p.Capabilities), name) {
			out = append(out, fmt.Sprintf("process.capabilities.ambient: %s is not both permitted and inheritable, which the kernel needs to raise it: left out, as runc leaves it", name))
		}
	}
	return out
}
