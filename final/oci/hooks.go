package oci

import (
	"fmt"
	"path/filepath"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks are a bundle's hooks by kind, in the order of the lifecycle:
// createRuntime (after the deprecated prestart, as runc runs them),
// createContainer, startContainer, poststart, poststop. boxcraft-runc runs
// those of the runtime's namespaces, init those of the container's.
type Hooks struct {
	Prestart        []spec.Hook `json:"prestart,omitempty"`
	CreateRuntime   []spec.Hook `json:"createRuntime,omitempty"`
	CreateContainer []spec.Hook `json:"createContainer,omitempty"`
	StartContainer  []spec.Hook `json:"startContainer,omitempty"`
	Poststart       []spec.Hook `json:"poststart,omitempty"`
	Poststop        []spec.Hook `json:"poststop,omitempty"`
}

// ConvertHooks checks a bundle's hooks: each path absolute, each
// timeout above zero, as the spec asks.
func ConvertHooks(h *specs.Hooks) (Hooks, error) {
	var out Hooks
	if h == nil {
		return out, nil
	}
	//lint:ignore SA1019 prestart is deprecated, and runc still runs it.
	prestart := h.Prestart
	var err error
	for _, kind := range []struct {
		name string
		in   []specs.Hook
		out  *[]spec.Hook
	}{
		{"prestart", prestart, &out.Prestart}, {"createRuntime", h.CreateRuntime, &out.CreateRuntime},
		{"createContainer", h.CreateContainer, &out.CreateContainer}, {"startContainer", h.StartContainer, &out.StartContainer},
		{"poststart", h.Poststart, &out.Poststart}, {"poststop", h.Poststop, &out.Poststop},
	} {
		if *kind.out, err = convertHookList(kind.name, kind.in); err != nil {
			return Hooks{}, err
		}
	}
	return out, nil
}

func convertHookList(kind string, list []specs.Hook) ([]spec.Hook, error) {
	var out []spec.Hook
	for i, h := range list {
		field := fmt.Sprintf("hooks.%s[%d]", kind, i)
		if !filepath.IsAbs(h.Path) {
			return nil, refuse(field+".path", "%q: must be absolute", h.Path)
		}
		if h.Timeout != nil && *h.Timeout <= 0 {
			return nil, refuse(field+".timeout", "%d: must be above zero (seconds)", *h.Timeout)
		}
		out = append(out, spec.Hook{Path: h.Path, Args: h.Args, Env: h.Env, Timeout: h.Timeout})
	}
	return out, nil
}
