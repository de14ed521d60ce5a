package main

// docker push and docker login.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/boxcraft/boxcraft/final/registry"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// pushCommand is docker push: the image's blobs the registry lacks, then
// its manifest; it prints the manifest's digest.
func pushCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() != 1 {
		return statusFailed, errors.New("push: give one image, NAME[:TAG]")
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	digest, err := registry.Push(ctx, rt.Store, flags.Arg(0), registry.PushOptions{Options: registryOptions(flags)})
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintf(a.stdout, "%s: digest: %s\n", fullName(flags.Arg(0)), digest)
	return 0, nil
}

func addLoginFlags(flags *pflag.FlagSet) {
	addRegistryFlags(flags)
	flags.StringP("username", "u", "", "the user name")
	flags.StringP("password", "p", "", "the password (--password-stdin keeps it out of ps and the shell's history)")
	flags.Bool("password-stdin", false, "read the password from stdin")
}

// loginCommand is docker login: the credentials, checked against the
// registry, kept in ~/.docker/config.json ($DOCKER_CONFIG's).
func loginCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if flags.NArg() > 1 {
		return statusFailed, errors.New("login: give at most one registry (host[:port]; Docker Hub's when none)")
	}
	user, _ := flags.GetString("username")
	password, _ := flags.GetString("password")
	if fromStdin, _ := flags.GetBool("password-stdin"); fromStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return statusFailed, fmt.Errorf("login: read the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if user == "" || password == "" {
		return statusFailed, errors.New("login: give -u USER and -p PASSWORD (or --password-stdin)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	file, err := registry.Login(ctx, flags.Arg(0), user, password, registryOptions(flags))
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintf(a.stdout, "Login Succeeded (credentials kept in %s)\n", file)
	return 0, nil
}
