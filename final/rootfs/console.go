package rootfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// A container's /dev/console is its terminal, as runc makes it: programs
// such as init systems write their messages there. With -t (spec's
// Process.Terminal) that terminal is the container's own, made by init
// once the root is pivoted into (final/console), and BindConsole binds
// it. Without -t, a stdin that is a terminal (`boxcraft run -i` on one)
// is bound by mountConsole, during Setup.

// mountConsole gives the container a /dev/console when its stdin is a
// terminal: that terminal, bind-mounted. TCGETS reads a terminal's
// settings, and fails on anything else (with -t, init's stdin is
// /dev/null until its terminal is made).
//
// The bind mount's source is the terminal's name (/dev/pts/N), which
// names it in this mount namespace's copy of the host's /dev: stdin
// itself was opened in the host's mount namespace, and the kernel binds
// only mounts of the caller's own.
func mountConsole(r root) error {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
		return nil // not a terminal: no console
	}
	terminal, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		return fmt.Errorf("make /dev/console: %w", err)
	}
	dev, err := r.topLevel("/dev")
	if err != nil {
		return err
	}
	defer unix.Close(dev)
	if err := bindOntoFile(terminal, dev, "console"); err != nil {
		return fmt.Errorf("make /dev/console from %s: %w", terminal, err)
	}
	return nil
}

// BindConsole binds terminal, the container's own (final/console), onto
// /dev/console, once Setup has pivoted into the root. The bind's source
// is the descriptor itself (open_tree(2) of it), not a path that a mount
// in /dev/pts could lead elsewhere. Its target is made when missing and
// never followed (O_NOFOLLOW): a /dev/console that is there (a volume
// over /dev, --privileged's -v /dev:/dev) is bound over, as runc binds
// over it, when it is a file or a device, and refused otherwise.
func BindConsole(terminal *os.File) error {
	dev, err := unix.Open("/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("make /dev/console: %w", err)
	}
	defer unix.Close(dev)
	target, err := consoleTarget(dev)
	if err != nil {
		return fmt.Errorf("make /dev/console: %w", err)
	}
	defer unix.Close(target)
	tree, err := unix.OpenTree(int(terminal.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("bind the terminal onto /dev/console: open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind the terminal onto /dev/console: move_mount: %w", err)
	}
	return nil
}

// consoleTarget opens (O_PATH) /dev/console in the folder dev, made as
// an empty file when missing: a regular file or a device, never what a
// symlink names.
func consoleTarget(dev int) (int, error) {
	target, err := unix.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if err := makeFileAt(dev, "console"); err != nil {
			return -1, err
		}
		target, err = unix.Openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		unix.Close(target)
		return -1, err
	}
	if kind := st.Mode & unix.S_IFMT; kind != unix.S_IFREG && kind != unix.S_IFCHR {
		unix.Close(target)
		return -1, errors.New("it is there, and neither a file nor a device")
	}
	return target, nil
}
