package archive

// This file fills small regular files on a goroutine of their own: the
// unpacker makes each file where the archive says (unpack.go: the name
// resolved beneath the folder, O_CREAT|O_EXCL), reads its content, and
// hands the descriptor and content over; the filler writes the content,
// sets the owner, mode and times through the descriptor, and closes it,
// on another core, while the unpacker goes on to the next entry. A layer
// of many small files is as much writing as making (issue 26).
//
// Nothing of the filler's resolves a name: it holds descriptors only, so
// what keeps the unpacking beneath its folder stays in the unpacker.

import (
	"archive/tar"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sys/unix"
)

// Files up to fillSize are filled in the background, fillBuffers at a
// time at most; a larger one, or one with extended attributes, is
// filled in line (makeFile). The buffers go round: no garbage a file.
const (
	fillSize    = 64 << 10
	fillBuffers = 32
)

// filler is the goroutine that fills files, and what it is handed.
type filler struct {
	jobs chan fill
	free chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error // the first failure
}

// fill is one file to fill: its descriptor, its content, and what to set.
type fill struct {
	fd      int
	entry   string
	content []byte
	meta    metadata
}

func startFiller() *filler {
	f := &filler{jobs: make(chan fill, fillBuffers), free: make(chan []byte, fillBuffers), done: make(chan struct{})}
	for range fillBuffers {
		f.free <- make([]byte, fillSize)
	}
	go f.run()
	return f
}

func (f *filler) run() {
	defer close(f.done)
	for job := range f.jobs {
		err := job.write()
		if closeErr := unix.Close(job.fd); err == nil && closeErr != nil {
			err = fmt.Errorf("closing the file: %w", closeErr) // a write that failed only then
		}
		if err != nil {
			f.fail(fmt.Errorf("entry %q: %w", job.entry, err))
		}
		f.free <- job.content[:cap(job.content)]
	}
}

func (job fill) write() error {
	if _, err := fdWriter(job.fd).Write(job.content); err != nil {
		return fmt.Errorf("copying its content: %w", err)
	}
	if err := job.meta.setOwnerAndMode(-1, "", job.fd); err != nil {
		return err
	}
	return job.meta.setTimes(-1, "", job.fd)
}

func (f *filler) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

// failed is the first file the filler could not fill, or nil.
func (f *filler) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// take reads a file's content from the archive into a free buffer and
// hands the file to the filler, which closes fd.
func (f *filler) take(fd int, hdr *tar.Header, content io.Reader, meta metadata) error {
	buf := <-f.free
	buf = buf[:hdr.Size]
	if _, err := io.ReadFull(content, buf); err != nil {
		f.free <- buf[:cap(buf)]
		unix.Close(fd)
		return fmt.Errorf("copying its content: %w", err)
	}
	f.jobs <- fill{fd: fd, entry: hdr.Name, content: buf, meta: meta}
	return nil
}

// finish waits for the files handed over, and says the first failure.
func (f *filler) finish() error {
	close(f.jobs)
	<-f.done
	return f.failed()
}
