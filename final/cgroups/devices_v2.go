package cgroups

import (
	"encoding/binary"
	"fmt"
)

// limitDevices, on v2: cgroup v2 has no devices controller. The kernel
// runs instead, at each open and mknod of a device node, the BPF
// programs of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the opener's
// cgroup and those above it, and refuses (EPERM) when one answers 0.
// So the container's rules become a small program (deviceProgram),
// attached to its folder before any process is in it, as runc does.
// With allowAll nothing is attached: no program of its own, nothing
// refused beyond what the cgroups above refuse.
func (m *v2Manager) limitDevices(rules []deviceRule, allowAll bool) error {
	if allowAll {
		return nil
	}
	return attachDeviceProgram(m.folder, deviceProgram(rules))
}

// A BPF instruction is 8 bytes: an opcode, two registers (destination in
// the low 4 bits, source in the high 4), a 16-bit offset and a 32-bit
// immediate (the kernel's struct bpf_insn, include/uapi/linux/bpf.h).
type bpfInsn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

// The opcodes deviceProgram uses: class | operation | source.
const (
	opLoadWord  = 0x61 // BPF_LDX | BPF_MEM | BPF_W:   dst = *(u32 *)(src + off)
	opAnd32Imm  = 0x54 // BPF_ALU | BPF_AND | BPF_K:   dst &= imm (32 bits)
	opRsh32Imm  = 0x74 // BPF_ALU | BPF_RSH | BPF_K:   dst >>= imm
	opMov32Reg  = 0xbc // BPF_ALU | BPF_MOV | BPF_X:   dst = src
	opMov32Imm  = 0xb4 // BPF_ALU | BPF_MOV | BPF_K:   dst = imm
	opJneImm    = 0x55 // BPF_JMP | BPF_JNE | BPF_K:   if dst != imm, skip off
	opJneReg    = 0x5d // BPF_JMP | BPF_JNE | BPF_X:   if dst != src, skip off
	opExit      = 0x95 // BPF_JMP | BPF_EXIT:          return r0
	devBlock    = 1    // BPF_DEVCG_DEV_BLOCK, in access_type's low 16 bits
	devChar     = 2    // BPF_DEVCG_DEV_CHAR
	accessMknod = 1    // BPF_DEVCG_ACC_MKNOD, in access_type's high 16 bits
	accessRead  = 2    // BPF_DEVCG_ACC_READ
	accessWrite = 4    // BPF_DEVCG_ACC_WRITE
)

// Registers: r1 holds the program's argument, a pointer to struct
// bpf_cgroup_dev_ctx { u32 access_type, major, minor }; r0 is the
// answer (1 allows, 0 refuses).
const (
	r0, r1, r2, r3, r4, r5 = 0, 1, 2, 3, 4, 5
)

// deviceProgram compiles the rules into a program that answers 1 when a
// rule allows the access asked for, and 0 when none does: v1's
// devices.deny "a" then devices.allow lines, as runc's devicefilter
// writes it. The head loads what is asked into registers; each rule is a
// block that jumps to the next block on a mismatch, and returns 1 at its
// end.
func deviceProgram(rules []deviceRule) []bpfInsn {
	prog := []bpfInsn{
		{code: opLoadWord, dst: r2, src: r1, off: 0}, // r2 = the device's type
		{code: opAnd32Imm, dst: r2, imm: 0xffff},
		{code: opLoadWord, dst: r3, src: r1, off: 0}, // r3 = the access asked for
		{code: opRsh32Imm, dst: r3, imm: 16},
		{code: opLoadWord, dst: r4, src: r1, off: 4}, // r4 = major
		{code: opLoadWord, dst: r5, src: r1, off: 8}, // r5 = minor
	}
	for _, r := range rules {
		prog = append(prog, ruleBlock(r)...)
	}
	return append(prog, bpfInsn{code: opMov32Imm, dst: r0, imm: 0}, bpfInsn{code: opExit})
}

// ruleBlock is one rule's test: each comparison skips the rest of the
// block when it fails; passing them all returns 1.
func ruleBlock(r deviceRule) []bpfInsn {
	var tests [][]bpfInsn
	switch r.kind {
	case 'c':
		tests = append(tests, []bpfInsn{{code: opJneImm, dst: r2, imm: devChar}})
	case 'b':
		tests = append(tests, []bpfInsn{{code: opJneImm, dst: r2, imm: devBlock}})
	}
	// The access asked for must be within the rule's: r1 is free once
	// the head has read the context.
	tests = append(tests, []bpfInsn{
		{code: opMov32Reg, dst: r1, src: r3},
		{code: opAnd32Imm, dst: r1, imm: accessBits(r.access)},
		{code: opJneReg, dst: r1, src: r3},
	})
	if r.major != wildcard {
		tests = append(tests, []bpfInsn{{code: opJneImm, dst: r4, imm: int32(r.major)}})
	}
	if r.minor != wildcard {
		tests = append(tests, []bpfInsn{{code: opJneImm, dst: r5, imm: int32(r.minor)}})
	}
	var block []bpfInsn
	for _, test := range tests {
		block = append(block, test...)
	}
	block = append(block, bpfInsn{code: opMov32Imm, dst: r0, imm: 1}, bpfInsn{code: opExit})
	// A jump's offset counts the instructions it skips after itself:
	// from each jump to the block's end.
	for i := range block {
		if block[i].code == opJneImm || block[i].code == opJneReg {
			block[i].off = int16(len(block) - i - 1)
		}
	}
	return block
}

// accessBits is "rwm" as the program's access bits.
func accessBits(access string) int32 {
	var bits int32
	for _, c := range access {
		switch c {
		case 'r':
			bits |= accessRead
		case 'w':
			bits |= accessWrite
		case 'm':
			bits |= accessMknod
		}
	}
	return bits
}

// encode lays the program out as the kernel reads it: 8 bytes an
// instruction, in the machine's byte order (little-endian on every
// architecture boxcraft builds for).
func encode(prog []bpfInsn) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = append(out, in.code, in.dst|in.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(in.off))
		out = binary.LittleEndian.AppendUint32(out, uint32(in.imm))
	}
	return out
}

// String shows an instruction as the kernel's verifier log would, close
// enough to read a failing program.
func (in bpfInsn) String() string {
	return fmt.Sprintf("{%#02x r%d r%d %+d %d}", in.code, in.dst, in.src, in.off, in.imm)
}
