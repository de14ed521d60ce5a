package rootfs

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// TestParseOptionsLastWordWins: an option that clears a flag (exec, rw,
// suid) takes back what an earlier one set, as mount(8) reads a list:
// --tmpfs /t:exec after Docker's default noexec.
func TestParseOptionsLastWordWins(t *testing.T) {
	o := parseOptions([]string{"noexec", "nosuid", "nodev", "exec", "ro", "size=1m"})
	assert.Equal(t, uintptr(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_RDONLY), o.flags)
	assert.Equal(t, []string{"size=1m"}, o.data, "a filesystem's own options go to it as data")

	o = parseOptions([]string{"ro", "rw", "noexec"})
	assert.Equal(t, uintptr(unix.MS_NOEXEC), o.flags, "rw after ro")
	o = parseOptions([]string{"exec", "noexec"})
	assert.Equal(t, uintptr(unix.MS_NOEXEC), o.flags, "noexec after exec")
	assert.Empty(t, o.data, "exec is a flag's word, never the filesystem's data")
}
