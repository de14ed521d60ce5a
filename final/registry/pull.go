package registry

import (
	"context"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/boxcraft/boxcraft/final/image"
	"github.com/boxcraft/boxcraft/final/store"
)

// PullOptions are docker pull's.
type PullOptions struct {
	Options
	Platform string         // os/arch[/variant]; "" is this machine's
	Progress store.Progress // each layer's bytes, as they stream
	Layers   func([]image.Layer)
	// Concurrent is how many layers stream at once (3, as Docker's
	// max-concurrent-downloads, when 0).
	Concurrent int
}

// Pull fetches the image s names (NAME[:TAG|@DIGEST]) and stores it
// under that name: each layer's blob streams into the store, checked
// against its digest and size as it is written; a layer the store has
// is not fetched. A list of platforms (a manifest list, an OCI index)
// gives the image for this machine's platform, or opts.Platform's.
func Pull(ctx context.Context, s *store.Store, ref string, opts PullOptions) (store.ImageRecord, error) {
	parsed, gref, err := opts.reference(ref)
	if err != nil {
		return store.ImageRecord{}, err
	}
	platform, err := choosePlatform(opts.Platform)
	if err != nil {
		return store.ImageRecord{}, err
	}
	remoteOpts := append(opts.remoteOptions(ctx), remote.WithPlatform(platform))
	img, err := remote.Image(gref, remoteOpts...)
	if err != nil {
		return store.ImageRecord{}, describe(parsed, platform, unknownRepository(gref, err, remoteOpts))
	}
	if err := checkPlatform(img, platform, opts.Platform != ""); err != nil {
		return store.ImageRecord{}, fmt.Errorf("%s: %w", parsed.Familiar(), err)
	}
	client := &rangeClient{ctx: ctx, repo: gref.Context(), o: opts.Options}
	stored, err := asStored(img, parsed, client)
	if err != nil {
		return store.ImageRecord{}, fmt.Errorf("%s: %w", parsed.Familiar(), err)
	}
	if opts.Layers != nil {
		opts.Layers(stored.Layers)
	}
	n := opts.Concurrent
	if n == 0 {
		n = 3
	}
	rec, err := s.LoadConcurrently(ctx, stored, opts.Progress, n)
	if err != nil {
		return rec, describe(parsed, platform, err)
	}
	return rec, nil
}

// remoteOptions are go-containerregistry's options for every request:
// credentials from ~/.docker/config.json ($DOCKER_CONFIG), the
// transport that refuses plain HTTP where it is not allowed.
func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithTransport(o.roundTripper()),
		remote.WithUserAgent("boxcraft"),
	}
}

// choosePlatform reads os/arch[/variant], or gives this machine's:
// linux and Go's GOARCH, arm64 on an Apple Silicon VM.
func choosePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("--platform %q: give os/arch[/variant], as linux/amd64 or linux/arm64/v8", s)
	}
	return *p, nil
}

// checkPlatform refuses an image of one platform that is not the one
// --platform asked for (an index was matched already).
func checkPlatform(img v1.Image, want v1.Platform, asked bool) error {
	if !asked {
		return nil
	}
	config, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("its config: %w", err)
	}
	if config.OS != want.OS || config.Architecture != want.Architecture {
		return fmt.Errorf("no matching platform: the image is %s/%s, not %s", config.OS, config.Architecture, want.String())
	}
	return nil
}

// asStored is the remote image as final/image describes one, its
// layers' blobs opened from the registry when the store reads them.
func asStored(img v1.Image, ref image.Reference, client *rangeClient) (*image.Image, error) {
	configName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("its config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	stored := &image.Image{ID: configName.String(), Config: config, Names: []string{ref.Familiar()}}
	for _, l := range layers {
		sl, err := storedLayer(l, client)
		if err != nil {
			return nil, err
		}
		stored.Layers = append(stored.Layers, sl)
	}
	return stored, nil
}

// storedLayer describes one remote layer; its Open streams the blob,
// resuming where it broke when the connection drops.
func storedLayer(l v1.Layer, client *rangeClient) (image.Layer, error) {
	digest, err := l.Digest()
	if err != nil {
		return image.Layer{}, err
	}
	diffID, err := l.DiffID()
	if err != nil {
		return image.Layer{}, err
	}
	size, err := l.Size()
	if err != nil {
		return image.Layer{}, err
	}
	mediaType, err := l.MediaType()
	if err != nil {
		return image.Layer{}, err
	}
	return image.Layer{Digest: digest.String(), DiffID: diffID.String(), MediaType: string(mediaType), Size: size,
		Open: func() (io.ReadCloser, error) {
			return newResuming(blobSource{layer: l, digest: digest.String(), client: client}), nil
		}}, nil
}

// unknownRepository tells a missing tag from a missing repository: the
// distribution registry answers MANIFEST_UNKNOWN for both, and only the
// repository's list of tags (NAME_UNKNOWN) says which.
func unknownRepository(ref name.Reference, err error, opts []remote.Option) error {
	if !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		return err
	}
	if _, listErr := remote.List(ref.Context(), opts...); listErr != nil && strings.Contains(listErr.Error(), "NAME_UNKNOWN") {
		return listErr
	}
	return err
}

// describe turns the protocol's errors into Docker's one-line ones.
func describe(ref image.Reference, platform v1.Platform, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "NAME_UNKNOWN"):
		return fmt.Errorf("repository %s not found: unknown image", ref.Domain+"/"+ref.Path)
	case strings.Contains(msg, "MANIFEST_UNKNOWN"):
		return fmt.Errorf("manifest for %s not found: manifest unknown (no such tag)", ref.Familiar())
	case strings.Contains(msg, "UNAUTHORIZED") || strings.Contains(msg, "DENIED") || strings.Contains(msg, "status code 401"):
		return fmt.Errorf("pull access denied for %s: unauthorized (boxcraft login %s gives credentials)", ref.Familiar(), ref.Domain)
	case strings.Contains(msg, "no child with platform"):
		return fmt.Errorf("no matching manifest for %s in the manifest list entries of %s", platform.String(), ref.Familiar())
	case strings.Contains(msg, "error verifying") || strings.Contains(msg, "the blob was changed"):
		return fmt.Errorf("%s: digest mismatch: %w", ref.Familiar(), err)
	}
	return fmt.Errorf("%s: %w", ref.Familiar(), err)
}
