// Package image reads an image from a path, in the forms images travel
// in, and checks every blob against its digest (step05-layers taught
// it, in formats.go):
//
//   - an OCI image layout, a folder: oci-layout, index.json, and every
//     blob in blobs/sha256/, named by its digest. index.json points to
//     the image's manifest (or to an index of them, one per platform),
//     which lists the config and the layers; the config lists each
//     layer's diffID, the digest of its tar unzipped.
//   - docker save's tarball: manifest.json names the config and the
//     layers inside it (Docker 25 and later also put an OCI layout in it;
//     older ones a folder per layer, holding layer.tar).
//   - a bare rootfs tarball, as step04 took, plain or gzip: one layer,
//     and a config made up for it.
//
// A blob is someone else's bytes, and a digest is only a promise: Read
// checks the manifests and configs it reads, and a Layer's reader fails
// at its end when the blob is not what its digest says.
//
// Reference reads an image's name as Docker does (busybox is
// docker.io/library/busybox:latest).
package image
