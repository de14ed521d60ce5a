package seccomp

import "golang.org/x/sys/unix"

// The architecture the filter is compiled for: the one this binary runs
// as. A call made under another (a 32-bit i386 program through int 0x80,
// an x32 program: the same AUDIT_ARCH_X86_64 with bit 30 set in the
// number) has other numbers, so it is refused whole rather than checked
// against the wrong table.
const (
	nativeAudit = unix.AUDIT_ARCH_X86_64
	nativeArch  = "SCMP_ARCH_X86_64"
	nativeName  = "amd64" // as a profile's "arches" name it
	x32Bit      = 0x40000000
)
