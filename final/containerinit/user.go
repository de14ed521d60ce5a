package containerinit

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unsafe"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/user"
	"golang.org/x/sys/unix"
)

// LookUpUser resolves p.User (-u, or the image's User), and the groups
// of --group-add, in the container's own /etc/passwd and /etc/group,
// below root ("/" in init, once it is the container's root;
// /proc/PID/root for boxcraft exec), and sets HOME from it when the environment has none. In init it comes
// before a seccomp filter is installed (securitySteps), which may not
// allow what reading the files takes (openat2(2), which a profile older
// than it does not name). An unknown name is Docker's failure, status
// 125.
func LookUpUser(root string, p *spec.Process) (spec.User, error) {
	u, err := user.Lookup(root, p.User)
	if err != nil {
		return u, &Failure{Status: 125, Message: err.Error()}
	}
	if p.Groups != nil {
		u.AdditionalGids = *p.Groups // an OCI bundle's, exactly
	}
	if len(p.GroupAdd) > 0 {
		added, err := user.Groups(root, p.GroupAdd)
		if err != nil {
			return u, &Failure{Status: 125, Message: "--group-add: " + err.Error()}
		}
		for _, gid := range added {
			if !slices.Contains(u.AdditionalGids, gid) {
				u.AdditionalGids = append(u.AdditionalGids, gid)
			}
		}
	}
	if !hasVar(p.Env, "HOME") {
		p.Env = append(p.Env, "HOME="+u.Home)
	}
	return u, nil
}

// becomeUser becomes the user LookUpUser found, once the working folder
// is entered (as root, who may enter any; the folder stays the process's
// after setuid, as runc does) and the bounding set dropped, with the
// capabilities kept across setuid for the step after (securitySteps).
func becomeUser(p *spec.Process, u spec.User) error {
	if err := setIDs(u); err != nil {
		return &Failure{Status: 125, Message: fmt.Sprintf("user %q: %v", p.User, err)}
	}
	return nil
}

// setIDs changes the groups, then the group, then the user: once the
// user is not root, it may change neither. These are this thread's
// alone, the one that execs the command (init runs locked to it), which
// keeps this thread's ids and no other's. syscall's calls would change
// every thread of the process, a signal to each and a wait for it: some
// 2 ms of a start on a loaded machine (issue 26). setgroups(2) always:
// init's groups are its parent's, the host root's. A uid outside a user
// namespace's map is EINVAL.
func setIDs(u spec.User) error {
	groups := make([]uint32, len(u.AdditionalGids))
	copy(groups, u.AdditionalGids)
	for _, step := range []struct {
		what string
		do   func() error
	}{
		{"setgroups", func() error { return setGroups(groups) }},
		{fmt.Sprintf("setgid %d", u.GID), func() error { return threadIDCall(unix.SYS_SETRESGID, u.GID) }},
		{fmt.Sprintf("setuid %d", u.UID), func() error { return threadIDCall(unix.SYS_SETRESUID, u.UID) }},
	} {
		if err := step.do(); errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("%s: not mapped in the container's user namespace (--uidmap, --gidmap)", step.what)
		} else if err != nil {
			return fmt.Errorf("%s: %w", step.what, err)
		}
	}
	return nil
}

// setGroups is setgroups(2) for the calling thread.
func setGroups(groups []uint32) error {
	var list unsafe.Pointer
	if len(groups) > 0 {
		list = unsafe.Pointer(&groups[0])
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(list), 0); errno != 0 {
		return errno
	}
	return nil
}

// threadIDCall is setresuid(2) or setresgid(2) of id, real, effective
// and saved alike (what setuid(2) does for root), for the calling thread.
func threadIDCall(call uintptr, id uint32) error {
	if _, _, errno := unix.RawSyscall(call, uintptr(id), uintptr(id), uintptr(id)); errno != 0 {
		return errno
	}
	return nil
}

func hasVar(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}
