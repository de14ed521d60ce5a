package testkit

// Build is the end-to-end suite of boxcraft build (issue 22): a layer per
// RUN, COPY and ADD, the cache (CACHED on an unchanged rebuild; a changed
// COPY invalidates only the steps after it), a failing RUN that leaves
// nothing, multi-stage FROM scratch with COPY --from, and instructions
// refused by line. It needs no registry: the base image is loaded.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildSuite is what the subtests share: the top test's sandbox and the
// number of layers of the base image.
type buildSuite struct {
	top *testing.T
}

// buildDockerfile is a multi-step build: 3 layers on the base image.
const buildDockerfile = `FROM boxcraft/base:1
ARG GREETING=hello
ENV WHO=learner
WORKDIR /app
COPY --chown=1000:1000 *.txt ./
RUN echo "$GREETING $WHO" > greeting
COPY src/ ./src/
RUN ["sh", "-c", "ls /app/src > listing"]
CMD ["sh", "-c", "cat greeting listing a.txt; stat -c %u a.txt; ls"]
`

// Build checks boxcraft build end to end.
func Build(t *testing.T) {
	RequireRoot(t)
	base := newNamedImage(t, "docker.io/boxcraft/base:1", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, BaseLayer(t))
	loaded(t, Run(t, "load", "-i", base.layout(t)), "Loaded image: boxcraft/base:1")
	s := &buildSuite{top: t}
	t.Run("LayersAndRun", s.layers)
	t.Run("FailingRunLeavesNothing", s.failing)
	t.Run("MultiStageFromScratch", s.multiStage)
	t.Run("AddUnpacksArchive", s.addArchive)
	t.Run("ChownByName", s.chownByName)
	t.Run("Refusals", s.refusals)
}

// buildContext writes a context: the Dockerfile, a.txt, b.txt (left out
// by .dockerignore) and src/.
func buildContext(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"Dockerfile": dockerfile, "a.txt": "a\n", "b.txt": "b\n", ".dockerignore": "b.txt\n", "src/one": "1\n", "src/two": "2\n"}
	for name, body := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	return dir
}

// layers builds the multi-step Dockerfile: 3 layers more than the base,
// and the image runs with its config; a rebuild is all CACHED and the
// same image; a changed src/ rebuilds only its COPY and the RUN after.
func (s *buildSuite) layers(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := buildContext(t, buildDockerfile)
	r := Run(t, "build", "-t", "built:1", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stdout, "Step 9/9 : CMD")
	assert.Contains(t, r.Stdout, "Successfully tagged built:1")
	assert.Len(t, diffIDs(t, "built:1"), len(diffIDs(t, "boxcraft/base:1"))+4, "a layer per COPY and RUN")
	r = Run(t, "run", "--rm", "built:1")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "hi learner\none\ntwo\na\n1000\na.txt\ngreeting\nlisting\nsrc\n", r.Stdout, "ENV, ARG, WORKDIR, COPY --chown, .dockerignore and CMD")

	id := imageID(t, "built:1")
	r = Run(t, "build", "-t", "built:1", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, 4, strings.Count(r.Stdout, "CACHED"), "every layer step is cached:\n%s", r.Stdout)
	assert.Equal(t, id, imageID(t, "built:1"), "an unchanged rebuild is the same image")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "src/two"), []byte("changed\n"), 0o644))
	r = Run(t, "build", "-t", "built:2", "--build-arg", "GREETING=hi", dir)
	require.Equal(t, 0, r.Code, r)
	steps := regexp.MustCompile(`(?m)^Step (\d)/9 : (\w+)[^\n]*\n ---> (CACHED)?`).FindAllStringSubmatch(r.Stdout, -1)
	var cached []string
	for _, m := range steps {
		cached = append(cached, m[2]+"="+map[bool]string{true: "cached", false: "built"}[m[3] != ""])
	}
	assert.Equal(t, []string{"COPY=cached", "RUN=cached", "COPY=built", "RUN=built"}, cached, "only the steps after the changed COPY are built again:\n%s", r.Stdout)
}

// diffIDs are the stored image's layers, as inspect shows them
// (RootFS.Layers, as docker inspect), each quoted.
func diffIDs(t *testing.T, name string) []string {
	t.Helper()
	r := Run(t, "inspect", "-f", "{{range .RootFS.Layers}}\"{{.}}\" {{end}}", name)
	require.Equal(t, 0, r.Code, r)
	return strings.Fields(r.Stdout)
}

// failing: a RUN that fails names its step and line, shows its output
// and status, and leaves no container, layer or image.
func (s *buildSuite) failing(t *testing.T) {
	ShareSandbox(t, s.top)
	store := filepath.Join(StateDir(t), "lib", "store")
	before := storeFiles(t, store)
	dir := buildContext(t, "FROM boxcraft/base:1\nRUN echo to stdout; echo to stderr >&2; exit 3\n")
	r := Run(t, "build", "-t", "broken:1", dir)
	assert.Equal(t, 125, r.Code, r)
	// Its stdout and stderr come through two pipes: in either order.
	assert.Contains(t, r.Stdout, "to stdout\n", "the step's output is shown")
	assert.Contains(t, r.Stdout, "to stderr\n", "the step's errors are shown")
	assert.Regexp(t, `^boxcraft: build: step 2/2 \(line 2\) RUN: .*returned a non-zero code: 3\n$`, r.Stderr)
	assert.Equal(t, "", Run(t, "ps", "-a", "-q").Stdout, "no container is left")
	assert.Equal(t, before, storeFiles(t, store), "no layer, blob or image is left")
}

// multiStage builds FROM scratch with files copied from an earlier stage:
// the image has just those layers, and runs.
func (s *buildSuite) multiStage(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := buildContext(t, `FROM boxcraft/base:1 AS tools
RUN mkdir -p /out && echo made > /out/made
FROM scratch
COPY --from=tools /bin/ /bin/
COPY --from=0 /out/made /made
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /made"]
`)
	r := Run(t, "build", "-t", "staged:1", dir)
	require.Equal(t, 0, r.Code, r)
	assert.Len(t, diffIDs(t, "staged:1"), 2, "FROM scratch: only the two COPY layers")
	r = Run(t, "run", "--rm", "staged:1")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "made\n", r.Stdout)
}

// addArchive: ADD unpacks a local tar archive (gzip here) into its
// destination, and copies any other file as it is.
func (s *buildSuite) addArchive(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := buildContext(t, "FROM boxcraft/base:1\nADD bundle.tgz a.txt /opt/\nCMD [\"sh\", \"-c\", \"cat /opt/sub/inside /opt/a.txt; ls /opt\"]\n")
	bundle := Gzip(t, Tar(t, TarEntry{Name: "sub/", Type: '5', Mode: 0o755}, TarEntry{Name: "sub/inside", Body: "inside\n"}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bundle.tgz"), bundle, 0o644))
	r := Run(t, "build", "-t", "added:1", dir)
	require.Equal(t, 0, r.Code, r)
	r = Run(t, "run", "--rm", "added:1")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "inside\na\na.txt\nsub\n", r.Stdout, "the archive's files, not the archive")
}

// chownByName: COPY and ADD --chown take names, looked up in the image
// being built's /etc/passwd and /etc/group (here, a user and a group an
// earlier RUN added), after ARG expansion: a lone user brings its
// primary group.
func (s *buildSuite) chownByName(t *testing.T) {
	ShareSandbox(t, s.top)
	dir := buildContext(t, `FROM boxcraft/base:1
RUN echo 'learner:x:4321:5432::/home/learner:/bin/sh' >> /etc/passwd && echo 'crew:x:6543:' >> /etc/group
ARG OWNER=learner
COPY --chown=$OWNER a.txt /owned/user
ADD --chown=learner:crew a.txt /owned/both
COPY --chown=7:crew a.txt /owned/mixed
CMD ["stat", "-c", "%n %u:%g", "/owned/user", "/owned/both", "/owned/mixed"]
`)
	r := Run(t, "build", "-t", "chowned:1", dir)
	require.Equal(t, 0, r.Code, r)
	r = Run(t, "run", "--rm", "chowned:1")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "/owned/user 4321:5432\n/owned/both 4321:6543\n/owned/mixed 7:6543\n", r.Stdout)
}

// refusals: an instruction boxcraft does not build, and a missing file,
// each named with its line; RUN on scratch; no context.
func (s *buildSuite) refusals(t *testing.T) {
	ShareSandbox(t, s.top)
	for dockerfile, want := range map[string]string{
		"FROM boxcraft/base:1\n\nHEALTHCHECK CMD true\n": "(line 3) HEALTHCHECK: HEALTHCHECK is not an instruction",
		"RUN true\n": "(line 1) RUN: comes before the first FROM",
	} {
		assertFailedOneLine(t, Run(t, "build", buildContext(t, dockerfile)), 125, want)
	}
	// These are found as the build goes: the steps before are shown.
	for dockerfile, want := range map[string]string{
		"FROM boxcraft/base:1\nCOPY missing /x\n":                   "(line 2) COPY: missing: no such file",
		"FROM scratch\nRUN true\n":                                  "(line 2) RUN: the image has no layers yet",
		"FROM boxcraft/base:1\nCOPY --chown=nobody-here a.txt /x\n": "(line 2) COPY: --chown=nobody-here: unable to find user nobody-here",
	} {
		r := Run(t, "build", buildContext(t, dockerfile))
		assert.Equal(t, 125, r.Code, r)
		assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr:\n%s", r)
		assert.Contains(t, r.Stderr, want)
	}
	assertFailedOneLine(t, Run(t, "build", filepath.Join(t.TempDir(), "none")), 125, "not a folder")
	assert.Equal(t, "", Run(t, "ps", "-a", "-q").Stdout, "no container is left")
}
