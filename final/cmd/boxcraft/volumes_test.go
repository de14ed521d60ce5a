package main

import (
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/final/spec"
)

// TestCgroupMount: a container gets /sys/fs/cgroup read-only, writable
// with --privileged, and none without a cgroup namespace of its own or
// under a mount of the user's on that path, below it or above it.
func TestCgroupMount(t *testing.T) {
	readOnly := &spec.Mount{Source: "cgroup", Target: "/sys/fs/cgroup", Type: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
	writable := &spec.Mount{Source: "cgroup", Target: "/sys/fs/cgroup", Type: "cgroup", Options: []string{"nosuid", "noexec", "nodev"}}
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		args       []string
		privileged bool
		hostNS     bool
		want       *spec.Mount
	}{
		{"Default", nil, false, false, readOnly},
		{"Privileged", nil, true, false, writable},
		{"HostCgroupNamespace", nil, false, true, nil},
		{"AVolumeElsewhere", []string{"-v", dir + ":/data", "--tmpfs", "/sys/fs/cgroups"}, false, false, readOnly},
		{"AVolumeOnIt", []string{"-v", dir + ":/sys/fs/cgroup:ro"}, false, false, nil},
		{"ATmpfsBelowIt", []string{"--tmpfs", "/sys/fs/cgroup/memory"}, false, false, nil},
		{"AVolumeAboveIt", []string{"--mount", "type=bind,source=" + dir + ",target=/sys"}, false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
			addVolumeFlags(flags)
			require.NoError(t, flags.Parse(tc.args))
			mounts, err := parseVolumes(flags)
			require.NoError(t, err)
			c := &spec.Container{Mounts: mounts, Namespaces: spec.Namespaces{Cgroup: !tc.hostNS}, Security: spec.Security{Privileged: tc.privileged}}
			assert.Equal(t, tc.want, cgroupMount(c))
		})
	}
}
