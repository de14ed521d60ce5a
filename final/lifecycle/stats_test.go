package lifecycle

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const netDevHeader = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func TestParseNetDev(t *testing.T) {
	for name, tc := range map[string]struct {
		text     string
		rx, tx   uint64
		hasError bool
	}{
		"lo only (--network none)": {netDevHeader + "    lo:    2048      20    0    0    0     0          0         0     2048      20    0    0    0     0       0          0\n", 0, 0, false},
		"lo and two more": {netDevHeader +
			"    lo:    2048      20    0    0    0     0          0         0     2048      20    0    0    0     0       0          0\n" +
			"  eth0: 1000 10 0 0 0 0 0 0 300 3 0 0 0 0 0 0\n" +
			"  eth1:   24 1 0 0 0 0 0 0 12 1 0 0 0 0 0 0\n", 1024, 312, false},
		"headers only":       {netDevHeader, 0, 0, false},
		"a line cut short":   {netDevHeader + "  eth0: 1000 10 0\n", 0, 0, true},
		"a word for a count": {netDevHeader + "  eth0: many 10 0 0 0 0 0 0 300 3 0 0 0 0 0 0\n", 0, 0, true},
	} {
		rx, tx, err := parseNetDev(tc.text)
		if tc.hasError {
			assert.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)
		assert.Equal(t, []uint64{tc.rx, tc.tx}, []uint64{rx, tx}, name)
	}
}
