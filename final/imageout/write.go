package imageout

// This file writes a layout's files where they go: into a tarball, or
// into a folder.

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/boxcraft/boxcraft/final/durable"
	"github.com/boxcraft/boxcraft/final/image"
	"golang.org/x/sys/unix"
)

// Format is a form Write writes images in, named as skopeo and podman
// name them.
type Format string

// The forms.
const (
	DockerArchive Format = "docker-archive" // docker save's tarball (Docker 25 and later)
	OCIArchive    Format = "oci-archive"    // an OCI layout, in a tarball
	OCIDir        Format = "oci-dir"        // an OCI layout folder
)

// ParseFormat reads a format's name.
func ParseFormat(name string) (Format, error) {
	f := Format(name)
	if !slices.Contains([]Format{DockerArchive, OCIArchive, OCIDir}, f) {
		return "", fmt.Errorf("format %q: docker-archive, oci-archive or oci-dir", name)
	}
	return f, nil
}

// Write writes imgs into w as one tarball, docker save's or an OCI
// archive. An image given twice (by two names) is written once.
func Write(ctx context.Context, w io.Writer, f Format, imgs []*image.Image) error {
	if f == OCIDir {
		return errors.New("an OCI layout folder is written by WriteFile, into a folder")
	}
	out := tarSink{tar.NewWriter(w)}
	if err := writeLayout(ctx, out, merge(imgs), f == DockerArchive); err != nil {
		return err
	}
	return out.w.Close()
}

// WriteFile writes imgs to path: a tarball (which replaces a file there),
// or for OCIDir a folder (new, or empty). It is written beside path under
// a name of its own and renamed once whole: path is never half written,
// and a failure leaves nothing.
func WriteFile(ctx context.Context, path string, f Format, imgs []*image.Image) error {
	temp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".saving-"+strconv.Itoa(os.Getpid()))
	defer os.RemoveAll(temp) // after the rename, there is nothing to remove
	var err error
	if f == OCIDir {
		err = writeDir(ctx, temp, imgs)
	} else {
		err = writeTarball(ctx, temp, f, imgs)
	}
	if err != nil {
		return err
	}
	err = os.Rename(temp, path)
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%s is there already, and not to be replaced: name a new file, or for oci-dir a new or empty folder", path)
	}
	if err != nil {
		return err
	}
	return durable.SyncFolder(filepath.Dir(path))
}

func writeTarball(ctx context.Context, path string, f Format, imgs []*image.Image) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := Write(ctx, file, f, imgs); err != nil {
		return err
	}
	return file.Sync()
}

func writeDir(ctx context.Context, dir string, imgs []*image.Image) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return writeLayout(ctx, dirSink(dir), merge(imgs), false)
}

// merge writes an image given twice once, with the names of both.
func merge(imgs []*image.Image) []*image.Image {
	var merged []*image.Image
	byID := map[string]*image.Image{}
	for _, img := range imgs {
		first, ok := byID[img.ID]
		if !ok {
			copied := *img
			copied.Names = slices.Clone(img.Names)
			byID[img.ID] = &copied
			merged = append(merged, &copied)
			continue
		}
		for _, name := range img.Names {
			if !slices.Contains(first.Names, name) {
				first.Names = append(first.Names, name)
			}
		}
	}
	return merged
}

// sink is where a layout's files go.
type sink interface {
	dir(name string) error
	file(name string, size int64, r io.Reader) error
}

// tarSink writes a tarball's entries. Their times are the epoch's: the
// same images make the same tarball.
type tarSink struct{ w *tar.Writer }

func (t tarSink) dir(name string) error {
	return t.w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(0, 0), Format: tar.FormatPAX})
}

func (t tarSink) file(name string, size int64, r io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := t.w.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if n, err := io.Copy(t.w, r); err != nil || n != size {
		return fmt.Errorf("%s: %d bytes of %d written: %v", name, n, size, err)
	}
	return nil
}

// dirSink writes a folder's files.
type dirSink string

func (d dirSink) dir(name string) error { return os.MkdirAll(filepath.Join(string(d), name), 0o755) }

func (d dirSink) file(name string, size int64, r io.Reader) error {
	f, err := os.OpenFile(filepath.Join(string(d), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if n, err := io.Copy(f, r); err != nil || n != size {
		return fmt.Errorf("%s: %d bytes of %d written: %v", name, n, size, err)
	}
	return f.Sync()
}
