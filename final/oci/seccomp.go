package oci

import (
	"fmt"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// convertSeccomp: boxcraft's filter takes the spec's shape already
// (issue 20); the user-space notifier and the flags are refused.
func convertSeccomp(s *specs.LinuxSeccomp) (*spec.Seccomp, error) {
	if s.ListenerPath != "" || len(s.ListenerMetadata) > 0 {
		return nil, refuse("linux.seccomp.listenerPath", "not implemented")
	}
	if len(s.Flags) > 0 {
		return nil, refuse("linux.seccomp.flags", "not implemented")
	}
	out := &spec.Seccomp{DefaultAction: string(s.DefaultAction), DefaultErrnoRet: s.DefaultErrnoRet}
	for _, a := range s.Architectures {
		out.Architectures = append(out.Architectures, string(a))
	}
	for i, rule := range s.Syscalls {
		r := spec.SeccompSyscall{Names: rule.Names, Action: string(rule.Action), ErrnoRet: rule.ErrnoRet}
		for j, a := range rule.Args {
			if a.Index > 5 {
				return nil, refuse(fmt.Sprintf("linux.seccomp.syscalls[%d].args[%d].index", i, j), "%d: a system call has 6 arguments", a.Index)
			}
			r.Args = append(r.Args, spec.SeccompArg{Index: a.Index, Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
		}
		out.Syscalls = append(out.Syscalls, r)
	}
	return out, nil
}
