package seccomp

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// Install compiles f and makes it the filter of every thread of the
// calling process, and of whatever it execs: nil installs nothing
// (unconfined). The kernel takes a filter only from a process with
// no_new_privs set, or with CAP_SYS_ADMIN (else EACCES), and the filter
// holds from the next call on: install it last before execve, once
// nothing else init does needs a call the profile refuses. It is reported
// to tr (--trace; nil when not traced) with the filter's size.
func Install(f *spec.Seccomp, tr *trace.Tracer) error {
	if f == nil {
		return nil
	}
	filter, err := Compile(f)
	if err != nil {
		return err
	}
	return tr.Do("final/security", InstallCall, filter.Describe, filter.Install)
}

// InstallCall is the system call that installs a filter, as the trace
// names it.
const InstallCall = "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)"

// Filter is a profile compiled, for a process that must install it later
// with nothing in between that may allocate: init under a limit on its
// memory (containerinit).
type Filter struct {
	profile *spec.Seccomp
	prog    []unix.SockFilter
}

// Compile compiles f, not nil; a profile Precompile made is its program
// already.
func Compile(f *spec.Seccomp) (*Filter, error) {
	if f.Compiled != nil {
		prog, err := decode(f.Compiled.Program)
		if err != nil {
			return nil, fmt.Errorf("seccomp: the compiled filter: %w", err)
		}
		return &Filter{profile: f, prog: prog}, nil
	}
	prog, err := compile(f)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	return &Filter{profile: f, prog: prog}, nil
}

// Precompile is f compiled, for a process that hands it to init: its
// program in the place of its rules (spec.Seccomp's Compiled). The
// monitor compiles while init starts, where init compiled on its way to
// the command (issue 26).
func Precompile(f *spec.Seccomp) (*spec.Seccomp, error) {
	prog, _, err := Program(f)
	if err != nil {
		return nil, err
	}
	return &spec.Seccomp{DefaultAction: f.DefaultAction, DefaultErrnoRet: f.DefaultErrnoRet, Architectures: f.Architectures,
		Compiled: &spec.CompiledSeccomp{Program: prog, Rules: len(f.Syscalls)}}, nil
}

// decode turns Program's bytes back into instructions.
func decode(b []byte) ([]unix.SockFilter, error) {
	if len(b) == 0 || len(b)%8 != 0 || len(b)/8 > maxInsns {
		return nil, fmt.Errorf("%d bytes are no program of 1 to %d instructions", len(b), maxInsns)
	}
	prog := make([]unix.SockFilter, 0, len(b)/8)
	for in := b; len(in) > 0; in = in[8:] {
		prog = append(prog, unix.SockFilter{Code: binary.NativeEndian.Uint16(in), Jt: in[2], Jf: in[3], K: binary.NativeEndian.Uint32(in[4:])})
	}
	return prog, nil
}

// Install makes the filter every thread's, as the package's Install does.
// It allocates nothing unless it fails.
func (f *Filter) Install() error { return install(f.prog) }

// Describe is the filter as the trace prints it.
func (f *Filter) Describe() string { return Describe(f.profile, len(f.prog)) }

// Program is f compiled, as the bytes of the struct sock_filter array
// that seccomp(2) reads, for a process that installs the filter itself
// (exec-init's C: nsenter.Plan), with its length in instructions.
func Program(f *spec.Seccomp) ([]byte, int, error) {
	prog, err := compile(f)
	if err != nil {
		return nil, 0, fmt.Errorf("seccomp: %w", err)
	}
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b, len(prog), nil
}

// Describe is a filter as the trace prints it.
func Describe(f *spec.Seccomp, instructions int) string {
	rules := len(f.Syscalls)
	if f.Compiled != nil {
		rules = f.Compiled.Rules
	}
	return fmt.Sprintf("a BPF program of %d instructions, %d rules, default action %s", instructions, rules, f.DefaultAction)
}

// install makes prog the filter of every thread.
func install(prog []unix.SockFilter) error {
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// seccomp(2) with TSYNC rather than prctl(PR_SET_SECCOMP): a filter
	// binds one thread, and a Go program has several; TSYNC puts it on
	// all of them at once, so that the thread that execs has it whichever
	// it is. On failure the kernel returns the id of the thread it could
	// not sync.
	// Raw: the calling goroutine keeps its P, so that no other runs
	// meanwhile (containerinit's last calls, under a limit on memory).
	r, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("seccomp: install the filter: %w", errno)
	}
	if r != 0 {
		return fmt.Errorf("seccomp: install the filter: thread %d could not take it", r)
	}
	return nil
}
