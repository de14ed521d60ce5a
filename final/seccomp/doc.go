// Package seccomp is the container's system-call filter: Docker's
// default profile, Docker's JSON profiles read from a file, and a small
// compiler from a profile (in the OCI runtime spec's shape, spec.Seccomp)
// to classic BPF, installed with seccomp(2) as init's last step before
// execve.
//
// No step taught it: steps 01 to 05 give root inside every system call
// the kernel has, and the kernel's own checks (capabilities, namespaces)
// are all that stands between a root inside and, say, keyctl(2) on the
// host's keyrings or a kernel bug in a rarely used call. The filter
// takes away the calls a container has no business making (issue 20).
//
// default.json is moby/profiles' seccomp/default.json, verbatim
// (Apache-2.0, copyright The Moby Authors), at commit 3c28324 (in its tag
// seccomp/v0.2.3): the profile is data, so that it can be diffed against
// Docker's. A start builds it from default_profile.go, which go generate
// writes from the file (gen_default.go), rather than decoding its 20 KB
// of JSON each time (issue 26). Its conditional rules ("includes"/"excludes" on capabilities,
// architectures and kernel versions) are decided here when the profile is
// made, against the container's capabilities: Default(caps).
//
// Why a compiler of our own rather than libseccomp or a Go library: the
// BPF a profile needs is a list of comparisons (the system call's number,
// then up to six 64-bit arguments as two 32-bit words each) ending in a
// return; it fits in compile.go. libseccomp needs cgo; the Go library
// that compiles without cgo (elastic/go-seccomp-bpf) returns EPERM alone,
// and Docker's profile needs ENOSYS for clone3 and any errno a profile
// names.
package seccomp
