package image

// This file reads a bare rootfs tarball, as step04 took: one layer, and
// a config made up for it.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"runtime"
)

// The media types of a bare tarball's one layer.
const (
	mediaTypeTar     = v1MediaTypeLayer
	mediaTypeTarGzip = v1MediaTypeLayer + "+gzip"
)

// readBare reads a rootfs tarball, plain or gzip, once: its digest, its
// digest unzipped (the layer's diffID), and that it is a tar. The layer
// reopens path when it is read, and is checked against that digest.
func readBare(file *os.File, name string) (*Image, error) {
	// indexTar read it already, to find whether it is docker save's.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	blob, diff := sha256.New(), sha256.New()
	buffered := bufio.NewReader(io.TeeReader(file, blob))
	magic, _ := buffered.Peek(2)
	mediaType, tarball := mediaTypeTar, io.Reader(buffered)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		unzipped, err := gzip.NewReader(buffered)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		mediaType, tarball = mediaTypeTarGzip, unzipped
	}
	if err := scanTar(io.TeeReader(tarball, diff)); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, buffered); err != nil { // what follows the gzip stream
		return nil, err
	}
	st, err := file.Stat() // a regular file: Read found it so, and read it whole
	if err != nil {
		return nil, err
	}
	img := &Image{}
	config, err := bareConfig(sum(diff))
	if err != nil {
		return nil, err
	}
	digest := sum(blob)
	img.ID, img.Config = digestOf(config), config
	img.Layers = []Layer{{Digest: digest, DiffID: sum(diff), MediaType: mediaType, Size: st.Size(),
		Open: func() (io.ReadCloser, error) {
			r, err := os.Open(name)
			if err != nil {
				return nil, err
			}
			return verified(r, "the tarball", digest, 0), nil
		}}}
	return img, nil
}

// scanTar reads a tar to its end, refusing what is no tar, and docker
// save's tarball compressed (its layers are read in place, which a gzip
// stream does not allow).
func scanTar(r io.Reader) error {
	archive := tar.NewReader(r)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("neither an image nor a rootfs tarball: %w", err)
		}
		if path.Clean(hdr.Name) == "manifest.json" {
			return errors.New("docker save's tarball, compressed: gunzip it first")
		}
	}
	// The diffID covers the whole tar, the padding after its last entry
	// included.
	_, err := io.Copy(io.Discard, r)
	return err
}

// sum is a hash's digest, as OCI writes it.
func sum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// bareConfig is the least config an image of one layer has: its
// platform, this machine's, and its diffID. json.Marshal sorts a map's
// keys, so the same tarball always has the same ID.
func bareConfig(diffID string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
}
