package testkit

import (
	"debug/buildinfo"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notForOCI are the modules of boxcraft's image store, bridge network
// and /proc views: an OCI bundle uses none of them, and each costs every
// run of boxcraft-runc its package set-up (issue 23: containerd's shim
// runs it several times per container).
var notForOCI = []string{
	"github.com/klauspost/compress",        // the image store's zstd
	"github.com/opencontainers/go-digest",  // image digests (regexps compiled at start)
	"github.com/opencontainers/image-spec", // image manifests and configs
	"github.com/google/nftables",           // the bridge's NAT and published ports
	"github.com/mdlayher/netlink",          // nftables' netlink
	"github.com/vishvananda/netlink",       // the bridge and veths
	"github.com/hanwen/go-fuse",            // the /proc views
}

// linksWhatOCINeeds reads the modules the binary under test was built
// with (its build info, as `go version -m` shows them): none of
// notForOCI, and no cgo (assertWithoutCgo).
func (s *ociSuite) linksWhatOCINeeds(t *testing.T) {
	info, err := buildinfo.ReadFile(RuncBinary(t))
	require.NoError(t, err)
	assertWithoutCgo(t, info)
	var linked []string
	for _, dep := range info.Deps {
		linked = append(linked, dep.Path)
	}
	require.NotEmpty(t, linked, "boxcraft-runc's build info lists no modules: runtime-spec and x/sys at least")
	for _, mod := range notForOCI {
		for _, dep := range linked { // a module's path may end in /v2
			assert.False(t, dep == mod || strings.HasPrefix(dep, mod+"/"),
				"boxcraft-runc links %s, which no OCI bundle needs: its modules are %s", dep, strings.Join(linked, " "))
		}
	}
}

// assertWithoutCgo checks, in a binary's build info, that it was built
// without cgo (issue 26, round 6): a cgo binary pays the C library's
// start and cgo's threads at every run. Only boxcraft-exec-init needs C.
func assertWithoutCgo(t *testing.T, info *buildinfo.BuildInfo) {
	t.Helper()
	cgo := ""
	for _, setting := range info.Settings {
		if setting.Key == "CGO_ENABLED" {
			cgo = setting.Value
		}
	}
	assert.Equal(t, "0", cgo, "%s is built without cgo (CGO_ENABLED=0): only boxcraft-exec-init needs C", info.Path)
}
