package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// spooled is path when it is a file or a folder, which an image reader
// can seek in. A stream (stdin as "-", a pipe, a FIFO: docker load <
// image.tar) is copied into a temporary file in dir first, whose name it
// returns; the caller removes it. A signal (ctx) stops the copy, which
// may be waiting for a writer that never writes: the temporary file goes,
// and the refusal says what stopped it.
func spooled(ctx context.Context, path, dir string) (string, error) {
	stream, err := isStream(path)
	if !stream || err != nil {
		return path, err
	}
	tmp, err := os.CreateTemp(dir, ".load-")
	if err != nil {
		return "", fmt.Errorf("load %s: %w", path, err)
	}
	done := make(chan error, 1)
	go func() { done <- copyStream(tmp, path) }()
	var n int64
	select {
	case err = <-done:
		if n, _ = tmp.Seek(0, io.SeekCurrent); err == nil && n == 0 {
			err = errors.New("no image came: the input is empty")
		}
	case <-ctx.Done():
		err = errors.New("interrupted by a signal (SIGINT) while the image was read")
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("load %s: %w", path, err)
	}
	return tmp.Name(), nil
}

// isStream says whether path is a stream rather than a file or a
// folder, which are read where they are (and image.Read says what is
// wrong with anything else).
func isStream(path string) (bool, error) {
	if path == "-" {
		if term.IsTerminal(int(os.Stdin.Fd())) {
			return false, errors.New("load: stdin is a terminal: give the image with -i PATH, or redirect it")
		}
		return true, nil
	}
	st, err := os.Stat(path)
	return err == nil && !st.Mode().IsRegular() && !st.IsDir(), nil
}

// copyStream copies the stream at path into to. Opening a FIFO waits for
// its writer, as cat's does: here, where a signal can still stop it.
func copyStream(to io.Writer, path string) error {
	in := os.Stdin
	if path != "-" {
		var err error
		if in, err = os.Open(path); err != nil {
			return err
		}
		defer in.Close()
	}
	_, err := io.Copy(to, in)
	return err
}
