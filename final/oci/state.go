package oci

import (
	"path/filepath"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle is what the OCI state reports beyond boxcraft's record: the
// bundle's folder and the config's annotations, kept beside the record.
type Bundle struct {
	Path        string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Hooks are the config's, for the commands after create that run
	// them (poststart, poststop): config.json may change meanwhile.
	Hooks *Hooks `json:"hooks,omitempty"`
}

// HookState is what a hook's state takes from the bundle.
func (b Bundle) HookState(id string) spec.HookState {
	return spec.HookState{ID: id, Bundle: b.Path, Annotations: b.Annotations}
}

func bundleFile(dir string) string { return filepath.Join(dir, "bundle.json") }

// WriteBundle keeps b in the container's folder dir, as its record is
// kept: without waiting for the disk (state.Dirs.NewContainer).
func WriteBundle(dir string, b Bundle) error { return state.ReplaceJSON(bundleFile(dir), b) }

// ReadBundle reads what WriteBundle kept.
func ReadBundle(dir string) (Bundle, error) {
	var b Bundle
	err := state.ReadJSON(bundleFile(dir), &b)
	return b, err
}

// State is the runtime spec's state of a container, as `state` prints it.
func State(id, status string, pid int, b Bundle) specs.State {
	if status == "stopped" {
		pid = 0
	}
	return specs.State{Version: specs.Version, ID: id, Status: specs.ContainerState(status), Pid: pid,
		Bundle: b.Path, Annotations: b.Annotations}
}
