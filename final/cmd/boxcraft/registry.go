package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/registry/request"
	"github.com/boxcraft/boxcraft/final/security"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// askRegistry has boxcraft-registry, beside boxcraft, do req: a pull, a
// push or a login. The registry's code is the helper's alone (issue 26:
// a third of boxcraft's binary, and so of every run's resident pages).
// Its stderr is boxcraft's (the layers' progress); a failure comes back
// as its message, which boxcraft prints as its own.
func askRegistry(flags *pflag.FlagSet, req request.Request) (request.Reply, error) {
	var reply request.Reply
	path := security.Helper(request.Helper)
	if path == "" {
		return reply, fmt.Errorf("%s is not beside boxcraft: make bins builds it", request.Helper)
	}
	req.Insecure = getList(flags, "insecure-registry")
	in, err := json.Marshal(req)
	if err != nil {
		return reply, err
	}
	// Ctrl-C reaches the helper too (one process group); SIGTERM and
	// SIGHUP, sent to boxcraft, are passed on. Each ends the transfer,
	// and the helper still answers.
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	cmd := exec.CommandContext(ctx, path)
	cmd.Cancel = func() error { return cmd.Process.Signal(unix.SIGTERM) }
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, os.Stderr
	runErr := cmd.Run()
	if err := json.Unmarshal(out.Bytes(), &reply); err != nil {
		return reply, fmt.Errorf("%s: %w", request.Helper, errors.Join(runErr, err))
	}
	if reply.Error != "" {
		return reply, &registryError{msg: reply.Error, tooLarge: reply.TooLarge}
	}
	return reply, nil
}

// registryError is a failure the helper reported, with its message; it
// is archive.ErrTooLarge when that was the cause (withLimitHint).
type registryError struct {
	msg      string
	tooLarge bool
}

func (e *registryError) Error() string { return e.msg }

func (e *registryError) Is(target error) bool {
	return e.tooLarge && target == archive.ErrTooLarge
}
