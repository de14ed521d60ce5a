package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"path"
	"strings"

	"github.com/boxcraft/boxcraft/final/dockerfile"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// known lists the instructions boxcraft build takes, for its refusal.
const known = "FROM, RUN, COPY, ADD, ENV, ARG, WORKDIR, USER, CMD, ENTRYPOINT, EXPOSE, LABEL, VOLUME"

// configure does an instruction that changes only the image's config.
func (bd *build) configure(st *stage, in dockerfile.Instruction) error {
	args := in.Args
	if !in.JSON && in.Command != "CMD" && in.Command != "ENTRYPOINT" {
		vars := st.vars()
		args = make([]string, len(in.Args))
		for i, a := range in.Args {
			var err error
			if args[i], err = expand(a, vars); err != nil {
				return err
			}
		}
	}
	if err := apply(st, in, args); err != nil {
		return err
	}
	st.history = append(st.history, in.Text)
	st.key = chain(st.key, in.Command, strings.Join(args, "\x00"), fmt.Sprint(in.JSON))
	return nil
}

// apply changes the stage's config as the instruction says.
func apply(st *stage, in dockerfile.Instruction, args []string) error {
	c := &st.config
	switch in.Command {
	case "ENV":
		return pairs(args, in.Command, func(k, v string) { c.Env = setEnv(c.Env, k, v) })
	case "LABEL":
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		return pairs(args, in.Command, func(k, v string) { c.Labels[k] = v })
	case "WORKDIR", "USER":
		if len(args) != 1 {
			return fmt.Errorf("give %s and one value", in.Command)
		}
		if in.Command == "USER" {
			c.User = args[0]
		} else {
			c.WorkingDir = path.Join("/", c.WorkingDir, args[0])
		}
	case "CMD":
		c.Cmd = command(in, args)
	case "ENTRYPOINT":
		c.Entrypoint, c.Cmd = command(in, args), nil
	case "EXPOSE", "VOLUME":
		return setOf(c, in.Command, args)
	default:
		return fmt.Errorf("%s is not an instruction boxcraft build knows (it knows %s)", in.Command, known)
	}
	return nil
}

// command is CMD's or ENTRYPOINT's: the exec form as it is, the shell
// form under /bin/sh -c.
func command(in dockerfile.Instruction, args []string) []string {
	if in.JSON || len(args) == 0 {
		return args
	}
	return []string{"/bin/sh", "-c", args[0]}
}

// pairs reads KEY=VALUE… or the old KEY VALUE.
func pairs(args []string, command string, set func(k, v string)) error {
	if len(args) == 0 {
		return fmt.Errorf("give %s KEY=VALUE…", command)
	}
	if !strings.Contains(args[0], "=") {
		if len(args) < 2 {
			return fmt.Errorf("give %s KEY=VALUE…", command)
		}
		set(args[0], strings.Join(args[1:], " "))
		return nil
	}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("%q: give KEY=VALUE", a)
		}
		set(k, v)
	}
	return nil
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// setOf adds EXPOSE's ports (80 is 80/tcp, 53/udp) or VOLUME's paths.
func setOf(c *v1.ImageConfig, command string, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("give %s and at least one value", command)
	}
	for _, a := range args {
		if command == "VOLUME" {
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			c.Volumes[path.Join("/", a)] = struct{}{}
			continue
		}
		if !strings.Contains(a, "/") {
			a += "/tcp"
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		c.ExposedPorts[a] = struct{}{}
	}
	return nil
}

// sha is a hash.Hash with its sum as hex.
type sha struct{ hash.Hash }

func newHash() sha        { return sha{sha256.New()} }
func (s sha) sum() string { return hex.EncodeToString(s.Sum(nil)) }
