// Package archive unpacks image archives safely: an image is an archive
// someone else wrote, unpacked as root, so a careless unpacker lets it
// write anywhere on the host. step04-rootfs taught the idea (openat2 with
// RESOLVE_BENEATH, hostile entries refused by name, owners shifted into a
// user namespace's range); step05-layers added the layer form, whose
// whiteouts (.wh.NAME, .wh..wh..opq) become overlayfs's (a character
// device 0:0, trusted.overlay.opaque=y).
//
// Decompress tells gzip from a plain tar by the first bytes, whatever
// the archive is called; Unpack writes a tar into an empty folder.
package archive
