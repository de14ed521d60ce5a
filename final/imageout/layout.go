package imageout

// This file lays images out: each blob once, a manifest per image,
// index.json naming them, and for docker save manifest.json and
// repositories too.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/boxcraft/boxcraft/final/image"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// descriptor, manifest and index are OCI's, as JSON writes them (the
// image-spec's own types take their digests as go-digest's type).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Manifests     []descriptor `json:"manifests"`
}

// dockerManifest is an entry of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// The annotations that name an image in index.json, as Docker 25 writes
// them: containerd's, the full name, and OCI's, the tag alone (which
// skopeo's oci:DIR:TAG and umoci's --image DIR:TAG look for).
const annotationImageName = "io.containerd.image.name"

// layout is a layout being written.
type layout struct {
	out      sink
	written  map[string]bool // the blobs written, by digest
	index    index
	manifest []dockerManifest
	repos    map[string]map[string]string // repositories: repository → tag → top layer
}

// writeLayout writes imgs into out as an OCI layout, and with docker as
// docker save does.
func writeLayout(ctx context.Context, out sink, imgs []*image.Image, docker bool) error {
	l := &layout{out: out, written: map[string]bool{}, repos: map[string]map[string]string{},
		index: index{SchemaVersion: 2, MediaType: v1.MediaTypeImageIndex, Manifests: []descriptor{}}}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := out.dir(dir); err != nil {
			return err
		}
	}
	for _, img := range imgs {
		if err := l.add(ctx, img); err != nil {
			return fmt.Errorf("image %s: %w", img.ID, err)
		}
	}
	if err := l.json("index.json", l.index); err != nil {
		return err
	}
	if docker {
		if err := l.json("manifest.json", l.manifest); err != nil {
			return err
		}
	}
	if err := l.json(v1.ImageLayoutFile, v1.ImageLayout{Version: v1.ImageLayoutVersion}); err != nil {
		return err
	}
	if docker {
		return l.json("repositories", l.repos)
	}
	return nil
}

// add writes an image's blobs, config and manifest, and names it.
func (l *layout) add(ctx context.Context, img *image.Image) error {
	m := manifest{SchemaVersion: 2, MediaType: v1.MediaTypeImageManifest,
		Config: descriptor{MediaType: v1.MediaTypeImageConfig, Digest: img.ID, Size: int64(len(img.Config))}}
	var paths []string
	for _, layer := range img.Layers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if err := l.layer(layer); err != nil {
			return fmt.Errorf("layer %s: %w", layer.Digest, err)
		}
		m.Layers = append(m.Layers, descriptor{MediaType: layer.MediaType, Digest: layer.Digest, Size: layer.Size})
		paths = append(paths, blobPath(layer.Digest))
	}
	if digestOf(img.Config) != img.ID {
		return fmt.Errorf("its config's digest is %s: the config was changed", digestOf(img.Config))
	}
	if err := l.blob(img.ID, img.Config); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	d := descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digestOf(data), Size: int64(len(data))}
	if err := l.blob(d.Digest, data); err != nil {
		return err
	}
	return l.name(img, d, paths)
}

// name lists the image in index.json, once per name (once unnamed when
// it has none), in manifest.json, and in repositories.
func (l *layout) name(img *image.Image, d descriptor, layers []string) error {
	l.manifest = append(l.manifest, dockerManifest{Config: blobPath(img.ID), RepoTags: []string{}, Layers: layers})
	if len(img.Names) == 0 {
		l.index.Manifests = append(l.index.Manifests, d)
	}
	for _, name := range img.Names {
		ref, err := image.ParseReference(name)
		if err != nil || ref.Tag == "" {
			return fmt.Errorf("name %q: a name is NAME:TAG here", name)
		}
		named := d
		named.Annotations = map[string]string{annotationImageName: ref.String(), v1.AnnotationRefName: ref.Tag}
		l.index.Manifests = append(l.index.Manifests, named)
		familiar := strings.TrimSuffix(ref.Familiar(), ":"+ref.Tag)
		last := &l.manifest[len(l.manifest)-1]
		last.RepoTags = append(last.RepoTags, familiar+":"+ref.Tag)
		if l.repos[familiar] == nil {
			l.repos[familiar] = map[string]string{}
		}
		l.repos[familiar][ref.Tag] = digestHex(img.Layers[len(img.Layers)-1].Digest)
	}
	return nil
}

// layer copies a layer's blob, once, checked against its digest.
func (l *layout) layer(layer image.Layer) error {
	if l.written[layer.Digest] {
		return nil
	}
	r, err := layer.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	sum := sha256.New()
	if err := l.out.file(blobPath(layer.Digest), layer.Size, io.TeeReader(r, sum)); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); got != layer.Digest {
		return fmt.Errorf("its content's digest is %s: the stored blob was changed", got)
	}
	l.written[layer.Digest] = true
	return nil
}

// blob writes a blob held in memory, once.
func (l *layout) blob(digest string, data []byte) error {
	if l.written[digest] {
		return nil
	}
	l.written[digest] = true
	return l.out.file(blobPath(digest), int64(len(data)), strings.NewReader(string(data)))
}

// json writes a file of the layout's, as JSON.
func (l *layout) json(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return l.out.file(name, int64(len(data)), strings.NewReader(string(data)))
}

func blobPath(digest string) string { return "blobs/sha256/" + digestHex(digest) }

func digestHex(digest string) string { return strings.TrimPrefix(digest, "sha256:") }

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
