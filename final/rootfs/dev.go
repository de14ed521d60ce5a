package rootfs

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// device is a character device of every container's /dev.
type device struct {
	name         string
	major, minor uint32
}

// devices are the device nodes every container's /dev holds, as in runc
// and Docker, by their numbers on every Linux (the kernel's
// Documentation/admin-guide/devices.txt). None of them reaches a disk or
// the host's terminals: tty is whichever terminal the opener has.
func devices() []device {
	return []device{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
}

// devLinks are /dev's symlinks: NAME -> TARGET. ptmx leads to the
// container's own devpts (see devMounts).
func devLinks() [][2]string {
	return [][2]string{
		{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},
	}
}

// devMount is a filesystem mounted in /dev.
type devMount struct {
	fstype, target string
	flags          uintptr
	data           string
}

// devMounts are the filesystems below /dev: /dev/shm of shmSize bytes
// (--shm-size: spec.Container.ShmBytes).
func devMounts(ns spec.Namespaces, shmSize int64) []devMount {
	// newinstance: a devpts of the container's own, whose ptmx (reached
	// by /dev/ptmx -> pts/ptmx) hands out its terminals only, numbered
	// from 0: the command's (-t, final/console) and any made inside.
	// Without it, the host's terminals would be listed in it.
	// ptmxmode=0666: its ptmx is otherwise 0000, and no one inside could
	// open a terminal. mode=0620 and gid=5, as Docker and runc: a
	// terminal belongs to the tty group, which may write to it (wall,
	// write); gid=5 is the container's group 5, which a user namespace
	// whose map leaves it out cannot name (the kernel refuses the
	// mount), and the terminal then keeps its maker's group.
	pts := "newinstance,ptmxmode=0666,mode=0620"
	if mapsID(ns, ttyGroup) {
		pts += ",gid=" + strconv.Itoa(ttyGroup)
	}
	mounts := []devMount{
		{"devpts", "pts", unix.MS_NOSUID | unix.MS_NOEXEC, pts},
		{"tmpfs", "shm", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=1777,size=" + shmSizeOption(shmSize)},
	}
	if ns.IPC {
		// mqueue shows the queues of the IPC namespace that mounts it,
		// and a user namespace may mount it only for its own.
		mounts = append(mounts, devMount{"mqueue", "mqueue", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""})
	}
	return mounts
}

// mountDev gives the container a /dev of its own: a tmpfs holding only
// the devices above, the symlinks, a devpts for terminals, a tmpfs for
// shared memory, and with an IPC namespace of its own, its POSIX message
// queues. The host's /dev would hand root inside every disk.
func mountDev(r root, ns spec.Namespaces, shmSize int64) error {
	below, err := r.topLevel("/dev")
	if err != nil {
		return err
	}
	// No MS_NODEV: the device nodes on it must open.
	err = r.mount(below, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	unix.Close(below)
	if err != nil {
		return fmt.Errorf("mount tmpfs on /dev: %w", err)
	}
	dev, err := r.topLevel("/dev") // the new tmpfs, nothing of the image's
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	for _, d := range devices() {
		if err := makeDevice(dev, d); err != nil {
			return err
		}
	}
	for _, link := range devLinks() {
		if err := unix.Symlinkat(link[1], dev, link[0]); err != nil {
			return fmt.Errorf("make /dev/%s: %w", link[0], err)
		}
	}
	for _, m := range devMounts(ns, shmSize) {
		if err := mountInDev(r, dev, m); err != nil {
			return fmt.Errorf("mount %s on /dev/%s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// shmSizeOption is tmpfs's size= for /dev/shm of bytes (0: Docker's
// spec.DefaultShmSize), in KiB when whole, as runc's config writes it
// (65536k).
func shmSizeOption(bytes int64) string {
	if bytes <= 0 {
		bytes = spec.DefaultShmSize
	}
	if bytes%1024 == 0 {
		return strconv.FormatInt(bytes/1024, 10) + "k"
	}
	return strconv.FormatInt(bytes, 10)
}

// ttyGroup is the group of terminals, tty, as Docker and runc number it.
const ttyGroup = 5

// mapsID says whether the container's group id is one the container has:
// any without a user namespace, those its map holds with one.
func mapsID(ns spec.Namespaces, id int) bool {
	if !ns.User() {
		return true
	}
	for _, m := range ns.GIDMap {
		if id >= m.ContainerID && id-m.ContainerID < m.Size {
			return true
		}
	}
	return false
}

// mountInDev makes the folder m.target in /dev and mounts m on it.
func mountInDev(r root, dev int, m devMount) error {
	if err := unix.Mkdirat(dev, m.target, 0o755); err != nil {
		return err
	}
	fd, err := unix.Openat(dev, m.target, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	source := m.fstype
	if m.target == "shm" {
		source = "shm" // as runc and Docker name it in mountinfo
	}
	return r.mount(fd, "/dev/"+m.target, source, m.fstype, m.flags, m.data)
}

// makeDevice makes the character device /dev/NAME. mknod(2) makes a
// device node, which only root of the host's user namespace may do. In a
// user namespace of its own, the kernel refuses (EPERM), and init
// bind-mounts the host's node onto an empty file instead, as runc does:
// the same device, reached through the host's node (the host's root is
// still reachable until pivot_root).
func makeDevice(dev int, d device) error {
	err := unix.Mknodat(dev, d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor)))
	if err == nil {
		err = unix.Fchmodat(dev, d.name, 0o666, 0) // the umask took bits from mknod's mode
	} else if errors.Is(err, unix.EPERM) {
		err = bindOntoFile("/dev/"+d.name, dev, d.name)
	}
	if err != nil {
		return fmt.Errorf("make /dev/%s: %w", d.name, err)
	}
	return nil
}

// bindOntoFile bind-mounts source, a file of the host's, onto a new empty
// file name in the folder dir.
func bindOntoFile(source string, dir int, name string) error {
	if err := makeFileAt(dir, name); err != nil {
		return err
	}
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return mountOn(fd, source, "", unix.MS_BIND, "")
}
