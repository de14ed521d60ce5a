package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/boxcraft/boxcraft/final/dockerfile"
	"github.com/boxcraft/boxcraft/final/store"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Runner is what a build needs of the runtime.
type Runner interface {
	// Run runs argv in a new container of the image (its config's Env,
	// User and WorkingDir, and env added), with no network, its output
	// on out; then commits what it changed as a new image, whose
	// history says createdBy, and returns its ID. The container goes
	// either way; a command that fails is an error with its status.
	Run(ctx context.Context, image string, argv, env []string, createdBy string, out io.Writer) (string, error)
	// Image is the ID of the image ref, pulled when it is not stored.
	Image(ctx context.Context, ref string) (string, error)
}

// Options are boxcraft build's.
type Options struct {
	Dockerfile []byte
	Context    string            // the build context's folder
	BuildArgs  map[string]string // --build-arg
	Tags       []string          // -t
	NoCache    bool
	Out        io.Writer // the steps, and RUN's output
	// Scratch is a folder to mount a stage's root in, for COPY --from.
	Scratch string
}

// Builder builds images into a store.
type Builder struct {
	Store  *store.Store
	Runner Runner
}

// stage is the image a FROM … is making, as its instructions go.
type stage struct {
	name    string
	image   string         // the last image stored for it ("" is scratch)
	config  v1.ImageConfig // its config now, maybe not stored yet
	history []string       // the instructions since image that changed config
	key     string         // the cache key of the instructions so far
	args    map[string]string
	layers  int
}

// build is one build's progress.
type build struct {
	*Builder
	o      Options
	steps  []dockerfile.Instruction
	stages []*stage
	global map[string]string // the ARGs before the first FROM
	ignore ignore
}

// Build builds the Dockerfile, names the last stage's image with the
// tags, and returns it.
func (b *Builder) Build(ctx context.Context, o Options) (store.ImageRecord, error) {
	steps, err := dockerfile.Parse(o.Dockerfile)
	if err != nil {
		return store.ImageRecord{}, err
	}
	if err := check(steps); err != nil {
		return store.ImageRecord{}, err
	}
	ig, err := readIgnore(o.Context)
	if err != nil {
		return store.ImageRecord{}, fmt.Errorf("read .dockerignore: %w", err)
	}
	bd := &build{Builder: b, o: o, steps: steps, global: map[string]string{}, ignore: ig}
	for i, in := range steps {
		fmt.Fprintf(o.Out, "Step %d/%d : %s\n", i+1, len(steps), in.Text)
		if err := bd.step(ctx, in); err != nil {
			return store.ImageRecord{}, fmt.Errorf("step %d/%d (line %d) %s: %w", i+1, len(steps), in.Line, in.Command, err)
		}
	}
	if len(bd.stages) == 0 {
		return store.ImageRecord{}, fmt.Errorf("the Dockerfile has no FROM")
	}
	return bd.finish(bd.stages[len(bd.stages)-1])
}

// check refuses, before any step runs, an instruction boxcraft does not
// build, and one before the first FROM (but ARG).
func check(steps []dockerfile.Instruction) error {
	from := false
	for i, in := range steps {
		where := fmt.Sprintf("step %d/%d (line %d) %s", i+1, len(steps), in.Line, in.Command)
		switch {
		case !strings.Contains(", "+known+", ", ", "+in.Command+", "):
			return fmt.Errorf("%s: %s is not an instruction boxcraft build knows (it knows %s)", where, in.Command, known)
		case in.Command == "FROM":
			from = true
		case !from && in.Command != "ARG":
			return fmt.Errorf("%s: comes before the first FROM", where)
		}
	}
	return nil
}

// step does one instruction.
func (bd *build) step(ctx context.Context, in dockerfile.Instruction) error {
	if in.Command == "FROM" {
		return bd.from(ctx, in)
	}
	if in.Command == "ARG" && len(bd.stages) == 0 {
		return bd.arg(bd.global, in)
	}
	if len(bd.stages) == 0 {
		return fmt.Errorf("comes before the first FROM")
	}
	st := bd.stages[len(bd.stages)-1]
	switch in.Command {
	case "RUN":
		return bd.run(ctx, st, in)
	case "COPY", "ADD":
		return bd.copy(ctx, st, in)
	case "ARG":
		st.key = chain(st.key, in.Text)
		return bd.arg(st.args, in)
	}
	return bd.configure(st, in)
}

// chain is the next cache key: a digest of the last one and what follows.
func chain(key string, parts ...string) string {
	h := sha256.New()
	io.WriteString(h, key)
	for _, p := range parts {
		io.WriteString(h, "\x00"+p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// vars are what ${VAR} reads in a stage: its ARGs, then its ENV.
func (st *stage) vars() map[string]string {
	vars := map[string]string{}
	for k, v := range st.args {
		vars[k] = v
	}
	for _, kv := range st.config.Env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return vars
}

// cached looks the step's key up, unless --no-cache; a hit moves the
// stage on to the image it made.
func (bd *build) cached(st *stage) bool {
	if bd.o.NoCache {
		return false
	}
	id, ok := bd.Store.CachedStep(st.key)
	if !ok {
		return false
	}
	fmt.Fprintf(bd.o.Out, " ---> CACHED %s\n", shortID(id))
	st.image, st.history = id, nil
	return true
}

// done moves the stage on to the image a step made, and caches it.
func (bd *build) done(st *stage, id string) error {
	st.image, st.history = id, nil
	fmt.Fprintf(bd.o.Out, " ---> %s\n", shortID(id))
	return bd.Store.CacheStep(st.key, id)
}

// sync stores the stage's config, when it changed since its image: a
// RUN runs with it, a COPY's layer goes on it, and the build ends with
// it. The image is cached under its parent, its config and history.
func (bd *build) sync(st *stage) error {
	if len(st.history) == 0 {
		return nil
	}
	config, err := json.Marshal(st.config)
	if err != nil {
		return err
	}
	key := chain("config", st.image, string(config), strings.Join(st.history, "\n"))
	if id, ok := bd.Store.CachedStep(key); ok && !bd.o.NoCache {
		st.image, st.history = id, nil
		return nil
	}
	rec, err := bd.Store.Configure(store.Configure{Parent: st.image, Config: st.config, History: st.history})
	if err != nil {
		return err
	}
	st.image, st.history = rec.ID, nil
	return bd.Store.CacheStep(key, rec.ID)
}

// finish stores the last stage's image with its config, and names it.
func (bd *build) finish(st *stage) (store.ImageRecord, error) {
	if st.layers == 0 {
		return store.ImageRecord{}, fmt.Errorf("the image has no layers: FROM scratch needs a COPY or ADD")
	}
	if err := bd.sync(st); err != nil {
		return store.ImageRecord{}, err
	}
	for _, tag := range bd.o.Tags {
		if _, err := bd.Store.Tag(st.image, tag); err != nil {
			return store.ImageRecord{}, err
		}
	}
	return bd.Store.Lookup(st.image)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(12, len(id))]
}
