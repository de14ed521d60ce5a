package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"github.com/klauspost/compress/zstd"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/boxcraft/boxcraft/internal/testkit"
)

// A layer's whiteouts become overlayfs's: .wh.NAME a character device
// 0:0 named NAME, .wh..wh..opq the folder's trusted.overlay.opaque=y;
// aufs's bookkeeping is left out. Without Overlay they are plain files.
func TestUnpackConvertsWhiteouts(t *testing.T) {
	testkit.RequireRoot(t)
	layer := testkit.Tar(t,
		testkit.TarEntry{Name: "t/", Type: tar.TypeDir},
		testkit.TarEntry{Name: "t/.wh.deleted"},
		testkit.TarEntry{Name: "t/opaque/", Type: tar.TypeDir},
		testkit.TarEntry{Name: "t/opaque/.wh..wh..opq"},
		testkit.TarEntry{Name: "t/opaque/c", Body: "c"},
		testkit.TarEntry{Name: ".wh..wh.plnk/", Type: tar.TypeDir},
		testkit.TarEntry{Name: ".wh..wh.plnk/123.456", Body: "aufs"},
		testkit.TarEntry{Name: ".wh..wh.aufs"},
	)
	dir := t.TempDir()
	require.NoError(t, unpack(layer, dir, Options{Overlay: true}))
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(filepath.Join(dir, "t/deleted"), &st))
	assert.Equal(t, uint32(unix.S_IFCHR), st.Mode&unix.S_IFMT, "a character device")
	assert.Equal(t, uint64(0), st.Rdev, "device 0:0")
	assert.NoFileExists(t, filepath.Join(dir, "t/.wh.deleted"))
	assert.Equal(t, "y", xattr(t, filepath.Join(dir, "t/opaque"), "trusted.overlay.opaque"))
	assert.NoFileExists(t, filepath.Join(dir, "t/opaque/.wh..wh..opq"))
	assert.FileExists(t, filepath.Join(dir, "t/opaque/c"))
	assert.NoDirExists(t, filepath.Join(dir, ".wh..wh.plnk"), "aufs's bookkeeping is left out")
	assert.NoFileExists(t, filepath.Join(dir, ".wh..wh.aufs"))

	plain := t.TempDir()
	require.NoError(t, unpack(layer, plain, Options{}))
	assert.FileExists(t, filepath.Join(plain, "t/.wh.deleted"), "without Overlay, a file like any other")
	assert.NoFileExists(t, filepath.Join(plain, "t/deleted"))
}

// xattr reads a file's extended attribute.
func xattr(t *testing.T, file, name string) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(file, name, buf)
	require.NoError(t, err, "%s: %s", file, name)
	return string(buf[:n])
}

// Whiteouts that name no file of their folder, or lead outside, and
// overlayfs's own attributes, are refused naming the entry; nothing
// outside changes.
func TestUnpackRefusesHostileLayers(t *testing.T) {
	testkit.RequireRoot(t)
	for name, tc := range map[string]struct {
		entries []testkit.TarEntry
		err     string
	}{
		"whiteout of ..":            {[]testkit.TarEntry{{Name: ".wh..."}}, `entry ".wh...": a whiteout of "..", which names no file in its folder`},
		"whiteout of the layer":     {[]testkit.TarEntry{{Name: ".wh.."}}, `entry ".wh..": a whiteout of ".", which names no file in its folder`},
		"whiteout through a link":   {[]testkit.TarEntry{{Name: "link", Type: tar.TypeSymlink, Linkname: "OUTSIDE"}, {Name: "link/.wh.victim"}}, `entry "link/.wh.victim": its path leads outside`},
		"opaque through a link":     {[]testkit.TarEntry{{Name: "link", Type: tar.TypeSymlink, Linkname: "OUTSIDE"}, {Name: "link/.wh..wh..opq"}}, `entry "link/.wh..wh..opq": its path leads outside`},
		"whiteout that climbs":      {[]testkit.TarEntry{{Name: "../.wh.victim"}}, `entry "../.wh.victim": the name leads outside`},
		"trusted.overlay attribute": {[]testkit.TarEntry{{Name: "t/", Type: tar.TypeDir, Xattrs: map[string]string{"trusted.overlay.redirect": "/etc"}}}, `entry "t/": extended attribute "trusted.overlay.redirect": overlayfs's own`},
		"user.overlay attribute":    {[]testkit.TarEntry{{Name: "f", Xattrs: map[string]string{"user.overlay.origin": "x"}}}, `entry "f": extended attribute "user.overlay.origin": overlayfs's own`},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			entries := append([]testkit.TarEntry(nil), tc.entries...)
			for i := range entries {
				entries[i].Linkname = strings.ReplaceAll(entries[i].Linkname, "OUTSIDE", s.outside)
			}
			before := s.around(t)
			err := unpack(testkit.Tar(t, entries...), s.target, Options{Overlay: true})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tc.err), "%q starts with %q", err, tc.err)
			assert.Equal(t, before, s.around(t), "nothing outside the target appears or changes")
		})
	}
}

// blockingReader gives its data, then blocks until its context is
// cancelled, as a slow download would.
type blockingReader struct {
	r      io.Reader
	ctx    context.Context
	cancel context.CancelFunc
}

func (b *blockingReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.cancel() // the Ctrl-C, once the first entries are in
		<-b.ctx.Done()
		return 0, io.ErrUnexpectedEOF
	}
	return n, err
}

// Cancelling the context stops an unpack part way, with an error that
// says it was interrupted.
func TestUnpackStopsWhenInterrupted(t *testing.T) {
	whole := testkit.Tar(t, asMe(testkit.TarEntry{Name: "a", Body: "a"}, testkit.TarEntry{Name: "b", Body: strings.Repeat("b", 4096)})...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &blockingReader{bytes.NewReader(whole[:1024]), ctx, cancel}
	dir := t.TempDir()
	err := Unpack(ctx, r, dir, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "interrupt")
	assert.ErrorIs(t, err, context.Canceled)
	assert.FileExists(t, filepath.Join(dir, "a"), "the first entry was in before the interrupt")

	err = Unpack(ctx, bytes.NewReader(whole), t.TempDir(), Options{})
	assert.ErrorContains(t, err, "unpacking interrupted", "a cancelled context unpacks nothing")
}

// Decompress reads gzip, zstd and plain tar; other compressions, and what is
// no tar, are refused in one line.
func TestDecompressRefusesWhatItDoesNotRead(t *testing.T) {
	image := testkit.Tar(t, asMe(testkit.TarEntry{Name: "f", Body: "x"})...)
	for name, tc := range map[string]struct {
		data []byte
		err  string
	}{
		"broken zstd":  {append([]byte{0x28, 0xb5, 0x2f, 0xfd}, image...), "reading the archive: window size exceeded"},
		"xz":           {append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, image...), "compressed with xz, which boxcraft does not read: use gzip, zstd or no compression"},
		"bzip2":        {append([]byte("BZh91AY&SY"), image...), "compressed with bzip2, which boxcraft does not read: use gzip, zstd or no compression"},
		"text":         {[]byte(strings.Repeat("not a tar\n", 100)), "neither a tar archive nor gzip-compressed"},
		"gzip of text": {testkit.Gzip(t, []byte(strings.Repeat("not a tar\n", 100))), "neither a tar archive nor gzip-compressed"},
		"broken gzip":  {[]byte{0x1f, 0x8b, 8, 0, 1, 2, 3}, "gzip: unexpected EOF"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decompress(bytes.NewReader(tc.data))
			assert.EqualError(t, err, tc.err)
		})
	}
	zstdImage, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	for name, data := range map[string][]byte{"plain": image, "gzip": testkit.Gzip(t, image), "zstd": zstdImage.EncodeAll(image, nil), "empty": nil, "empty tar": make([]byte, 1024)} {
		t.Run(name, func(t *testing.T) {
			r, err := Decompress(bytes.NewReader(data))
			require.NoError(t, err)
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			want := data
			if name == "gzip" || name == "zstd" {
				want = image
			}
			assert.Equal(t, len(want), len(got), "the tar, whole")
		})
	}
}
