package oci

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bundle makes a bundle folder with an empty rootfs.
func bundle(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "rootfs"), 0o755))
	return dir
}

func TestDefaultSpecConverts(t *testing.T) {
	dir := bundle(t)
	s := DefaultSpec()
	s.Linux.CgroupsPath = "/boxcraft/ctrd/c1"
	c, err := Convert(s, dir, "c1", "boxcraft")
	require.NoError(t, err)
	assert.Equal(t, "c1", c.Name)
	assert.Equal(t, InternalID("c1"), c.ID)
	assert.Equal(t, spec.Root{Path: filepath.Join(dir, "rootfs"), ReadOnly: true}, c.Root)
	assert.Equal(t, "boxcraft/ctrd", c.CgroupParent)
	assert.Equal(t, "c1", c.CgroupName())
	assert.Equal(t, spec.Namespaces{UTS: true, PID: true, IPC: true, Net: true}, c.Namespaces)
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	assert.Equal(t, caps, c.Security.Capabilities)
	assert.Equal(t, &spec.CapabilitySets{Effective: caps, Permitted: caps, Inheritable: []string{}, Ambient: []string{}}, c.Security.CapabilitySets)
	assert.Equal(t, []spec.Mount{{Source: "cgroup", Target: "/sys/fs/cgroup", Type: "cgroup",
		Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}}}, c.Mounts,
		"the root's own mounts are boxcraft's; the cgroup filesystem is listed")
	assert.Equal(t, "0:0", c.Process.User)
	assert.Equal(t, &[]uint32{}, c.Process.Groups, "no additionalGids: no supplementary groups, not /etc/group's")
	assert.Nil(t, c.Security.Seccomp, "no seccomp in the config: none, not boxcraft's default profile")
}

func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		field string
		edit  func(s *specs.Spec)
	}{
		{"ociVersion", func(s *specs.Spec) { s.Version = "2.0.0" }},
		{"linux.sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.msgmax": "1"} }},
		{"linux.cgroupsPath", func(s *specs.Spec) { s.Linux.CgroupsPath = "/user.slice/c1" }},
		{"linux.cgroupsPath", func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:docker:c1" }},
		{"linux.namespaces[0].path", func(s *specs.Spec) { s.Linux.Namespaces[0].Path = "/proc/1/ns/pid" }},
		{"linux.namespaces", func(s *specs.Spec) { s.Linux.Namespaces = s.Linux.Namespaces[:4] }},
		{"linux.resources.hugepageLimits", func(s *specs.Spec) {
			s.Linux.Resources.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}
		}},
		{"linux.resources.devices[1]", func(s *specs.Spec) {
			major := int64(8)
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: &major, Access: "rw"})
		}},
		{"process.capabilities.ambient[0]", func(s *specs.Spec) { s.Process.Capabilities.Ambient = []string{"CAP_NOPE"} }},
		{"process.rlimits[0].type", func(s *specs.Spec) { s.Process.Rlimits[0].Type = "RLIMIT_NOPE" }},
		{"process.cwd", func(s *specs.Spec) { s.Process.Cwd = "relative" }},
		{"mounts", func(s *specs.Spec) { s.Mounts = s.Mounts[1:] }},
		{"mounts[7]", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "nfs", Source: "server:/x"})
		}},
		{"hooks", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}} }},
	} {
		t.Run(c.field, func(t *testing.T) {
			s := DefaultSpec()
			c.edit(s)
			_, err := Convert(s, bundle(t), "c1", "boxcraft")
			var refusal *Refusal
			require.True(t, errors.As(err, &refusal), "refused: %v", err)
			assert.Equal(t, c.field, refusal.Field)
		})
	}
}
