package oci

import (
	"fmt"
	"path"
	"slices"

	"github.com/boxcraft/boxcraft/final/containerinit"
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
		caps, err := convertCapabilities(p.Capabilities)
		if err != nil {
			return spec.Process{}, spec.Security{}, err
		}
		sec.Capabilities = caps
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
	case p.User.Umask != nil:
		return refuse("process.user.umask", "not implemented")
	case p.IOPriority != nil:
		return refuse("process.ioPriority", "not implemented")
	case p.Scheduler != nil:
		return refuse("process.scheduler", "not implemented")
	case p.CommandLine != "":
		return refuse("process.commandLine", "Windows only")
	}
	return nil
}

// convertCapabilities: boxcraft gives a process one set of capabilities
// (issue 20): its bounding set, and for root also its permitted and
// effective sets; inheritable and ambient stay empty. A config whose
// sets differ otherwise is refused: boxcraft cannot give it.
func convertCapabilities(c *specs.LinuxCapabilities) ([]string, error) {
	keep := slices.Clone(c.Bounding)
	if keep == nil {
		keep = []string{}
	}
	for _, set := range []struct {
		name string
		caps []string
	}{{"effective", c.Effective}, {"permitted", c.Permitted}} {
		if !sameSet(set.caps, keep) {
			return nil, refuse("process.capabilities."+set.name, "differs from bounding: boxcraft gives root one set as its bounding, permitted and effective sets")
		}
	}
	if len(c.Inheritable) > 0 {
		return nil, refuse("process.capabilities.inheritable", "not implemented: boxcraft leaves it empty")
	}
	if len(c.Ambient) > 0 {
		return nil, refuse("process.capabilities.ambient", "not implemented: boxcraft leaves it empty")
	}
	return keep, nil
}

func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}
