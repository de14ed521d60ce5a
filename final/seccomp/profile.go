package seccomp

//go:generate ./gen_sysnum.sh
//go:generate go run gen_default.go

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// profile is Docker's JSON format: the OCI shape, plus an archMap
// (architectures by the machine's own) and rules that hold only for
// some capabilities, architectures or kernels.
type profile struct {
	DefaultAction   string         `json:"defaultAction"`
	DefaultErrnoRet *uint          `json:"defaultErrnoRet"`
	Architectures   []string       `json:"architectures"`
	ArchMap         []architecture `json:"archMap"`
	Syscalls        []rule         `json:"syscalls"`
}

type architecture struct {
	Arch      string   `json:"architecture"`
	SubArches []string `json:"subArchitectures"`
}

type rule struct {
	spec.SeccompSyscall
	Name     string  `json:"name"` // the old format's one name
	Includes *filter `json:"includes"`
	Excludes *filter `json:"excludes"`
}

// filter is a rule's condition: every capability held, the machine's
// architecture among Arches, the kernel at least MinKernel ("5.8").
type filter struct {
	Caps      []string `json:"caps"`
	Arches    []string `json:"arches"`
	MinKernel string   `json:"minKernel"`
}

// Default is Docker's default profile for a container that keeps caps
// (CAP_CHOWN, …): the calls that need a capability the container lacks
// are refused (mount, unshare, setns and clone's namespace flags without
// CAP_SYS_ADMIN, reboot without CAP_SYS_BOOT, …), clone3 answers ENOSYS
// unless the container holds CAP_SYS_ADMIN, and everything else the
// profile does not name answers EPERM.
//
// It is not compiled here, as a file's profile is (LoadFile): init
// compiles it anyway, and TestDefaultCompiles compiles every rule of it,
// so that each run does not pay a compile whose answer is known (issue
// 26).
//
// default.json is Docker's file, verbatim; boxcraft builds it from its
// Go value, default_profile.go (go generate), which spares each start a
// decode of 20 KB of JSON: 0.6 to 1 ms of boxcraft's own start (issue
// 26). TestDefaultProfileIsDefaultJSON holds the two the same.
func Default(caps []string) *spec.Seccomp {
	f, err := fromProfile(defaultProfile(), caps)
	if err != nil {
		panic("seccomp: the built-in default profile: " + err.Error())
	}
	return f
}

// errnoRet is an errno for a profile's value.
func errnoRet(n uint) *uint { return &n }

// LoadFile reads a profile in Docker's JSON format and decides its
// conditional rules for a container that keeps caps. A file that cannot
// be read, is not such a profile, or names an action or comparison this
// package does not know is an error: nothing is half-applied.
func LoadFile(path string, caps []string) (*spec.Seccomp, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	f, err := parse(data, caps)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	return f, nil
}

// parse turns a Docker profile into the OCI shape for caps, and compiles
// it once to find what the kernel would refuse later.
func parse(data []byte, caps []string) (*spec.Seccomp, error) {
	f, err := convert(data, caps)
	if err != nil {
		return nil, err
	}
	if _, err := compile(f); err != nil {
		return nil, err
	}
	return f, nil
}

// convert turns a Docker profile into the OCI shape for caps: the rules
// whose conditions hold.
func convert(data []byte, caps []string) (*spec.Seccomp, error) {
	var p profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("not a seccomp profile: %w", err)
	}
	return fromProfile(p, caps)
}

// fromProfile is convert's work on a profile decoded.
func fromProfile(p profile, caps []string) (*spec.Seccomp, error) {
	if p.DefaultAction == "" {
		return nil, errors.New(`no "defaultAction"`)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return nil, errors.New(`both "architectures" and "archMap": use one`)
	}
	f := &spec.Seccomp{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet, Architectures: p.Architectures}
	for _, a := range p.ArchMap {
		if a.Arch == nativeArch {
			f.Architectures = append([]string{a.Arch}, a.SubArches...)
		}
	}
	for i, r := range p.Syscalls {
		if r.Name != "" && len(r.Names) > 0 {
			return nil, fmt.Errorf(`rule %d has both "name" and "names": use one`, i)
		}
		if r.Name != "" {
			r.Names = []string{r.Name}
		}
		holds, err := r.holds(caps)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		if holds {
			f.Syscalls = append(f.Syscalls, r.SeccompSyscall)
		}
	}
	return f, nil
}

// holds says whether r is part of the profile for caps, on this machine.
func (r *rule) holds(caps []string) (bool, error) {
	if r.Includes != nil {
		ok, err := r.Includes.matchAll(caps)
		if err != nil || !ok {
			return false, err
		}
	}
	if r.Excludes != nil {
		return r.Excludes.matchNone(caps)
	}
	return true, nil
}

// matchAll: every condition of f holds (an includes).
func (f *filter) matchAll(caps []string) (bool, error) {
	for _, c := range f.Caps {
		if !slices.Contains(caps, c) {
			return false, nil
		}
	}
	if len(f.Arches) > 0 && !slices.Contains(f.Arches, nativeName) {
		return false, nil
	}
	if f.MinKernel == "" {
		return true, nil
	}
	return kernelAtLeast(f.MinKernel)
}

// matchNone: no condition of f holds (an excludes).
func (f *filter) matchNone(caps []string) (bool, error) {
	for _, c := range f.Caps {
		if slices.Contains(caps, c) {
			return false, nil
		}
	}
	if slices.Contains(f.Arches, nativeName) {
		return false, nil
	}
	if f.MinKernel == "" {
		return true, nil
	}
	newer, err := kernelAtLeast(f.MinKernel)
	return !newer, err
}

// kernelAtLeast compares the running kernel's "major.minor" with want's.
func kernelAtLeast(want string) (bool, error) {
	w, err := majorMinor(want)
	if err != nil {
		return false, fmt.Errorf("minKernel %q: %w", want, err)
	}
	var u unix.Utsname
	// uname(2): the kernel the container will run on is this one.
	if err := unix.Uname(&u); err != nil {
		return false, fmt.Errorf("uname: %w", err)
	}
	have, err := majorMinor(unix.ByteSliceToString(u.Release[:]))
	if err != nil {
		return false, fmt.Errorf("kernel release: %w", err)
	}
	return have[0] > w[0] || have[0] == w[0] && have[1] >= w[1], nil
}

// majorMinor reads "6.1" out of "6.1.0-18-amd64".
func majorMinor(release string) ([2]int, error) {
	var v [2]int
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return v, errors.New(`want "major.minor"`)
	}
	for i := range v {
		digits := strings.IndexFunc(parts[i]+"x", func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.Atoi(parts[i][:digits])
		if err != nil {
			return v, errors.New(`want "major.minor"`)
		}
		v[i] = n
	}
	return v, nil
}
