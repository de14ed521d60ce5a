package containerinit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/trace"
	"golang.org/x/sys/unix"
)

// DefaultPath is Docker's PATH, for an image that sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execCommand replaces init with the command: same pid, same namespaces
// (step01). A command that is not there is Docker's 127, one that cannot
// run 126.
//
// With --trace, the exec is reported before it happens (a successful
// execve closes the trace's pipe and cannot say so), and again with its
// errno when it fails, as the trace's last line.
func execCommand(c *spec.Container, tr *trace.Tracer) error {
	p := c.Process
	if len(p.Args) == 0 {
		return NoCommand()
	}
	start := tr.Start()
	path, err := lookPath(p.Args[0], PathOf(p.Env))
	if err != nil {
		tr.Done(start, "step01", "execve", err, func() string { return fmt.Sprintf("%q %q", p.Args[0], p.Args) })
		return err
	}
	if last := atExecOf(c); len(last.memory) > 0 {
		return execUnderMemoryLimits(path, p, last, tr)
	}
	tr.Mark("step01", "execve", func() string { return fmt.Sprintf("%q %q", path, p.Args) })
	start = tr.Start()
	err = unix.Exec(path, p.Args, p.Env)
	tr.Done(start, "step01", "execve", err, func() string { return fmt.Sprintf("%q %q", path, p.Args) })
	return execFailure(p, err)
}

// execFailure is the failure of an execve: Docker's 127 for a script
// whose interpreter is missing, 126 for any other.
func execFailure(p spec.Process, err error) *Failure {
	status := 126
	if errors.Is(err, unix.ENOENT) {
		status = 127
	}
	return &Failure{Status: status, Message: fmt.Sprintf("exec %s: %v", p.Args[0], err), errno: errnoOf(err)}
}

// NoCommand is the failure of a process without args: init's, or one
// boxcraft exec was asked to start.
func NoCommand() *Failure {
	return &Failure{Status: 125, Message: "no command: give one, or use an image that has an Entrypoint or Cmd"}
}

// lookPath finds name as a shell would: a name with a slash as it is,
// otherwise in each folder of PATH, now that / is the container's root.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, checkExecutable(name, name)
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, name)
		if err := checkExecutable(name, candidate); err == nil {
			return candidate, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", &Failure{Status: 127, Message: fmt.Sprintf("exec %q: executable file not found in $PATH", name)}
}

// checkExecutable tells a missing file (127) from one that cannot run
// (126): a folder, or a file without execute permission.
func checkExecutable(name, path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if strings.Contains(name, "/") {
			return &Failure{Status: 127, Message: fmt.Sprintf("exec %q: no such file or directory", name)}
		}
		return err
	case err != nil:
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: %v", name, err), errno: errnoOf(err)}
	case st.IsDir():
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: is a directory", name), errno: unix.EISDIR}
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: permission denied", name), errno: errnoOf(err)}
	}
	return nil
}

// errnoOf is the kernel's error number err carries, or 0.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	errors.As(err, &errno)
	return errno
}

// PathOf is PATH from the command's environment, or Docker's.
func PathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if value, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return value
		}
	}
	return DefaultPath
}
