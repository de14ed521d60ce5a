package main

import (
	"github.com/boxcraft/boxcraft/final/hooks"
	"github.com/boxcraft/boxcraft/final/oci"
	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The hooks that run in the runtime's namespaces, from boxcraft-runc
// (issue 23): prestart and createRuntime during create, poststart after
// start, poststop after delete. init runs createContainer and
// startContainer (final/containerinit). As the runtime spec says, a
// failure of the first two fails create (and the container is deleted,
// poststop hooks run); a failure of poststart or poststop is a warning,
// and the hooks after it still run.

// createRuntimeHooks is the create's Created callback: prestart then
// createRuntime (runc's order), given init's pid and status creating.
func createRuntimeHooks(h oci.Hooks, st spec.HookState) func(pid int) error {
	if len(h.Prestart)+len(h.CreateRuntime) == 0 {
		return nil
	}
	return func(pid int) error {
		s := hooks.State(st, specs.StateCreating, pid)
		if err := hooks.Run("prestart", h.Prestart, s); err != nil {
			return err
		}
		return hooks.Run("createRuntime", h.CreateRuntime, s)
	}
}

// warnHooks runs every hook of kind, each failure a warning.
func warnHooks(g *globals, kind string, list []spec.Hook, st specs.State) {
	for _, err := range hooks.RunAll(kind, list, st) {
		warn(g, err)
	}
}

// poststart runs the poststart hooks of a container just started.
func poststart(g *globals, b oci.Bundle, id string, pid int) {
	if b.Hooks == nil {
		return
	}
	warnHooks(g, "poststart", b.Hooks.Poststart, hooks.State(b.HookState(id), specs.StateRunning, pid))
}

// poststop runs the poststop hooks of a container deleted.
func poststop(g *globals, b oci.Bundle, id string) {
	if b.Hooks == nil {
		return
	}
	warnHooks(g, "poststop", b.Hooks.Poststop, hooks.State(b.HookState(id), specs.StateStopped, 0))
}
