package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/boxcraft/boxcraft/final/monitor"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/spf13/pflag"
)

func addExecFlags(flags *pflag.FlagSet) {
	flags.BoolP("detach", "d", false, "run the command in the background")
	flags.BoolP("interactive", "i", false, "keep stdin open")
	flags.BoolP("tty", "t", false, "give the command a terminal of its own")
	addList(flags, "env", "e", "set an environment variable (KEY=VALUE, or KEY to take the host's)")
	flags.StringP("workdir", "w", "", "the command's working folder (default: the container's)")
	flags.StringP("user", "u", "", "the command's user, UID[:GID] (default: the container's)")
	addTraceFlag(flags)
}

// execCommand is boxcraft exec: a command in a running container, in
// the foreground (its exit status is boxcraft's) or detached.
func execCommand(a *app, flags *pflag.FlagSet) (int, error) {
	monitor.WarmUp()
	rt, c, err := a.firstContainer(flags, 2, "a container and a command")
	if err != nil {
		return statusFailed, err
	}
	p, err := execProcess(flags, c.Record.Spec.Process)
	if err != nil {
		return statusFailed, err
	}
	detached, _ := flags.GetBool("detach")
	if err := checkTerminalInput(p.Stdin, p.Terminal, detached); err != nil {
		return statusFailed, err
	}
	if err := startTrace(rt, flags); err != nil {
		return statusFailed, err
	}
	if detached {
		_, err := rt.Exec(c, p, nil, nil)
		return statusOf(err), traceHint(rt, err)
	}
	attach := &monitor.Attach{Stdout: os.Stdout, Stderr: os.Stderr}
	if p.Stdin {
		attach.Stdin = os.Stdin
	}
	term := newTerminal(p.Terminal, attach)
	defer term.restore()
	result, err := rt.Exec(c, p, attach, term.started)
	term.restore()
	if err != nil {
		return statusOf(err), traceHint(rt, err)
	}
	return result.ExitCode, nil
}

// execProcess is exec's process: the container's, with exec's command,
// and its flags over the container's settings. The environment is the
// container's, then TERM with -t, then -e, each replacing a variable of
// the same name.
func execProcess(flags *pflag.FlagSet, container spec.Process) (spec.Process, error) {
	// --ulimit and --group-add hold for exec's command too, as Docker's.
	p := spec.Process{Args: flags.Args()[1:], Cwd: container.Cwd, User: container.User, Rlimits: container.Rlimits, GroupAdd: container.GroupAdd}
	p.Terminal, _ = flags.GetBool("tty")
	p.Stdin, _ = flags.GetBool("interactive")
	if detached, _ := flags.GetBool("detach"); detached {
		// exec -d drops the command's output and gives it no input
		// (openExecStdio): no one would hold a terminal's other side.
		p.Terminal, p.Stdin = false, false
	}
	if dir, _ := flags.GetString("workdir"); flags.Changed("workdir") {
		if !strings.HasPrefix(dir, "/") {
			return p, fmt.Errorf("exec: -w %q: give an absolute path", dir)
		}
		p.Cwd = dir
	}
	if user, _ := flags.GetString("user"); flags.Changed("user") {
		p.User = user
	}
	p.Env = append([]string{}, container.Env...)
	if p.Terminal && !hasVar(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	given := getList(flags, "env")
	for _, e := range given {
		if e == "" || strings.HasPrefix(e, "=") {
			return p, fmt.Errorf("exec: --env %q: give KEY=VALUE or KEY", e)
		}
		for _, kv := range hostValue(e) {
			p.Env = setVar(p.Env, kv)
		}
	}
	return p, nil
}

// setVar sets KEY=VALUE in env, in place of the variable's value if
// env has it.
func setVar(env []string, kv string) []string {
	key, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, key+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
