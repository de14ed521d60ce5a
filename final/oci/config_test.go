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
		{"linux.sysctl.kernel.panic", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }},
		{"linux.sysctl.net.ipv4.ip_forward", func(s *specs.Spec) {
			s.Linux.Namespaces = s.Linux.Namespaces[2:] // no network namespace: the host's
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{"linux.sysctl.net.ipv4.ip_forward", func(s *specs.Spec) {
			s.Linux.Namespaces[1].Path = "/proc/self/ns/net" // joins boxcraft-runc's own
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}},
		{"linux.sysctl.kernel.hostname", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.hostname": "x"} }},
		{"domainname", func(s *specs.Spec) {
			s.Domainname, s.Hostname = "example", ""
			s.Linux.Namespaces = append(s.Linux.Namespaces[:3], s.Linux.Namespaces[4])
		}},
		{"hostname", func(s *specs.Spec) { s.Linux.Namespaces = append(s.Linux.Namespaces[:3], s.Linux.Namespaces[4]) }},
		{"linux.timeOffsets", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}},
		{"linux.namespaces[5].path", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/1/ns/user"})
		}},
		{"linux.cgroupsPath", func(s *specs.Spec) { s.Linux.CgroupsPath = "/user.slice/c1" }},
		{"linux.cgroupsPath", func(s *specs.Spec) { s.Linux.CgroupsPath = "system.slice:docker:c1" }},
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
		{"hooks.poststop[0].path", func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "true"}}} }},
		{"hooks.createRuntime[0].timeout", func(s *specs.Spec) {
			zero := 0
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/true", Timeout: &zero}}}
		}},
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

// TestKernelFields: the fields init writes into the container's
// namespaces, and namespaces joined by path, reach the settings.
func TestKernelFields(t *testing.T) {
	s := DefaultSpec()
	s.Domainname = "example.org"
	s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1024", "net.ipv4.ping_group_range": "0 0"}
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.Namespaces[2].Path = "/proc/1/ns/ipc"
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400}}
	s.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/true"}}}
	c, err := Convert(s, bundle(t), "c1", "boxcraft")
	require.NoError(t, err)
	assert.Equal(t, "example.org", c.OCI.Domainname)
	assert.Equal(t, s.Linux.Sysctl, c.OCI.Sysctl)
	assert.True(t, c.OCI.TimeNamespace)
	assert.Equal(t, map[string]spec.TimeOffset{"boottime": {Secs: 86400}}, c.OCI.TimeOffsets)
	assert.Equal(t, map[string]string{"ipc": "/proc/1/ns/ipc"}, c.Namespaces.Join)
	assert.True(t, c.Namespaces.IPC, "a joined ipc namespace is not the host's")
	assert.Equal(t, []spec.Hook{{Path: "/bin/true"}}, c.OCI.StartContainer)
	assert.Equal(t, "c1", c.OCI.HookState.ID)
}
