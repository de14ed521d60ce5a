package image

// This file reads an image's name as Docker does (distribution's
// reference package): [DOMAIN/]PATH[:TAG][@DIGEST], where a name with no
// domain is Docker Hub's, and a one-part path on Docker Hub is in
// library/.

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Reference is an image's name as Docker reads it.
type Reference struct{ Domain, Path, Tag, Digest string }

// Docker Hub's names, and what a reference is made of.
const (
	defaultDomain = "docker.io"
	legacyDomain  = "index.docker.io"
	officialRepo  = "library/"
	defaultTag    = "latest"
	maxNameLength = 255
)

var (
	// pathPattern is a path: lower-case parts, separated by "/", each
	// letters and digits joined by ".", "_", "__" or dashes.
	pathPattern = lazyRegexp(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	// domainPattern is a host name or [IPv6], and a port.
	domainPattern = lazyRegexp(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	tagPattern    = lazyRegexp(`^[\w][\w.-]{0,127}$`)
	idPattern     = lazyRegexp(`^[a-f0-9]{64}$`)
)

// ParseReference reads busybox, busybox:1.36, localhost:5000/x,
// registry.example/ns/x:tag, name@sha256:…; a name without tag or digest
// gets the tag latest.
func ParseReference(s string) (Reference, error) {
	var r Reference
	rest, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest {
		if err := checkDigest(digest); err != nil {
			return Reference{}, fmt.Errorf("invalid reference %q: digest %w", s, err)
		}
		r.Digest = digest
	}
	if i := strings.LastIndex(rest, ":"); i > strings.LastIndex(rest, "/") {
		rest, r.Tag = rest[:i], rest[i+1:]
		if !tagPattern().MatchString(r.Tag) {
			return Reference{}, fmt.Errorf("invalid reference %q: tag %q: a tag is up to 128 letters, digits, _, . and -, not starting with . or -", s, r.Tag)
		}
	}
	if err := r.setName(s, rest); err != nil {
		return Reference{}, err
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = defaultTag
	}
	return r, nil
}

// setName splits name into its domain and path, and checks them.
func (r *Reference) setName(s, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid reference %q: no name", s)
	case len(name) > maxNameLength:
		return fmt.Errorf("invalid reference %q: a name is at most %d characters", s, maxNameLength)
	case idPattern().MatchString(name):
		return fmt.Errorf("invalid reference %q: 64 hex digits are an image ID, not a name", s)
	}
	r.Domain, r.Path = splitDomain(name)
	if !domainPattern().MatchString(r.Domain) {
		return fmt.Errorf("invalid reference %q: domain %q", s, r.Domain)
	}
	if !pathPattern().MatchString(r.Path) {
		if strings.ToLower(r.Path) != r.Path {
			return fmt.Errorf("invalid reference %q: repository name %q must be lower case", s, r.Path)
		}
		return fmt.Errorf("invalid reference %q: repository name %q: lower-case letters and digits, in parts joined by . _ __ - or /", s, r.Path)
	}
	return nil
}

// splitDomain splits a name as Docker does: its first part is a domain
// when it has a "." or a ":", or is localhost, or has upper case (which
// a path may not); else the name is Docker Hub's.
func splitDomain(name string) (domain, path string) {
	first, rest, found := strings.Cut(name, "/")
	if !found || !strings.ContainsAny(first, ".:") && first != "localhost" && strings.ToLower(first) == first {
		domain, path = defaultDomain, name
	} else {
		domain, path = first, rest
	}
	if domain == legacyDomain {
		domain = defaultDomain
	}
	if domain == defaultDomain && !strings.Contains(path, "/") {
		path = officialRepo + path
	}
	return domain, path
}

// String is the full name: docker.io/library/busybox:latest.
func (r Reference) String() string {
	return r.Domain + "/" + r.Path + r.suffix()
}

// Familiar is the name as Docker shows it: busybox:latest.
func (r Reference) Familiar() string {
	if r.Domain != defaultDomain {
		return r.String()
	}
	path := r.Path
	if short, ok := strings.CutPrefix(path, officialRepo); ok && !strings.Contains(short, "/") {
		path = short
	}
	return path + r.suffix()
}

// suffix is the tag and digest, as a name ends with them.
func (r Reference) suffix() string {
	var s string
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// isFullName tells a name from the bare tag an OCI layout's ref.name
// annotation may be ("latest", "1.36"): a name has a "/", a ":" or an
// "@".
func isFullName(s string) bool { return strings.ContainsAny(s, "/:@") }

// lazyRegexp compiles a pattern on first use rather than when the program
// starts: every boxcraft process, a container's init and monitor too,
// would pay for it, and most never match anything.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}
