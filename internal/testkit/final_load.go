package testkit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imagesColumns are docker images's columns, in order.
var imagesColumns = []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}

// imageRows runs `boxcraft images` and reads its table.
func imageRows(t testing.TB) []psRow {
	t.Helper()
	r := Run(t, "images")
	require.Equal(t, 0, r.Code, "images:\n%s", r)
	return table(t, r.Stdout, imagesColumns)
}

// imageRow finds the row of images with that repository and tag.
func imageRow(rows []psRow, repository, tag string) psRow {
	for _, row := range rows {
		if row["REPOSITORY"] == repository && row["TAG"] == tag {
			return row
		}
	}
	return nil
}

// formLayer is a layer holding /form, which says what form the image
// travelled in.
func formLayer(t testing.TB, form string) []byte {
	t.Helper()
	return Tar(t, TarEntry{Name: "form", Body: form + "\n"})
}

// catForm runs cat /form in a container of image ref, and checks what it
// printed.
func catForm(t *testing.T, ref, want string) {
	t.Helper()
	r := Run(t, "run", "--rm", ref, "cat", "/form")
	require.Equal(t, 0, r.Code, "run %s:\n%s", ref, r)
	assert.Equal(t, want+"\n", r.Stdout, "the image %s is the one loaded from %s", ref, want)
}

// load loads an image of each form boxcraft reads, in a sandbox of its
// own, and checks the names it gives them as Docker shows them: docker
// save's tarballs (before Docker 25 and since) named by their RepoTags,
// a name moving to the image loaded last (the one before left as
// <none>, still there by its ID); an OCI layout named in its index
// (docker.io/team/app:1 shown as team/app:1), one that names no image,
// and bare rootfs tarballs, plain and gzip, which have no name: each
// loaded, listed, and run.
func (s *commandsSuite) load(t *testing.T) {
	legacy := formLayer(t, "docker-save-legacy")
	loaded(t, Run(t, "load", "-i", DockerSave(t, false, s.base, legacy)), "Loaded image: boxcraft/test:latest")
	catForm(t, "boxcraft/test", "docker-save-legacy")

	modern := formLayer(t, "docker-save-25")
	loaded(t, Run(t, "load", "-i", DockerSave(t, true, s.base, modern)), "Loaded image: boxcraft/test:latest")
	catForm(t, "boxcraft/test:latest", "docker-save-25")
	legacyID := kitImageID(t, s.base, legacy)
	catForm(t, ShortID(legacyID), "docker-save-legacy")

	named := newNamedImage(t, "docker.io/team/app:1", imageSettings{Env: []string{dockerPath}}, s.base, formLayer(t, "oci-named"))
	loaded(t, Run(t, "load", "-i", named.layout(t)), "Loaded image: team/app:1")
	catForm(t, "team/app:1", "oci-named")

	unnamedLayers := [][]byte{s.base, formLayer(t, "oci-unnamed")}
	unnamedID := kitImageID(t, unnamedLayers...)
	loaded(t, Run(t, "load", "-i", OCILayout(t, true, unnamedLayers...)), "Loaded image ID: "+unnamedID)
	catForm(t, strings.TrimPrefix(unnamedID, "sha256:")[:8], "oci-unnamed")

	plain := ImageWithProbe(t)
	zipped := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	require.NoError(t, os.WriteFile(zipped, Gzip(t, readFile(t, plain)), 0o644))
	var rootfsIDs []string
	for _, tarball := range []string{plain, zipped} {
		r := Run(t, "load", "-i", tarball)
		require.Equal(t, 0, r.Code, "load -i %s:\n%s", tarball, r)
		id := regexp.MustCompile(`^Loaded image ID: sha256:([0-9a-f]{64})\n$`).FindStringSubmatch(r.Stdout)
		require.NotNil(t, id, "a rootfs tarball has no name: load prints its ID alone:\n%s", r)
		rootfsIDs = append(rootfsIDs, id[1])
		f := Probe(t, Run(t, "run", "--rm", ShortID(id[1]), "/probe"))
		assert.Equal(t, 1, f.Pid, "the probe is pid 1 of the container")
	}

	rows := imageRows(t)
	for _, want := range []struct{ repo, tag, id string }{
		{"boxcraft/test", "latest", kitImageID(t, s.base, modern)},
		{"<none>", "<none>", legacyID},
		{"team/app", "1", named.ID},
		{"<none>", "<none>", unnamedID},
		{"<none>", "<none>", rootfsIDs[0]},
	} {
		found := false
		for _, row := range rows {
			found = found || (row["REPOSITORY"] == want.repo && row["TAG"] == want.tag && row["IMAGE ID"] == ShortID(want.id))
		}
		assert.True(t, found, "images lists %s:%s as %s:\n%v", want.repo, want.tag, ShortID(want.id), rows)
	}
}

// imagesAndRmi checks images and images -q, and rmi: refused while a
// container uses the image, then the image untagged and deleted, with
// the layer no other image has; unknown images refused.
func (s *commandsSuite) imagesAndRmi(t *testing.T) {
	s.enter(t)
	rows := imageRows(t)
	for _, want := range []struct{ repo, tag, id string }{{"busybox", "latest", s.busybox.ID}, {"boxcraft/config", "v1", s.config.ID}} {
		row := imageRow(rows, want.repo, want.tag)
		if assert.NotNil(t, row, "images lists %s:%s:\n%v", want.repo, want.tag, rows) {
			assert.Equal(t, ShortID(want.id), row["IMAGE ID"], "images shows 12 digits of the image's ID (its config's digest)")
			assert.NotEmpty(t, row["SIZE"])
		}
	}
	r := Run(t, "images", "-q")
	require.Equal(t, 0, r.Code, r)
	ids := strings.Fields(r.Stdout)
	assert.Contains(t, ids, ShortID(s.busybox.ID), "images -q prints the IDs")
	assert.Contains(t, ids, ShortID(s.config.ID), "images -q prints the IDs")
	for _, id := range ids {
		assert.Regexp(t, `^[0-9a-f]{12}$`, id, "images -q prints 12 digits a line:\n%s", r)
	}
	r = Run(t, "images", "docker.io/library/busybox")
	require.Equal(t, 0, r.Code, r)
	assert.Regexp(t, `(?m)^busybox\s+latest\s+`+ShortID(s.busybox.ID), r.Stdout, "images REPOSITORY lists that repository's images, as docker images")
	assert.NotContains(t, r.Stdout, "boxcraft/config", "and no other")
	r = Run(t, "images", "-q", "boxcraft/config:v1")
	assert.Equal(t, ShortID(s.config.ID)+"\n", r.Stdout, "images -q REPOSITORY:TAG: %s", r)
	assert.Empty(t, Run(t, "images", "-q", "boxcraft/config:v2").Stdout, "a tag no image has")

	own := formLayer(t, "rmi-me")
	doomed := newNamedImage(t, "docker.io/boxcraft/rmi-me:1", imageSettings{Env: []string{dockerPath}}, s.base, own)
	loaded(t, Run(t, "load", "-i", doomed.layout(t)), "Loaded image: boxcraft/rmi-me:1")
	require.Len(t, layerFolders(t, DiffID(own)), 1, "the image's own layer is in the store, named by its diffID's hex")
	user := "rmi-user"
	r = Run(t, "run", "--name", user, "boxcraft/rmi-me:1", "true")
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", user) })
	assertFailedOneLine(t, Run(t, "rmi", "boxcraft/rmi-me:1"), 125)
	assert.NotNil(t, imageRow(imageRows(t), "boxcraft/rmi-me", "1"), "a refused rmi leaves the image, which a container uses")
	catForm(t, "boxcraft/rmi-me:1", "rmi-me")

	require.Equal(t, 0, Run(t, "rm", user).Code)
	r = Run(t, "rmi", "boxcraft/rmi-me:1")
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stdout, "Untagged: boxcraft/rmi-me:1\n", "rmi prints what it untagged, as docker rmi does")
	assert.Contains(t, r.Stdout, "Deleted: "+doomed.ID+"\n", "rmi prints the image it deleted")
	assert.Nil(t, imageRow(imageRows(t), "boxcraft/rmi-me", "1"), "images no longer lists it")
	assertFailedOneLine(t, Run(t, "run", "--rm", "boxcraft/rmi-me:1", "true"), 125, "rmi-me")
	assert.Empty(t, layerFolders(t, DiffID(own)), "a deleted image's layer that no other image has goes from the store")
	assert.Len(t, layerFolders(t, DiffID(s.base)), 1, "the layer busybox shares stays")

	assertFailedOneLine(t, Run(t, "rmi", "no-such-image:1"), 125, "no-such-image")
}
