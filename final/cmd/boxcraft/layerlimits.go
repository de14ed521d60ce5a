package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/boxcraft/boxcraft/final/archive"
)

// The environment variables that raise the bounds on what one layer may
// unzip to (issue 20: a gzip bomb), for every command that unpacks one
// (load, import, run). Environment variables rather than flags: the
// layers are unpacked by whichever command first needs them.
const (
	envMaxLayerSize  = "BOXCRAFT_MAX_LAYER_SIZE"  // a size: 64g, 1024m …
	envMaxLayerRatio = "BOXCRAFT_MAX_LAYER_RATIO" // unzipped bytes per compressed byte
)

// layerLimits reads the bounds from the environment; unset is
// archive's default (32 GiB, 100 times).
func layerLimits() (archive.Limits, error) {
	var l archive.Limits
	if v := os.Getenv(envMaxLayerSize); v != "" {
		n, err := parseSize(envMaxLayerSize, v)
		if err != nil {
			return l, err
		}
		l.MaxBytes = n
	}
	if v := os.Getenv(envMaxLayerRatio); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return l, fmt.Errorf("%s %q: give a whole number above zero, e.g. 1000", envMaxLayerRatio, v)
		}
		l.MaxRatio = n
	}
	return l, nil
}

// withLimitHint says how to raise the bound an error ran into.
func withLimitHint(err error) error {
	if errors.Is(err, archive.ErrTooLarge) {
		return fmt.Errorf("%w (%s and %s raise the limits)", err, envMaxLayerSize, envMaxLayerRatio)
	}
	return err
}
