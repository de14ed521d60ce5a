// Package registry pulls images from a registry into boxcraft's store,
// pushes stored images to one, and logs in to one (issue 22). The
// distribution protocol itself (the /v2/ probe, the WWW-Authenticate
// challenge, Bearer tokens and basic auth, manifests, indexes, blob
// uploads, retries) is go-containerregistry's: this package decides what
// boxcraft asks for and how it is kept. The store stays boxcraft's own:
// each layer's blob streams into final/store's Load, which checks its
// digest and size as it is written and unpacks it once, as step05 did.
package registry
