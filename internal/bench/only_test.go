package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOnly: -only's list, and the steps it runs: a figure's own, and
// the one it is made from (figure 6 is of figure 1's runs).
func TestOnly(t *testing.T) {
	only, err := parseOnly("16, 6")
	require.NoError(t, err)
	assert.Equal(t, []int{16, 6}, only)
	s := &b{only: only}
	var ran [][]int
	for _, f := range s.figures("") {
		if s.wanted(f.numbers) {
			ran = append(ran, f.numbers)
		}
	}
	assert.Equal(t, [][]int{{1, 5, 6, 7, 9, 18, 19, 21}, {6}, {16}}, ran)
	assert.True(t, (&b{}).wanted([]int{3}), "no -only: every figure")
	for _, bad := range []string{"x", "16,,0", "-1"} {
		_, err := parseOnly(bad)
		assert.Error(t, err, bad)
	}
}
