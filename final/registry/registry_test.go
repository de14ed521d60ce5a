package registry

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Plain HTTP only to the loopback and registries named insecure.
func TestInsecure(t *testing.T) {
	o := Options{Insecure: []string{"registry.lan:5000"}}
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true,
		"registry.lan:5000": true, "registry.lan": false, "10.0.0.2:5000": false, "docker.io": false,
	} {
		assert.Equal(t, want, o.insecure(host), host)
	}
}

type refuse struct{}

func (refuse) RoundTrip(*http.Request) (*http.Response, error) { panic("not to be reached") }

func TestHTTPGuard(t *testing.T) {
	guard := Options{Transport: refuse{}}.roundTripper()
	req, err := http.NewRequest(http.MethodGet, "http://10.0.0.2:5000/v2/", nil)
	require.NoError(t, err)
	_, err = guard.RoundTrip(req)
	assert.EqualError(t, err, "registry 10.0.0.2:5000: no HTTPS, and plain HTTP is refused (--insecure-registry 10.0.0.2:5000 allows it)")
}

func TestReference(t *testing.T) {
	_, ref, err := Options{}.reference("busybox")
	require.NoError(t, err)
	assert.Equal(t, "index.docker.io/library/busybox:latest", ref.Name())
	_, ref, err = Options{}.reference("localhost:5000/x@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	assert.Equal(t, "http", ref.Context().Registry.Scheme())
}

func TestChoosePlatform(t *testing.T) {
	p, err := choosePlatform("linux/arm64/v8")
	require.NoError(t, err)
	assert.Equal(t, "linux/arm64/v8", p.String())
	_, err = choosePlatform("arm64")
	assert.Error(t, err)
}
