package hooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/boxcraft/boxcraft/final/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// State is the runtime spec's state of the container a hook is run for.
func State(h spec.HookState, status specs.ContainerState, pid int) specs.State {
	return specs.State{Version: specs.Version, ID: h.ID, Status: status, Pid: pid, Bundle: h.Bundle, Annotations: h.Annotations}
}

// Run runs the hooks of one kind in order, and stops at the first that
// fails: its error names the kind, its index and what it printed.
func Run(kind string, list []spec.Hook, st specs.State) error {
	if len(list) == 0 {
		return nil
	}
	in, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("%s hooks: the state: %w", kind, err)
	}
	for i, h := range list {
		if err := runOne(h, in); err != nil {
			return fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// RunAll runs every hook of kind, whether or not one before it failed,
// and returns the failures: poststart's and poststop's, which the spec
// makes warnings.
func RunAll(kind string, list []spec.Hook, st specs.State) []error {
	in, err := json.Marshal(st)
	if err != nil {
		return []error{fmt.Errorf("%s hooks: the state: %w", kind, err)}
	}
	var failures []error
	for i, h := range list {
		if err := runOne(h, in); err != nil {
			failures = append(failures, fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err))
		}
	}
	return failures
}

// runOne runs h with exactly its own argv and environment (none when
// it gives none, as runc does), the state on its stdin, and its output
// kept for the error.
func runOne(h spec.Hook, state []byte) error {
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: h.Path, Args: h.Args, Env: h.Env, Stdin: bytes.NewReader(state), Stdout: &out, Stderr: &out}
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would be ours
	}
	// A child the hook left behind may hold its output open: once the
	// hook has ended, its output is waited for this long, no longer.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var timeout <-chan time.Time
	if h.Timeout != nil {
		timer := time.NewTimer(time.Duration(*h.Timeout) * time.Second)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
		}
		return nil
	case <-timeout:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("ran past its timeout of %ds, and was killed", *h.Timeout)
	}
}
