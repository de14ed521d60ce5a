package seccomp

import "golang.org/x/sys/unix"

// The architecture the filter is compiled for (see arch_amd64.go).
const (
	nativeAudit = unix.AUDIT_ARCH_AARCH64
	nativeArch  = "SCMP_ARCH_AARCH64"
	nativeName  = "arm64"
	x32Bit      = 0 // no such sub-architecture
)
