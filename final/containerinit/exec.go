package containerinit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/boxcraft/boxcraft/final/spec"
	"golang.org/x/sys/unix"
)

// DefaultPath is Docker's PATH, for an image that sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execCommand replaces init with the command: same pid, same namespaces
// (step01). A command that is not there is Docker's 127, one that cannot
// run 126.
func execCommand(p spec.Process) error {
	if len(p.Args) == 0 {
		return &Failure{Status: 125, Message: "no command: give one, or use an image that has an Entrypoint or Cmd"}
	}
	path, err := lookPath(p.Args[0], pathOf(p.Env))
	if err != nil {
		return err
	}
	err = unix.Exec(path, p.Args, p.Env)
	status := 126
	if errors.Is(err, unix.ENOENT) {
		status = 127 // a script whose interpreter is missing
	}
	return &Failure{Status: status, Message: fmt.Sprintf("exec %s: %v", p.Args[0], err)}
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
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: %v", name, err)}
	case st.IsDir():
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: is a directory", name)}
	case unix.Access(path, unix.X_OK) != nil:
		return &Failure{Status: 126, Message: fmt.Sprintf("exec %q: permission denied", name)}
	}
	return nil
}

// pathOf is PATH from the command's environment, or Docker's.
func pathOf(env []string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if value, ok := strings.CutPrefix(env[i], "PATH="); ok {
			return value
		}
	}
	return DefaultPath
}
