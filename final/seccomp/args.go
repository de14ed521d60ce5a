package seccomp

import (
	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// comparisons write the test of one argument condition: they fall
// through when it holds and jump to fail when not. An argument is 64
// bits and BPF loads 32: each compares the high words first, and the low
// words only when the high words are equal.
var comparisons = map[string]func(a *assembler, c spec.SeccompArg, fail label){
	"SCMP_CMP_EQ":        equal,
	"SCMP_CMP_NE":        notEqual,
	"SCMP_CMP_MASKED_EQ": maskedEqual,
	"SCMP_CMP_GT":        greater(unix.BPF_JGT),
	"SCMP_CMP_GE":        greater(unix.BPF_JGE),
	"SCMP_CMP_LT":        less(unix.BPF_JGE),
	"SCMP_CMP_LE":        less(unix.BPF_JGT),
}

func hi(v uint64) uint32 { return uint32(v >> 32) }
func lo(v uint64) uint32 { return uint32(v) }

// offsets of argument i's high and low words.
func argWords(i uint) (uint32, uint32) {
	low := offArgs + 8*uint32(i)
	return low + 4, low
}

// equal: arg == Value.
func equal(a *assembler, c spec.SeccompArg, fail label) {
	h, l := argWords(c.Index)
	a.load(h)
	a.jump(unix.BPF_JEQ, hi(c.Value), next, fail)
	a.load(l)
	a.jump(unix.BPF_JEQ, lo(c.Value), next, fail)
}

// notEqual: arg != Value.
func notEqual(a *assembler, c spec.SeccompArg, fail label) {
	h, l := argWords(c.Index)
	pass := a.label()
	a.load(h)
	a.jump(unix.BPF_JEQ, hi(c.Value), next, pass)
	a.load(l)
	a.jump(unix.BPF_JEQ, lo(c.Value), fail, next)
	a.mark(pass)
}

// maskedEqual: arg & Value == ValueTwo (the OCI spec's, and libseccomp's,
// order: the mask first). Docker's clone rule is (flags & namespace
// flags) == 0.
func maskedEqual(a *assembler, c spec.SeccompArg, fail label) {
	h, l := argWords(c.Index)
	a.load(h)
	a.and(hi(c.Value))
	a.jump(unix.BPF_JEQ, hi(c.ValueTwo), next, fail)
	a.load(l)
	a.and(lo(c.Value))
	a.jump(unix.BPF_JEQ, lo(c.ValueTwo), next, fail)
}

// greater: arg > Value (op BPF_JGT) or arg >= Value (BPF_JGE): a higher
// high word passes, an equal one lets the low words decide.
func greater(op uint16) func(a *assembler, c spec.SeccompArg, fail label) {
	return func(a *assembler, c spec.SeccompArg, fail label) {
		h, l := argWords(c.Index)
		pass := a.label()
		a.load(h)
		a.jump(unix.BPF_JGT, hi(c.Value), pass, next)
		a.jump(unix.BPF_JEQ, hi(c.Value), next, fail)
		a.load(l)
		a.jump(op, lo(c.Value), next, fail)
		a.mark(pass)
	}
}

// less: arg < Value (op BPF_JGE: fails when the low words are >=) or
// arg <= Value (BPF_JGT).
func less(op uint16) func(a *assembler, c spec.SeccompArg, fail label) {
	return func(a *assembler, c spec.SeccompArg, fail label) {
		h, l := argWords(c.Index)
		pass := a.label()
		a.load(h)
		a.jump(unix.BPF_JGT, hi(c.Value), fail, next)
		a.jump(unix.BPF_JEQ, hi(c.Value), next, pass)
		a.load(l)
		a.jump(op, lo(c.Value), fail, next)
		a.mark(pass)
	}
}
