package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/dockerfile"
	"github.com/boxcraft/boxcraft/final/mount"
	"github.com/boxcraft/boxcraft/final/store"
)

// from starts a stage: on scratch, on an earlier stage, or on an image
// (pulled when it is not stored).
func (bd *build) from(ctx context.Context, in dockerfile.Instruction) error {
	args := in.Args
	st := &stage{args: map[string]string{}}
	switch {
	case len(args) == 3 && strings.EqualFold(args[1], "AS"):
		st.name = strings.ToLower(args[2])
	case len(args) != 1:
		return fmt.Errorf("give FROM IMAGE [AS NAME]")
	}
	ref, err := expand(args[0], bd.global)
	if err != nil {
		return err
	}
	if ref != "scratch" {
		if st.image, err = bd.imageOf(ctx, ref); err != nil {
			return err
		}
		rec, err := bd.Store.Lookup(st.image)
		if err != nil {
			return err
		}
		config, err := bd.Store.Config(st.image)
		if err != nil {
			return err
		}
		st.config, st.layers = config.Config, len(rec.DiffIDs)
	}
	st.key = chain("FROM", st.image)
	bd.stages = append(bd.stages, st)
	return nil
}

// imageOf is an earlier stage's image (by name or number), or an image.
func (bd *build) imageOf(ctx context.Context, ref string) (string, error) {
	for i, st := range bd.stages {
		if st.name == strings.ToLower(ref) || strconv.Itoa(i) == ref {
			if err := bd.sync(st); err != nil {
				return "", err
			}
			return st.image, nil
		}
	}
	return bd.Runner.Image(ctx, ref)
}

// arg declares ARG NAME[=DEFAULT]: --build-arg's value, else an earlier
// global ARG's, else the default.
func (bd *build) arg(into map[string]string, in dockerfile.Instruction) error {
	if len(in.Args) != 1 {
		return fmt.Errorf("give ARG NAME[=DEFAULT]")
	}
	name, def, _ := strings.Cut(in.Args[0], "=")
	value, err := expand(def, into)
	if err != nil {
		return err
	}
	if v, ok := bd.global[name]; ok && def == "" {
		value = v
	}
	if v, ok := bd.o.BuildArgs[name]; ok {
		value = v
	}
	into[name] = value
	return nil
}

// run runs a RUN step in a container on the stage's image, and takes
// what it changed as a layer.
func (bd *build) run(ctx context.Context, st *stage, in dockerfile.Instruction) error {
	if len(in.Flags) > 0 || len(in.Args) == 0 {
		return fmt.Errorf("give RUN COMMAND or RUN [\"EXEC\", \"ARG\"…] (boxcraft build takes no RUN --flags)")
	}
	argv := in.Args
	if !in.JSON {
		argv = []string{"/bin/sh", "-c", in.Args[0]}
	}
	var env []string
	for k, v := range st.args {
		env = append(env, k+"="+v)
	}
	words, _ := json.Marshal(argv)
	st.key = chain(st.key, "RUN", string(words), strings.Join(sorted(env), "\n"))
	st.layers++
	if bd.cached(st) {
		return nil
	}
	if st.layers == 1 {
		return fmt.Errorf("the image has no layers yet (FROM scratch): nothing to run the command with")
	}
	if err := bd.sync(st); err != nil {
		return err
	}
	id, err := bd.Runner.Run(ctx, st.image, argv, env, "RUN "+strings.Join(argv, " "), bd.o.Out)
	if err != nil {
		return err
	}
	return bd.done(st, id)
}

// copy adds a layer of files: from the context, or from a stage's or
// an image's root (--from).
func (bd *build) copy(ctx context.Context, st *stage, in dockerfile.Instruction) error {
	spec, from, err := bd.copySpec(st, in)
	if err != nil {
		return err
	}
	var contents string
	if from != "" {
		if from, err = bd.imageOf(ctx, from); err != nil {
			return err
		}
		contents = from // an image's files are its ID's
	} else if contents, err = spec.digest(); err != nil {
		return err
	}
	// --chown as written: its names mean what the parent's /etc/passwd
	// says, and the parent is in st.key already.
	st.key = chain(st.key, in.Command, strings.Join(spec.sources, "\n"), spec.dest, spec.chown, contents)
	st.layers++
	if bd.cached(st) {
		return nil
	}
	if err := bd.sync(st); err != nil {
		return err
	}
	if err := bd.resolveChown(ctx, st, &spec); err != nil {
		return err
	}
	if from != "" {
		return bd.withRoot(ctx, from, func(root string) error {
			spec.root = root
			return bd.commitCopy(ctx, st, spec, in)
		})
	}
	return bd.commitCopy(ctx, st, spec, in)
}

// commitCopy writes the files as a layer on the stage's image.
func (bd *build) commitCopy(ctx context.Context, st *stage, spec copySpec, in dockerfile.Instruction) error {
	entries, err := spec.entries()
	if err != nil {
		return err
	}
	rec, err := bd.Store.Commit(ctx, store.Commit{Parent: st.image, CreatedBy: in.Text,
		Layer: func(w io.Writer) error { return spec.writeLayer(w, entries, false) }})
	if err != nil {
		return err
	}
	return bd.done(st, rec.ID)
}

// withRoot mounts the image's root read-only for f to read, and
// unmounts it.
func (bd *build) withRoot(ctx context.Context, id string, f func(root string) error) error {
	dir, err := os.MkdirTemp(bd.o.Scratch, "from-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	plan, err := bd.Store.Prepare(ctx, id, nil, nil, dir, false)
	if err != nil {
		return err
	}
	if err := plan.Mount(nil); err != nil {
		return err
	}
	defer mount.Unmount(plan.Target)
	return f(plan.Target)
}

// copySpec reads COPY [--from=S] [--chown=U:G] SRC… DEST.
func (bd *build) copySpec(st *stage, in dockerfile.Instruction) (copySpec, string, error) {
	spec := copySpec{root: bd.o.Context, ignore: bd.ignore}
	for name := range in.Flags {
		if name != "from" && name != "chown" || name == "from" && in.Command == "ADD" {
			return spec, "", fmt.Errorf("--%s: boxcraft build takes --chown (and COPY --from) only", name)
		}
	}
	if len(in.Args) < 2 {
		return spec, "", fmt.Errorf("give %s SOURCE… DEST", in.Command)
	}
	vars := st.vars()
	var words []string
	for _, a := range in.Args {
		w, err := expand(a, vars)
		if err != nil {
			return spec, "", err
		}
		if in.Command == "ADD" && (strings.Contains(w, "://") || strings.HasPrefix(w, "git@")) {
			return spec, "", fmt.Errorf("%s: boxcraft build adds local files only", w)
		}
		words = append(words, w)
	}
	spec.sources, spec.dest = words[:len(words)-1], words[len(words)-1]
	spec.unpack = in.Command == "ADD"
	if !path.IsAbs(spec.dest) {
		slash := strings.HasSuffix(spec.dest, "/")
		spec.dest = path.Join("/", st.config.WorkingDir, spec.dest)
		if slash {
			spec.dest += "/"
		}
	}
	// --chown=$USER reads the stage's ARGs and ENV, as Docker's does.
	chown, err := expand(in.Flags["chown"], vars)
	spec.chown = chown
	if from, ok := in.Flags["from"]; ok {
		spec.ignore = nil
		return spec, from, err
	}
	return spec, "", err
}

// digest is the files' digest, for the cache key: their names, modes,
// owners and contents, as the layer's tar would hold them.
func (c copySpec) digest() (string, error) {
	entries, err := c.entries()
	if err != nil {
		return "", err
	}
	h := newHash()
	if err := c.writeLayer(h, entries, true); err != nil {
		return "", err
	}
	return h.sum(), nil
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
