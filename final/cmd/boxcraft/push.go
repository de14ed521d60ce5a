package main

// docker push and docker login.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/dockerfmt"
	"github.com/boxcraft/boxcraft/final/registry/request"
	"github.com/spf13/pflag"
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
	reply, err := askRegistry(flags, request.Request{Verb: "push", Ref: flags.Arg(0), Limits: rt.Store.Limits})
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintf(a.stdout, "%s: digest: %s\n", dockerfmt.FullName(flags.Arg(0)), reply.Digest)
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
	reply, err := askRegistry(flags, request.Request{Verb: "login", Ref: flags.Arg(0), User: user, Password: password})
	if err != nil {
		return statusFailed, err
	}
	fmt.Fprintf(a.stdout, "Login Succeeded (credentials kept in %s)\n", reply.File)
	return 0, nil
}
