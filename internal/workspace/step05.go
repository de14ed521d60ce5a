package main

// step05's workspace is step04's program with step05's image format
// (the OCI layout), the layer store, commit, images
// and layers given: what is left to write is the union mount, the
// whiteouts that let a layer delete, and the check of a layer against its
// digest.
var step05 = lesson{
	{
		Func: "mountOverlay",
		What: "the union: the layers under the container's upper layer, with overlayfs",
		Hint: `list the layers' folders TOP first (overlayfs lists them top down, the image bottom up); ` +
			`then mount type "overlay" on dir/merged with ` +
			`"lowerdir=TOP:…:BOTTOM,upperdir=DIR/upper,workdir=DIR/work,redirect_dir=off,metacopy=off" (and ` +
			`",volatile" when throwaway). Options longer than mountOptionsMax do not fit in mount(2): refuse them.`,
		Man:   []string{"2 mount", "the kernel's Documentation/filesystems/overlayfs.rst"},
		Tests: "TestLayers/UnionView, TestLayers/WritesLandInTheUpperLayerOnly, and every test that runs an image",
		Stub:  `return fmt.Errorf("mount overlay on %s/merged: not written yet (TODO(step05) in image.go)", dir)`,
	},
	{
		Func: "(*unpacker).whiteout",
		What: "whiteouts: a layer deletes what the layers below have",
		Hint: `the stub ignores an image's whiteouts, so the files a layer deleted come back. Convert them to ` +
			`overlayfs's: .wh..wh..opq makes its folder opaque (the xattr trusted.overlay.opaque=y, set through ` +
			`/proc/self/fd/PARENT: an O_PATH descriptor takes no xattr, but its link leads to the folder); .wh.NAME makes NAME (after makeRoom) ` +
			`a character device 0:0 (unix.Mknodat). Refuse a whiteout of "", "." or "..".`,
		Man:   []string{"2 mknod", "2 setxattr", "7 xattr"},
		Tests: "TestLayers/UnionView, TestLayers/CommitRoundTrip, TestLayers/HostileLayersAreRefused (whiteouts of .. and of the layer itself)",
		Stub:  "return nil",
	},
	{
		Func: "(*layer).verify",
		What: "a layer's blob, checked against its digest before it is unpacked",
		Hint: `the stub trusts every blob. Read the blob (l.open()) and compare its sha256 (sha256Of) ` +
			`with l.digest. A difference is mismatch(got).`,
		Man:   []string{"the OCI image spec's descriptor.md (digests)"},
		Tests: "TestLayers/TamperedBlobsAreRefused",
		Stub:  "return nil",
	},
}
