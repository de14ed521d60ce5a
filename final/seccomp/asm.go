package seccomp

import (
	"errors"

	"golang.org/x/sys/unix"
)

// label is a place in the program, known once marked: jumps name labels,
// and assemble turns them into the forward offsets classic BPF wants.
type label int

// next is the following instruction (a jump offset of 0).
const next label = 0

type insn struct {
	code   uint16
	k      uint32
	jt, jf label
	to     label // an unconditional jump's target, which k holds once assembled
}

// assembler writes a classic BPF program over struct seccomp_data.
type assembler struct {
	insns []insn
	at    []int // each label's instruction, -1 until marked
}

func newAssembler() *assembler { return &assembler{at: []int{0}} }

func (a *assembler) label() label {
	a.at = append(a.at, -1)
	return label(len(a.at) - 1)
}

func (a *assembler) mark(l label) { a.at[l] = len(a.insns) }

func (a *assembler) emit(code uint16, k uint32, jt, jf label) {
	a.insns = append(a.insns, insn{code: code, k: k, jt: jt, jf: jf})
}

// load puts the 32-bit word at offset off of seccomp_data in A.
func (a *assembler) load(off uint32) { a.emit(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, off, next, next) }

// and masks A with k.
func (a *assembler) and(k uint32) { a.emit(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, k, next, next) }

// jump compares A with k by op (BPF_JEQ, BPF_JGT, BPF_JGE) and goes to
// jt if it holds, to jf if not.
func (a *assembler) jump(op uint16, k uint32, jt, jf label) {
	a.emit(unix.BPF_JMP|op|unix.BPF_K, k, jt, jf)
}

// goTo jumps to l, however far ahead (BPF_JA: a 32-bit offset).
func (a *assembler) goTo(l label) {
	a.insns = append(a.insns, insn{code: unix.BPF_JMP | unix.BPF_JA, to: l})
}

// ret ends the program with the seccomp action k.
func (a *assembler) ret(k uint32) { a.emit(unix.BPF_RET|unix.BPF_K, k, next, next) }

// assemble resolves the labels. A conditional jump reaches at most 255
// instructions ahead: one system call's rules must fit in that.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	prog := make([]unix.SockFilter, len(a.insns))
	for i, in := range a.insns {
		if in.to != next {
			prog[i] = unix.SockFilter{Code: in.code, K: uint32(a.at[in.to] - (i + 1))}
			continue
		}
		jt, err := a.offset(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := a.offset(i, in.jf)
		if err != nil {
			return nil, err
		}
		prog[i] = unix.SockFilter{Code: in.code, Jt: jt, Jf: jf, K: in.k}
	}
	return prog, nil
}

func (a *assembler) offset(from int, to label) (uint8, error) {
	if to == next {
		return 0, nil
	}
	d := a.at[to] - (from + 1)
	if a.at[to] < 0 || d < 0 || d > 255 {
		return 0, errors.New("too many conditions on one system call for a BPF jump")
	}
	return uint8(d), nil
}
