package oci

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Refusal is a field of config.json that boxcraft does not implement.
type Refusal struct {
	Field, Why string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("config.json: %s: %s", r.Field, r.Why)
}

func refuse(field, why string, args ...any) error {
	return &Refusal{Field: field, Why: fmt.Sprintf(why, args...)}
}

// ReadConfig reads bundle/config.json.
func ReadConfig(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read the bundle's config: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read the bundle's config.json: %w", err)
	}
	return &s, nil
}

// InternalID is the state folder's name for an OCI container id: the
// lifecycle names its containers by 64 hex digits, and an engine's ids
// are any string (containerd's are the names ctr was given).
func InternalID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// Convert turns config.json, in the bundle folder bundle, into the
// settings of the container id. defaultParent is the cgroup parent when
// the config names no cgroupsPath. Any field it does not implement is a
// *Refusal.
func Convert(s *specs.Spec, bundle, id, defaultParent string) (*spec.Container, error) {
	if !strings.HasPrefix(s.Version, "1.") {
		return nil, refuse("ociVersion", "%q: boxcraft reads version 1.x of the runtime spec", s.Version)
	}
	if err := refuseUnimplementedTop(s); err != nil {
		return nil, err
	}
	c := &spec.Container{ID: InternalID(id), Name: id, Hostname: s.Hostname, OCI: &spec.OCI{}}
	var err error
	if c.Root, err = convertRoot(s.Root, bundle); err != nil {
		return nil, err
	}
	if s.Process == nil {
		return nil, refuse("process", "missing: create needs a process to run")
	}
	if c.Process, c.Security, err = convertProcess(s.Process); err != nil {
		return nil, err
	}
	if s.Linux == nil {
		return nil, refuse("linux", "missing: boxcraft runs Linux containers, whose namespaces it lists")
	}
	if err := convertLinux(s, c, id, defaultParent); err != nil {
		return nil, err
	}
	if c.Mounts, err = convertMounts(s.Mounts, c.Namespaces, bundle); err != nil {
		return nil, err
	}
	hooks, err := ConvertHooks(s.Hooks)
	if err != nil {
		return nil, err
	}
	c.OCI.CreateContainer, c.OCI.StartContainer = hooks.CreateContainer, hooks.StartContainer
	c.OCI.Umask = s.Process.User.Umask
	c.OCI.HookState = spec.HookState{ID: id, Bundle: bundle, Annotations: s.Annotations}
	return c, nil
}

// refuseUnimplementedTop refuses the top-level fields boxcraft has no
// code for.
func refuseUnimplementedTop(s *specs.Spec) error {
	switch {
	case s.Solaris != nil || s.Windows != nil || s.VM != nil || s.ZOS != nil:
		return refuse("solaris/windows/vm/zos", "boxcraft runs Linux containers only")
	}
	return nil
}

// convertRoot: root.path is relative to the bundle, or absolute.
func convertRoot(r *specs.Root, bundle string) (spec.Root, error) {
	if r == nil || r.Path == "" {
		return spec.Root{}, refuse("root.path", "missing")
	}
	path := r.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(bundle, path)
	}
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		return spec.Root{}, refuse("root.path", "%s is not a folder", path)
	}
	return spec.Root{Path: path, ReadOnly: r.Readonly}, nil
}
