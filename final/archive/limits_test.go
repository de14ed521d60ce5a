package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bomb is a gzip-compressed tar of one file of size zeros: about a
// thousandth of size, compressed.
func bomb(t *testing.T, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}))
	_, err := io.CopyN(tw, zeroReader{}, size)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// unpackWithin decompresses data within limits and unpacks it into a
// new folder.
func unpackWithin(t *testing.T, data []byte, limits Limits) error {
	t.Helper()
	r, err := DecompressWithin(bytes.NewReader(data), limits)
	if err != nil {
		return err
	}
	return Unpack(context.Background(), r, t.TempDir(), Options{})
}

func TestDecompressStopsAGzipBomb(t *testing.T) {
	data := bomb(t, 64<<20)
	require.Less(t, len(data), 1<<20, "64 MiB of zeros compress to less than a MiB")

	err := unpackWithin(t, data, Limits{})
	assert.ErrorIs(t, err, ErrTooLarge, "past 100 times its size (plus a MiB) by default")
	assert.Contains(t, err.Error(), "gzip bomb")

	assert.NoError(t, unpackWithin(t, data, Limits{MaxRatio: 10000}), "a ratio raised lets it through")

	err = unpackWithin(t, data, Limits{MaxRatio: 10000, MaxBytes: 32 << 20})
	assert.ErrorIs(t, err, ErrTooLarge, "the absolute cap holds whatever the ratio")

	small := bomb(t, 512<<10)
	assert.NoError(t, unpackWithin(t, small, Limits{}), "a small layer of zeros is within the first MiB's slack")
}

func TestCheckSparse(t *testing.T) {
	for _, tc := range []struct {
		size, onDisk int64
		limits       Limits
		refused      bool
	}{
		{10 << 20, 10 << 20, Limits{}, false}, // not sparse
		{1 << 20, 0, Limits{}, false},         // a MiB of holes: the slack
		{1 << 40, 4096, Limits{}, true},       // truncate -s 1T
		{200 << 20, 4 << 20, Limits{}, false}, // 50 times: within the ratio
		{1 << 30, 4 << 20, Limits{}, true},    // 256 times
		{1 << 30, 4 << 20, Limits{MaxRatio: 1000}, false},
		{8 << 30, 1 << 30, Limits{MaxBytes: 1 << 30}, true}, // 7 GiB of holes, past the cap
	} {
		err := checkSparse(tc.size, tc.onDisk, tc.limits)
		if tc.refused {
			assert.ErrorIs(t, err, ErrTooLarge, "%+v", tc)
		} else {
			assert.NoError(t, err, "%+v", tc)
		}
	}
}

// TestDiffRefusesASparseFile: a file of holes, a terabyte long, is
// refused rather than written out as a terabyte of zeros.
func TestDiffRefusesASparseFile(t *testing.T) {
	upper := t.TempDir()
	f, err := os.Create(filepath.Join(upper, "holes"))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<40))
	require.NoError(t, f.Close())
	var out bytes.Buffer
	err = Diff(context.Background(), &out, upper, nil, nil, LeaveOut{})
	assert.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), "holes: a sparse file")
	assert.Less(t, out.Len(), 1<<20, "nothing of the holes was written")
}
