package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/boxcraft/boxcraft/final/archive"
)

// isArchive tells a tar archive (plain, gzip or zstd), which ADD
// unpacks, from any other file, which it copies.
func isArchive(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := archive.Decompress(f)
	if err != nil {
		return false
	}
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// writeArchive writes the entries of ADD's tar archive below e.name,
// each name cleaned as if from / first, so that none leads out of dest
// (the store's unpacker refuses that too).
func (c copySpec) writeArchive(tw *tar.Writer, e entry, _ bool) error {
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := archive.Decompress(f)
	if err != nil {
		return err
	}
	in := tar.NewReader(r)
	for {
		hdr, err := in.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.src, err)
		}
		below(e.name, hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, in); err != nil {
			return err
		}
	}
}

// below moves an archive's entry (and a hard link's target) below dest.
func below(dest string, hdr *tar.Header) {
	hdr.Name = strings.TrimPrefix(path.Join(dest, path.Clean("/"+hdr.Name)), "/")
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if hdr.Typeflag == tar.TypeLink {
		hdr.Linkname = strings.TrimPrefix(path.Join(dest, path.Clean("/"+hdr.Linkname)), "/")
	}
}
