package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
)

// digestPattern is a sha256 digest, the only kind checked. Its hex part
// names a file: nothing else may get into the path.
var digestPattern = lazyRegexp(`^sha256:[0-9a-f]{64}$`)

// checkDigest refuses a digest that is not sha256's.
func checkDigest(digest string) error {
	if !digestPattern().MatchString(digest) {
		return fmt.Errorf("%q: only sha256 digests, 64 hex digits, are read", digest)
	}
	return nil
}

// digestOf is data's sha256 digest.
func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// digestHex is a digest's hex part: "sha256:3f2a…" → "3f2a…".
func digestHex(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return hex
}

// readChecked reads a small blob (a manifest, an index, a config) whole
// and checks it against its digest.
func readChecked(r io.ReadCloser, name, digest string) ([]byte, error) {
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxJSON))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if got := digestOf(data); got != digest {
		return nil, fmt.Errorf("%s: %w", name, mismatch(got))
	}
	return data, nil
}

// mismatch is the error of a blob whose content is not what its digest
// says.
func mismatch(got string) error {
	return fmt.Errorf("its content does not match its digest: it is %s (changed or damaged)", got)
}

// verified wraps a blob's reader: its last Read fails, in place of
// io.EOF, when the blob is not what digest and size (when not 0) say.
func verified(r io.ReadCloser, name, digest string, size int64) io.ReadCloser {
	return &verifier{ReadCloser: r, name: name, want: digest, size: size, hash: sha256.New()}
}

type verifier struct {
	io.ReadCloser
	name, want string
	size, read int64
	hash       hash.Hash
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.ReadCloser.Read(p)
	v.hash.Write(p[:n])
	v.read += int64(n)
	if v.size > 0 && v.read > v.size {
		return n, fmt.Errorf("%s: longer than the %d bytes its descriptor says (changed or damaged)", v.name, v.size)
	}
	if err != io.EOF {
		return n, err
	}
	if v.size > 0 && v.read != v.size {
		return n, fmt.Errorf("%s: %d bytes, where its descriptor says %d (changed or damaged)", v.name, v.read, v.size)
	}
	if got := "sha256:" + hex.EncodeToString(v.hash.Sum(nil)); got != v.want {
		return n, fmt.Errorf("%s: %w", v.name, mismatch(got))
	}
	return n, io.EOF
}
