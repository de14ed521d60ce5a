package monitor

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/boxcraft/boxcraft/final/seccomp"
	"github.com/boxcraft/boxcraft/final/spec"
)

// writeSettings writes the settings to init, as one JSON value; the pipe
// stays open, for containerinit.InCgroup.
func writeSettings(c *spec.Container, settings *os.File) error {
	if err := json.NewEncoder(settings).Encode(c); err != nil {
		return fmt.Errorf("hand the settings to init: %w", err)
	}
	return nil
}

// forInit is c as init takes it: its seccomp profile compiled here,
// while init starts, rather than by init on its way to the command
// (issue 26). A profile that does not compile goes as it is, for init to
// refuse as it always has.
func forInit(c *spec.Container) *spec.Container {
	f := c.Security.Seccomp
	if f == nil || f.Compiled != nil {
		return c
	}
	compiled, err := seccomp.Precompile(f)
	if err != nil {
		return c
	}
	given := *c // the record keeps its rules
	given.Security.Seccomp = compiled
	return &given
}
