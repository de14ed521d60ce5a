package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mount mounts onto fd, the mount point target in the root, and reports
// it: source, target, type and options, as mount(8) would show them.
func (r root) mount(fd int, target, source, fstype string, flags uintptr, data string) error {
	return r.tr.Do("step04", "mount", func() string {
		return fmt.Sprintf("%s on %s type %s (%s)", source, target, orNone(fstype), mountOptions(flags, data))
	}, func() error { return mountOn(fd, source, fstype, flags, data) })
}

// mountOptions spells flags and data as mount(8)'s options do.
func mountOptions(flags uintptr, data string) string {
	names := []struct {
		flag uintptr
		name string
	}{
		{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"},
		{unix.MS_STRICTATIME, "strictatime"}, {unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"},
		{unix.MS_PRIVATE, "private"}, {unix.MS_MOVE, "move"},
	}
	var opts []string
	for _, n := range names {
		if flags&n.flag != 0 {
			opts = append(opts, n.name)
		}
	}
	if data != "" {
		opts = append(opts, data)
	}
	if len(opts) == 0 {
		return "rw"
	}
	return strings.Join(opts, ",")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
