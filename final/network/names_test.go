package network

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestWithoutLast: a peer's teardown takes its line out of a container's
// /etc/hosts, and leaves the container's own --add-host line that says
// the same, and lines that only hold it.
func TestWithoutLast(t *testing.T) {
	own := "127.0.0.1\tlocalhost\n10.88.0.3\tweb\n210.88.0.3\tweb\n10.88.0.2\tme\n"
	peer := "10.88.0.3\tweb\n"
	assert.Equal(t, own, withoutLast(own+peer, peer), "the peer's line goes, the --add-host line stays")
	assert.Equal(t, "127.0.0.1\tlocalhost\n210.88.0.3\tweb\n", withoutLast("127.0.0.1\tlocalhost\n210.88.0.3\tweb\n", peer), "a line that only holds it stays")
	assert.Equal(t, "a\n", withoutLast("a\n"+peer, peer))
	assert.Equal(t, "", withoutLast(peer, peer))
}

// TestWithLine: a peer's line goes on a line of its own, after a last
// line the container's process left without a newline, and its teardown
// finds it whole again.
func TestWithLine(t *testing.T) {
	peer := "10.88.0.3\tweb\n"
	assert.Equal(t, "a\n"+peer, withLine("a\n", peer))
	assert.Equal(t, peer, withLine("", peer))
	mine := "127.0.0.1\tlocalhost\n5.6.7.8 mine"
	assert.Equal(t, mine+"\n"+peer, withLine(mine, peer))
	assert.Equal(t, mine+"\n", withoutLast(withLine(mine, peer), peer))
}
