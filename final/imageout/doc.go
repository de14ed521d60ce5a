// Package imageout writes images out in the forms other tools read, the
// mirror of final/image, which reads the same forms in:
//
//   - docker save's tarball as Docker 25 and later write it: an OCI image
//     layout (blobs/sha256/HEX, index.json naming each image, oci-layout)
//     with manifest.json and repositories beside it, for docker load,
//     skopeo's docker-archive: and boxcraft load;
//   - the OCI layout alone, in a tarball (skopeo's oci-archive:) or in a
//     folder (skopeo's oci:, umoci, boxcraft load).
//
// The blobs are written as the store keeps them, checked against their
// digests as they are copied. step05-layers' commit taught the idea: it
// wrote a container's image, and its changes as a new layer, as an OCI
// layout.
package imageout
