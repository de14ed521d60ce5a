package dockerfmt

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShortIDAndSize(t *testing.T) {
	assert.Equal(t, "b839077f0082", ShortID("sha256:b839077f0082aa6b5e6a1a0d0b0a1e6c1b3f0e5f8a0f4a1b2c3d4e5f6a7b8c9d"))
	assert.Equal(t, "abc", ShortID("abc"))
	assert.Equal(t, "docker.io/library/busybox:latest", FullName("busybox"))
	assert.Equal(t, "localhost:5000/a/b:v1", FullName("localhost:5000/a/b:v1"))
	assert.Equal(t, "999B", Size(999))
	assert.Equal(t, "4.26MB", Size(4_256_000))
	assert.Equal(t, "1.98MB", Size(1_980_000))
	assert.Equal(t, "1.5GB", Size(1_500_000_000))
}
