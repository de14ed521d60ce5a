//go:build !amd64 && !arm64

package seccomp

// Other architectures have no system-call table here: compile refuses
// every profile, and a container runs only unconfined.
const (
	nativeAudit = 0
	nativeArch  = ""
	nativeName  = ""
	x32Bit      = 0
)

func sysnum() map[string]uint32 { return nil }
