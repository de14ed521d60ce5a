package cgroups

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// progLoadAttr is the head of union bpf_attr that BPF_PROG_LOAD reads
// (include/uapi/linux/bpf.h). The kernel takes a shorter attr than its
// own, the rest read as zeros.
type progLoadAttr struct {
	progType    uint32
	insnCount   uint32
	insns       uint64 // a pointer
	license     uint64 // a pointer to a NUL-ended string
	logLevel    uint32
	logSize     uint32
	logBuf      uint64 // a pointer
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// progAttachAttr is the part of union bpf_attr that BPF_PROG_ATTACH reads.
type progAttachAttr struct {
	targetFD    uint32
	attachFD    uint32
	attachType  uint32
	attachFlags uint32
}

// bpf is the bpf(2) system call, which x/sys has no wrapper for.
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// loadDeviceProgram hands the program to the kernel, whose verifier
// checks it (every path ends, every read is within the context) before
// it may run. When it refuses, the program is loaded again with the
// verifier's log asked for, and the error carries the log.
func loadDeviceProgram(prog []bpfInsn) (int, error) {
	fd, err := loadProgram(prog, nil)
	if err == nil {
		return fd, nil
	}
	log := make([]byte, 64<<10)
	if _, again := loadProgram(prog, log); again != nil {
		return -1, fmt.Errorf("load the device program: %w: %s", err, strings.TrimRight(string(log), "\x00\n"))
	}
	return -1, fmt.Errorf("load the device program: %w", err)
}

// loadProgram is BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program.
func loadProgram(prog []bpfInsn, log []byte) (int, error) {
	code := encode(prog)
	license := []byte("Apache-2.0\x00") // the program calls no helper that needs GPL
	attr := progLoadAttr{
		progType:  unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCount: uint32(len(prog)),
		insns:     uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:   uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "boxcraft_dev")
	if len(log) > 0 {
		attr.logLevel, attr.logSize = 1, uint32(len(log))
		attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
	}
	// The verifier gives up with EAGAIN when a signal is pending (Go's
	// runtime sends its threads SIGURG to preempt them): load again, as
	// cilium's library does. On a slow machine (the v2 VM, emulated)
	// it happened to a start.
	var fd int
	var err error
	for try := 0; try < 100; try++ {
		fd, err = bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
			break
		}
	}
	runtime.KeepAlive(code) // the kernel read them through attr's pointers
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	return fd, err
}

// attachDeviceProgram loads the program and attaches it to the cgroup
// folder dir (BPF_PROG_ATTACH, type BPF_CGROUP_DEVICE). BPF_F_ALLOW_MULTI,
// as runc and systemd attach theirs: a program attached above (systemd's
// own device policy) keeps running too, and a device is allowed only
// when every one allows it. The attachment holds the program: its
// descriptor is closed here, and the program lives until the cgroup is
// removed.
func attachDeviceProgram(dir string, prog []bpfInsn) error {
	progFD, err := loadDeviceProgram(prog)
	if err != nil {
		return err
	}
	defer unix.Close(progFD)
	cgroup, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open the cgroup %s: %w", dir, err)
	}
	defer cgroup.Close()
	attr := progAttachAttr{
		targetFD:    uint32(cgroup.Fd()),
		attachFD:    uint32(progFD),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("attach the device program to the cgroup %s: %w", dir, err)
	}
	return nil
}
