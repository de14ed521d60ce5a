package cgroups

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/boxcraft/boxcraft/final/spec"
)

// loop7 is a --device of a block device, read-only.
var loop7 = spec.Device{Path: "/dev/disk", Type: "b", Major: 7, Minor: 3, FileMode: 0o660, Access: "r"}

func TestV1DeviceLines(t *testing.T) {
	rules, allowAll := deviceRules(spec.Security{Devices: []spec.Device{loop7}})
	require.False(t, allowAll)
	lines := v1DeviceLines(rules, allowAll)
	assert.Equal(t, [2]string{"devices.deny", "a"}, lines[0], "everything refused first")
	var allowed []string
	for _, l := range lines[1:] {
		assert.Equal(t, "devices.allow", l[0])
		allowed = append(allowed, l[1])
	}
	assert.Equal(t, []string{"c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm",
		"c 1:5 rwm", "c 1:9 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm", "b 7:3 r"}, allowed)

	rules, allowAll = deviceRules(spec.Security{Privileged: true, Devices: []spec.Device{loop7}})
	assert.Equal(t, [][2]string{{"devices.allow", "a"}}, v1DeviceLines(rules, allowAll), "--privileged: every device")
}

func TestCheckDevice(t *testing.T) {
	assert.NoError(t, checkDevice(loop7))
	for _, bad := range []spec.Device{
		{Path: "/dev/x", Type: "p", Major: 1, Minor: 3, Access: "r"},
		{Path: "/dev/x", Type: "c", Major: -1, Minor: 3, Access: "r"},
		{Path: "/dev/x", Type: "c", Major: 1, Minor: 3, Access: ""},
		{Path: "/dev/x", Type: "c", Major: 1, Minor: 3, Access: "rx"},
	} {
		assert.Error(t, checkDevice(bad), "%+v", bad)
	}
}

// request is one access the kernel asks the program about.
type request struct {
	kind         byte // 'c' or 'b'
	major, minor uint32
	access       string
}

func TestDeviceProgramAnswers(t *testing.T) {
	rules, _ := deviceRules(spec.Security{Devices: []spec.Device{loop7}})
	prog := deviceProgram(rules)
	for req, want := range map[request]bool{
		{'c', 1, 3, "rw"}: true, {'c', 1, 5, "r"}: true, {'c', 1, 9, "r"}: true, // null, zero, urandom
		{'c', 136, 4, "rw"}: true, {'c', 5, 2, "rw"}: true, // a pty, ptmx
		{'b', 254, 0, "m"}: true, {'c', 1, 1, "m"}: true, // mknod of anything
		{'b', 254, 0, "r"}: false, {'b', 254, 0, "w"}: false, {'b', 254, 0, "rm"}: false, // the host's disk
		{'c', 1, 1, "r"}:  false,                          // /dev/mem
		{'b', 1, 3, "r"}:  false,                          // null's numbers, as a block device
		{'c', 5, 1, "rw"}: false, {'c', 4, 0, "w"}: false, // the host's console, tty0
		{'b', 7, 3, "r"}: true, {'b', 7, 3, "w"}: false, {'b', 7, 4, "r"}: false, // --device, read-only
		{'c', 7, 3, "r"}: false,
	} {
		got, err := interpret(prog, req)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%c %d:%d %s", req.kind, req.major, req.minor, req.access)
	}
}

func TestDeviceProgramEncoding(t *testing.T) {
	code := encode([]bpfInsn{{code: opLoadWord, dst: r2, src: r1, off: 4, imm: -2}})
	assert.Equal(t, []byte{0x61, 0x12, 4, 0, 0xfe, 0xff, 0xff, 0xff}, code, "dst in the low nibble, little-endian")
}

// interpret runs a device program as the kernel would, for the opcodes
// deviceProgram uses (any other fails the test): a machine with 11
// 64-bit registers whose r1 points at bpf_cgroup_dev_ctx.
func interpret(prog []bpfInsn, req request) (bool, error) {
	ctx := make([]byte, 12)
	kind := map[byte]uint32{'b': devBlock, 'c': devChar}[req.kind]
	binary.LittleEndian.PutUint32(ctx[0:], kind|uint32(accessBits(req.access))<<16)
	binary.LittleEndian.PutUint32(ctx[4:], req.major)
	binary.LittleEndian.PutUint32(ctx[8:], req.minor)
	const ctxPointer = 1 << 40 // r1's value: a pointer, not a number
	var reg [11]uint64
	reg[r1] = ctxPointer
	for pc, steps := 0, 0; pc < len(prog) && steps < 4096; pc, steps = pc+1, steps+1 {
		in := prog[pc]
		imm := uint64(int64(in.imm)) // sign-extended, as the kernel does
		switch in.code {
		case opLoadWord:
			at := int64(reg[in.src]-ctxPointer) + int64(in.off)
			if reg[in.src] < ctxPointer || at < 0 || at+4 > int64(len(ctx)) {
				return false, fmt.Errorf("%d: %v reads outside the context", pc, in)
			}
			reg[in.dst] = uint64(binary.LittleEndian.Uint32(ctx[at:]))
		case opAnd32Imm:
			reg[in.dst] = uint64(uint32(reg[in.dst]) & uint32(in.imm))
		case opRsh32Imm:
			reg[in.dst] = uint64(uint32(reg[in.dst]) >> uint32(in.imm))
		case opMov32Reg:
			reg[in.dst] = uint64(uint32(reg[in.src]))
		case opMov32Imm:
			reg[in.dst] = uint64(uint32(in.imm))
		case opJneImm, opJneReg:
			other := imm
			if in.code == opJneReg {
				other = reg[in.src]
			}
			if reg[in.dst] != other {
				pc += int(in.off)
			}
		case opExit:
			return reg[r0] == 1, nil
		default:
			return false, fmt.Errorf("%d: %v: an opcode the interpreter does not know", pc, in)
		}
	}
	return false, fmt.Errorf("the program ran off its end or did not stop")
}
