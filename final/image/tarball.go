package image

// This file reads the images that are one file: docker save's tarball
// (and an OCI layout in a tarball), read in place, and a bare rootfs
// tarball, which is one layer.

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// tarEntry is where a file is inside a tarball.
type tarEntry struct {
	offset int64
	header *tar.Header
}

// dockerManifest is an entry of docker save's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// readTarball reads a file: docker save's tarball when it holds
// manifest.json, an OCI archive when it holds index.json, else a bare
// rootfs tarball.
func readTarball(path string) (*Image, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	entries, err := indexTar(file)
	if err != nil || entries["manifest.json"] == nil && (entries["index.json"] == nil || entries[v1ImageLayoutFile] == nil) {
		// gzip, no tar at all, or a tar of a rootfs
		defer file.Close()
		return readBare(file, path)
	}
	var img *Image
	if entries["manifest.json"] != nil {
		img, err = readDockerSave(entries, file)
	} else {
		img, err = readOCI(entries.open(file))
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	img.file = file // the layers are read from it, where they are
	return img, nil
}

// v1ImageLayoutFile is the file that marks an OCI layout.
const v1ImageLayoutFile = "oci-layout"

// entries are a tarball's files by clean name.
type entries map[string]*tarEntry

// indexTar finds where each file of a tarball is: docker save's layers
// are read from their place, without unpacking the tarball anywhere.
func indexTar(file *os.File) (entries, error) {
	found := entries{}
	archive := tar.NewReader(file)
	for {
		hdr, err := archive.Next()
		if err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, err
		}
		// archive/tar reads nothing past the header: the file's offset
		// is where the entry's content starts.
		offset, err := file.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		found[path.Clean(hdr.Name)] = &tarEntry{offset, hdr}
	}
}

// open opens an entry of the tarball file by its name, where it is.
func (e entries) open(file *os.File) opener {
	return func(name string) (io.ReadCloser, error) {
		entry, err := e.resolve(name)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(io.NewSectionReader(file, entry.offset, entry.header.Size)), nil
	}
}

// resolve finds the file name is, following the symlinks Docker writes
// for a layer it saves twice.
func (e entries) resolve(name string) (*tarEntry, error) {
	for range 8 {
		entry := e[path.Clean(name)]
		switch {
		case entry == nil:
			return nil, fmt.Errorf("%s is not in the tarball", name)
		case entry.header.Typeflag == tar.TypeSymlink:
			name = path.Join(path.Dir(name), entry.header.Linkname)
		case entry.header.Typeflag != tar.TypeReg:
			return nil, fmt.Errorf("%s is not a file in the tarball", name)
		default:
			return entry, nil
		}
	}
	return nil, fmt.Errorf("%s: too many symlinks", name)
}

// readDockerSave reads docker save's tarball, through its manifest.json.
func readDockerSave(e entries, file *os.File) (*Image, error) {
	open := e.open(file)
	var manifests []dockerManifest
	if err := readJSON(open, "manifest.json", &manifests); err != nil {
		return nil, err
	}
	if len(manifests) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	m := manifests[0]
	configDigest := namedDigest(m.Config)
	if checkDigest(configDigest) != nil {
		return nil, fmt.Errorf("manifest.json: config %q is not named by its digest, so nothing can check it", m.Config)
	}
	r, err := open(m.Config)
	if err != nil {
		return nil, err
	}
	config, err := readChecked(r, m.Config, configDigest)
	if err != nil {
		return nil, err
	}
	img := &Image{Names: repoTags(m.RepoTags)}
	diffIDs, err := img.setConfig(config, configDigest, len(m.Layers))
	if err != nil {
		return nil, err
	}
	for i, name := range m.Layers {
		l := savedLayer(open, name, diffIDs[i])
		if entry, err := e.resolve(name); err == nil {
			l.Size = entry.header.Size
		}
		img.Layers = append(img.Layers, l)
	}
	return img, nil
}

// savedLayer is a layer of docker save's: blobs/sha256/HEX, checked
// against the digest its name gives; or before Docker 25 <id>/layer.tar,
// the tar itself, whose digest is its diffID.
func savedLayer(open opener, name, diffID string) Layer {
	digest := namedDigest(name)
	if checkDigest(digest) != nil {
		digest = diffID
	}
	return Layer{Digest: digest, DiffID: diffID, MediaType: v1MediaTypeLayer,
		Open: func() (io.ReadCloser, error) {
			r, err := open(name)
			if err != nil {
				return nil, err
			}
			return verified(r, name, digest, 0), nil
		}}
}

// v1MediaTypeLayer is a plain tar layer's media type.
const v1MediaTypeLayer = "application/vnd.oci.image.layer.v1.tar"

// namedDigest is the digest a docker save file's name gives it:
// blobs/sha256/HEX (Docker 25 and later) or HEX.json (a config before).
func namedDigest(name string) string {
	if hex, ok := strings.CutPrefix(name, "blobs/sha256/"); ok {
		return "sha256:" + hex
	}
	if hex, ok := strings.CutSuffix(name, ".json"); ok && !strings.Contains(hex, "/") {
		return "sha256:" + hex
	}
	return ""
}

// repoTags are docker save's names, familiar; one it cannot read is left
// out.
func repoTags(tags []string) []string {
	var names []string
	for _, tag := range tags {
		if ref, err := ParseReference(tag); err == nil {
			names = append(names, ref.Familiar())
		}
	}
	return names
}
