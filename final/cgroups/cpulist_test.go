package cgroups

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCPUListRoundTrips(t *testing.T) {
	for text, list := range map[string][]int{"0": {0}, "0-2,4": {0, 1, 2, 4}, "1,3,5-6": {1, 3, 5, 6}, "0-2,5,7-8": {0, 1, 2, 5, 7, 8}} {
		got, err := ParseCPUList(text)
		require.NoError(t, err)
		assert.Equal(t, list, got)
		assert.Equal(t, text, FormatCPUList(got))
	}
	for _, bad := range []string{"", "-1", "1-", "3-2", "65536", "a,b"} {
		_, err := ParseCPUList(bad)
		assert.Error(t, err, "%q", bad)
	}
}
