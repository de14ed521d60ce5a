package registry

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/boxcraft/boxcraft/final/image"
)

// Options are what every talk with a registry needs.
type Options struct {
	// Insecure names registries (host[:port]) that may be spoken to in
	// plain HTTP; localhost and 127.0.0.1 always may.
	Insecure []string
	// Transport carries the requests; nil is Go's default.
	Transport http.RoundTripper
}

// reference reads a name as Docker does (busybox is
// docker.io/library/busybox:latest) and returns it as both boxcraft's
// reference and go-containerregistry's.
func (o Options) reference(s string) (image.Reference, name.Reference, error) {
	ref, err := image.ParseReference(s)
	if err != nil {
		return ref, nil, err
	}
	var opts []name.Option
	if o.insecure(ref.Domain) {
		opts = append(opts, name.Insecure)
	}
	full := ref.Domain + "/" + ref.Path
	if ref.Digest != "" {
		full += "@" + ref.Digest
	} else {
		full += ":" + ref.Tag
	}
	gref, err := name.ParseReference(full, opts...)
	if err != nil {
		return ref, nil, fmt.Errorf("invalid reference %q: %w", s, err)
	}
	return ref, gref, nil
}

// insecure tells whether plain HTTP is allowed to the registry host.
func (o Options) insecure(host string) bool {
	if slices.Contains(o.Insecure, host) {
		return true
	}
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	hostname = strings.Trim(hostname, "[]")
	if hostname == "localhost" {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}

// httpGuard refuses plain HTTP to a registry not named insecure:
// go-containerregistry falls back to HTTP for private addresses
// (10.0.0.0/8 …) too, where Docker does not.
type httpGuard struct {
	next http.RoundTripper
	o    Options
}

func (t httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !t.o.insecure(req.URL.Host) {
		return nil, fmt.Errorf("registry %s: no HTTPS, and plain HTTP is refused (--insecure-registry %s allows it)", req.URL.Host, req.URL.Host)
	}
	return t.next.RoundTrip(req)
}

func (o Options) roundTripper() http.RoundTripper {
	next := o.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	return httpGuard{next: next, o: o}
}
