package nsenter

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// step is one step read back from a plan's bytes, as nsexec's plan.c
// reads it: the op, then a count of fields, each a length, the bytes
// and a NUL; the first field the trace line.
type step struct {
	op   byte
	line string
	args []string
}

func readPlan(t *testing.T, b []byte) []step {
	t.Helper()
	var steps []step
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 5, "a step's op and count")
		s := step{op: b[0]}
		count := binary.LittleEndian.Uint32(b[1:])
		b = b[5:]
		var fields []string
		for range count {
			require.GreaterOrEqual(t, len(b), 4, "a field's length")
			n := binary.LittleEndian.Uint32(b)
			require.GreaterOrEqual(t, len(b), 4+int(n)+1, "a field and its NUL")
			require.Equal(t, byte(0), b[4+n], "each field ends in a NUL")
			fields = append(fields, string(b[4:4+n]))
			b = b[4+n+1:]
		}
		require.NotEmpty(t, fields, "every step has its trace line")
		s.line, s.args = fields[0], fields[1:]
		steps = append(steps, s)
	}
	return steps
}

func TestPlanIsItsStepsInOrder(t *testing.T) {
	var p Plan
	p.Trace("json", 8, 1234)
	p.Chdir("/work", "a line")
	p.Seccomp([]byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f}, "")
	p.IDs("nobody", 65534, 65533, []uint32{5, 6}, "")
	p.Bounding(1<<21|1, 40, []string{"CAP_CHOWN"}, "")
	p.Exec("/bin:/usr/bin", []string{"sh", "-c", "echo hi"}, []string{"HOME=/"}, PathMark+` ["sh"]`)

	steps := readPlan(t, p.Bytes())
	require.Len(t, steps, 6)
	assert.Equal(t, step{op: opTrace, args: []string{"json", "8", "1234"}}, steps[0])
	assert.Equal(t, step{op: opChdir, line: "a line", args: []string{"/work"}}, steps[1])
	assert.Equal(t, []string{"\x06\x00\x00\x00\x00\x00\xff\x7f"}, steps[2].args, "a BPF program as it is, NULs and all")
	assert.Equal(t, []string{`user "nobody"`, "65533", "65534", "5", "6"}, steps[3].args, "who, gid, uid, the groups")
	assert.Equal(t, []string{"2097153", "40", "CAP_CHOWN"}, steps[4].args, "the mask kept, the last capability, the names")
	assert.Equal(t, step{op: opExec, line: PathMark + ` ["sh"]`, args: []string{"/bin:/usr/bin", "3", "sh", "-c", "echo hi", "HOME=/"}}, steps[5])
}

func TestTerminalStepCarriesSocketUserAndSize(t *testing.T) {
	var p Plan
	p.Terminal(9, 65534, 120, 40, "a line")
	p.Session(true, "")
	steps := readPlan(t, p.Bytes())
	require.Len(t, steps, 2)
	assert.Equal(t, step{op: opTerminal, line: "a line", args: []string{"9", "65534", "120", "40"}}, steps[0],
		"the socket, the uid, the columns and rows, as terminal.c reads them")
	assert.Equal(t, step{op: opSession, args: []string{"tty"}}, steps[1], "then the session, whose terminal it becomes")
}
