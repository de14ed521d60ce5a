package monitor

import (
	"testing"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/stretchr/testify/assert"
)

// A program without extras (boxcraft-runc) starts what needs none, and
// refuses, before any init starts, a container that asks for the bridge
// or a /proc view.
func TestRefuseMissingExtras(t *testing.T) {
	var none Extras
	for _, mode := range []string{spec.NetworkHost, spec.NetworkNone, spec.NetworkContainer + "abc"} {
		assert.NoError(t, none.refuseMissing(&spec.Container{Network: spec.Network{Mode: mode}}), mode)
	}
	assert.ErrorContains(t, none.refuseMissing(&spec.Container{Network: spec.Network{Mode: spec.NetworkBridge}}), "no bridge network")
	assert.ErrorContains(t, none.refuseMissing(&spec.Container{ProcView: true}), "no /proc views")
}
