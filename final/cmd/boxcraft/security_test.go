package main

import (
	"slices"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/final/security"
	"github.com/boxcraft/boxcraft/final/spec"
)

func parseSecurityFlags(t *testing.T, args ...string) (spec.Security, error) {
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	addSecurityFlags(flags)
	require.NoError(t, flags.Parse(args))
	return parseSecurity(flags)
}

func TestParseSecurity(t *testing.T) {
	s, err := parseSecurityFlags(t)
	require.NoError(t, err)
	assert.ElementsMatch(t, security.DefaultCapabilities(), s.Capabilities)
	assert.True(t, s.NoNewPrivileges, "no_new_privs by default")
	assert.Contains(t, s.MaskedPaths, "/proc/keys")
	assert.Contains(t, s.ReadonlyPaths, "/proc/sys")

	s, err = parseSecurityFlags(t, "--cap-drop", "ALL", "--cap-add", "net_admin,chown")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"CAP_NET_ADMIN", "CAP_CHOWN"}, s.Capabilities)

	s, err = parseSecurityFlags(t, "--cap-drop", "chown", "--cap-add", "chown")
	require.NoError(t, err)
	assert.Contains(t, s.Capabilities, "CAP_CHOWN", "in both: added, as Docker")

	host, err := security.HostCapabilities()
	require.NoError(t, err)
	s, err = parseSecurityFlags(t, "--cap-add", "ALL", "--cap-drop", "sys_admin")
	require.NoError(t, err)
	assert.Equal(t, len(host)-1, len(s.Capabilities))
	assert.False(t, slices.Contains(s.Capabilities, "CAP_SYS_ADMIN"))

	s, err = parseSecurityFlags(t, "--privileged")
	require.NoError(t, err)
	assert.Equal(t, host, s.Capabilities)
	assert.False(t, s.NoNewPrivileges)
	assert.Empty(t, s.MaskedPaths)
	assert.Nil(t, s.Seccomp)

	s, err = parseSecurityFlags(t, "--security-opt", "no-new-privileges=false", "--security-opt", "systempaths=unconfined", "--security-opt", "seccomp=unconfined")
	require.NoError(t, err)
	assert.False(t, s.NoNewPrivileges)
	assert.Empty(t, s.MaskedPaths)
	assert.Empty(t, s.ReadonlyPaths)

	for _, bad := range [][]string{
		{"--cap-add", "bogus"}, {"--cap-drop", "chown,nope"}, {"--security-opt", "label=disable"}, {"--security-opt", "apparmor=x"},
		{"--security-opt", "no-new-privileges=1"}, {"--security-opt", "seccomp"}, {"--security-opt", "systempaths=x"}, {"--security-opt", "x"},
	} {
		_, err := parseSecurityFlags(t, bad...)
		assert.Error(t, err, "%v", bad)
	}
}
