// Package logs keeps a container's output as Docker's json-file log
// driver does: one JSON object per line, {"log":"…\n","stream":"stdout",
// "time":"…"}, so that `boxcraft logs` can show either stream, with or
// without times, and follow it. No step kept output: a step's container
// wrote to the terminal that ran it. A detached container has no
// terminal; its monitor writes here.
package logs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one line of output.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// File is a container's log, open for appending. Both streams write to
// it, each a line at a time.
type File struct {
	mu   sync.Mutex
	file *os.File
}

// Create opens path for appending, making it when missing.
func Create(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open the log: %w", err)
	}
	return &File{file: f}, nil
}

// Close closes the log.
func (f *File) Close() error { return f.file.Close() }

// Stream is a writer that logs what it is given as stream's lines.
func (f *File) Stream(stream string) io.WriteCloser {
	return &streamWriter{log: f, stream: stream}
}

type streamWriter struct {
	log     *File
	stream  string
	partial []byte
}

// maxLine is where a long line is cut into entries, as Docker cuts it.
const maxLine = 16 << 10

// Write logs each whole line; a line's end waits for the next write, as
// Docker's driver waits for it (a prompt without a newline is logged when
// the stream closes). A line longer than maxLine is logged in pieces.
func (w *streamWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		n := bytes.IndexByte(w.partial, '\n') + 1
		if n == 0 || n > maxLine {
			if len(w.partial) < maxLine {
				return len(p), nil
			}
			n = maxLine
		}
		if err := w.log.write(w.stream, w.partial[:n]); err != nil {
			return 0, err
		}
		w.partial = w.partial[n:]
	}
}

// Close logs what is left of the last line.
func (w *streamWriter) Close() error {
	if len(w.partial) == 0 {
		return nil
	}
	err := w.log.write(w.stream, w.partial)
	w.partial = nil
	return err
}

func (f *File) write(stream string, line []byte) error {
	data, err := json.Marshal(Entry{Log: string(line), Stream: stream, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err = f.file.Write(append(data, '\n'))
	return err
}

// Read calls each for every entry in the log at path, in order. With
// follow, at the end of the file it waits for more until done returns
// true, then reads what is left.
func Read(path string, follow func() (done bool), each func(Entry) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var pending []byte
	for {
		line, err := r.ReadBytes('\n')
		pending = append(pending, line...)
		if err == nil {
			var e Entry
			if json.Unmarshal(pending, &e) == nil {
				if err := each(e); err != nil {
					return err
				}
			}
			pending = pending[:0]
			continue
		}
		if err != io.EOF {
			return fmt.Errorf("read the log: %w", err)
		}
		if follow == nil {
			return nil
		}
		if follow() {
			follow = nil // one more pass for what came last
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
}
