package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// blockSize is a tar header's size.
const blockSize = 512

// refusedCompressions are the formats an image may be compressed with
// that the package does not read, by their first bytes.
var refusedCompressions = []struct {
	name  string
	magic []byte
}{
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0}},
	{"bzip2", []byte("BZh")},
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
}

// zstdMagic starts a zstd frame: registries serve zstd layers
// (application/vnd.oci.image.layer.v1.tar+zstd) as well as gzip ones.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Decompress returns r unzipped when it is gzip or zstd, as it is when it is a
// plain tar; anything else is refused. The first bytes tell which,
// whatever the archive's name or media type says. What it reads stops
// with ErrTooLarge past the default Limits.
func Decompress(r io.Reader) (io.Reader, error) { return DecompressWithin(r, Limits{}) }

// DecompressWithin is Decompress with limits of the caller's.
func DecompressWithin(r io.Reader, limits Limits) (io.Reader, error) {
	compressed := &counter{r: r}
	buffered := bufio.NewReaderSize(compressed, 64<<10)
	magic, _ := buffered.Peek(6) // too short to peek at is no compression
	for _, c := range refusedCompressions {
		if bytes.HasPrefix(magic, c.magic) {
			return nil, fmt.Errorf("compressed with %s, which boxcraft does not read: use gzip, zstd or no compression", c.name)
		}
	}
	limits = limits.orDefaults()
	if bytes.HasPrefix(magic, zstdMagic) {
		// One goroutine: the decoder then decodes as it is read, and
		// leaves nothing running once the stream ends.
		unzipped, err := zstd.NewReader(buffered, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return checkTar(bufio.NewReaderSize(&bounded{r: unzipped, compressed: compressed, limits: limits}, 64<<10))
	}
	if !bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) {
		return checkTar(bufio.NewReaderSize(&bounded{r: buffered, limits: limits}, 64<<10))
	}
	unzipped, err := gzip.NewReader(buffered)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return checkTar(bufio.NewReaderSize(&bounded{r: unzipped, compressed: compressed, limits: limits}, 64<<10))
}

// checkTar returns r when it starts as a tar does: with a header whose
// checksum holds, or the zero blocks of an empty archive, or nothing:
// text or a broken download is refused here, in one line, before a
// single entry is made.
func checkTar(r *bufio.Reader) (io.Reader, error) {
	block, err := r.Peek(blockSize)
	if len(block) == 0 && errors.Is(err, io.EOF) {
		return r, nil // no bytes: an empty archive, as archive/tar reads it
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	if len(block) < blockSize || !isTarHeader(block) {
		return nil, errors.New("neither a tar archive nor gzip-compressed")
	}
	return r, nil
}

// isTarHeader checks a header block's checksum (the sum of its bytes,
// the checksum's own field counted as spaces); a block of zeros ends an
// archive, here an empty one.
func isTarHeader(block []byte) bool {
	if bytes.Count(block, []byte{0}) == blockSize {
		return true
	}
	field := strings.TrimRight(strings.TrimLeft(string(block[148:156]), " \x00"), " \x00")
	want, err := strconv.ParseInt(field, 8, 64)
	if err != nil {
		return false
	}
	// Old tars summed signed bytes: archive/tar accepts either sum.
	var unsigned, signed int64
	for i, b := range block {
		if i >= 148 && i < 156 {
			b = ' '
		}
		unsigned += int64(b)
		signed += int64(int8(b))
	}
	return want == unsigned || want == signed
}
