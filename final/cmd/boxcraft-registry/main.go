// Command boxcraft-registry is boxcraft's pull, push and login, in a
// program of its own beside boxcraft: boxcraft starts it with a
// request.Request on its stdin, it draws the layers' progress on its
// stderr (boxcraft's), and it answers a request.Reply on its stdout.
//
// Why a program of its own (issue 26): go-containerregistry, net/http
// and crypto/tls are a third of boxcraft's binary, and the kernel counts
// every page of a program that it maps in the program's resident set.
// Without them, boxcraft run's peak RSS is 9.7 MiB, not 13.5 MiB; they
// are mapped only when an image travels to or from a registry.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/boxcraft/boxcraft/final/archive"
	"github.com/boxcraft/boxcraft/final/registry"
	"github.com/boxcraft/boxcraft/final/registry/request"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
	"golang.org/x/sys/unix"
)

func main() {
	var req request.Request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "boxcraft-registry: started by boxcraft pull, push, login, run or build (as root), not by hand")
		os.Exit(125)
	}
	// Its progress goes to boxcraft's stderr: a reader gone there
	// (boxcraft pull … 2>&1 | head) must not end the pull, as boxcraft's
	// own SIGPIPE does not end boxcraft (its catchSIGPIPE); the progress
	// writes fail instead, and are let fail.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	// Ctrl-C reaches boxcraft and its helper both (one process group);
	// boxcraft passes SIGTERM and SIGHUP on. Each ends the transfer, whose
	// error is the answer.
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	reply, err := serve(ctx, req)
	stop()
	if err != nil {
		reply.Error, reply.TooLarge = err.Error(), errors.Is(err, archive.ErrTooLarge)
	}
	if err := json.NewEncoder(os.Stdout).Encode(reply); err != nil {
		fmt.Fprintln(os.Stderr, "boxcraft-registry: answer boxcraft:", err)
		os.Exit(125)
	}
}

// serve does what req asks.
func serve(ctx context.Context, req request.Request) (request.Reply, error) {
	opts := registry.Options{Insecure: req.Insecure}
	switch req.Verb {
	case "login":
		file, err := registry.Login(ctx, req.Ref, req.User, req.Password, opts)
		return request.Reply{File: file}, err
	case "pull", "push":
		rt, err := runtime.Open(state.DefaultDirs())
		if err != nil {
			return request.Reply{}, err
		}
		rt.Store.Limits = req.Limits
		if req.Verb == "push" {
			digest, err := registry.Push(ctx, rt.Store, req.Ref, registry.PushOptions{Options: opts})
			return request.Reply{Digest: digest}, err
		}
		rec, err := pull(ctx, rt, req, opts)
		return request.Reply{ID: rec.ID}, err
	}
	return request.Reply{}, fmt.Errorf("boxcraft-registry: no such request %q", req.Verb)
}
