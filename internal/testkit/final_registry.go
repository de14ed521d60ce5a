package testkit

// Registry is the end-to-end suite of boxcraft pull, push and login
// (issue 22), against a real registry the kit starts (final_registry_kit.go),
// filled by skopeo and by boxcraft push: Docker schema2 and OCI manifests,
// gzip and zstd layers, a multi-platform index, a tampered blob, a
// connection dropped mid-blob, a missing tag, basic auth.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registrySuite is what the subtests share: the top test's sandbox, its
// registry, and the base image saved as docker save writes it.
type registrySuite struct {
	top   *testing.T
	reg   testRegistry
	saved string // boxcraft/base:1, as a docker save tarball
	id    string // its ID
}

// Registry checks pull, push and login against docker-registry.
func Registry(t *testing.T) {
	RequireRoot(t)
	base := newNamedImage(t, "docker.io/boxcraft/base:1", imageSettings{Env: []string{dockerPath}, Cmd: []string{"/bin/sh"}}, BaseLayer(t))
	loaded(t, Run(t, "load", "-i", base.layout(t)), "Loaded image: boxcraft/base:1")
	s := &registrySuite{top: t, reg: StartRegistry(t, ""), saved: filepath.Join(t.TempDir(), "base.tar"), id: base.ID}
	r := Run(t, "save", "-o", s.saved, "boxcraft/base:1")
	require.Equal(t, 0, r.Code, r)
	t.Run("PullSchema2Gzip", func(t *testing.T) { s.pullFormat(t, "s2", "--format", "v2s2") })
	t.Run("PullOCIZstd", func(t *testing.T) { s.pullFormat(t, "zstd", "--format", "oci", "--dest-compress-format", "zstd") })
	t.Run("PullMultiPlatform", s.multiPlatform)
	t.Run("PullIntoAClosedPipe", s.pullIntoAClosedPipe)
	t.Run("PullRefusals", s.refusals)
	t.Run("PullTamperedBlob", s.tampered)
	t.Run("PullResumesDroppedConnection", s.dropped)
	t.Run("PushAndPullBack", s.pushBack)
	t.Run("LoginBasicAuth", s.basicAuth)
	t.Run("LoginBearerToken", s.bearerToken)
	t.Run("BuiltImageSavedReadsInSkopeo", s.builtImageSaved)
}

// pullFormat pushes the base image with skopeo in a format, pulls it
// with boxcraft, and runs it: its ID is the one loaded (same config).
func (s *registrySuite) pullFormat(t *testing.T, repo string, skopeoFlags ...string) {
	ShareSandbox(t, s.top)
	name := s.reg.Host + "/" + repo + ":1"
	Skopeo(t, append(skopeoFlags, "docker-archive:"+s.saved, "docker://"+name)...)
	r := Run(t, "pull", name)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, name+"\n", r.Stdout, "pull prints the image's full name")
	assert.Equal(t, s.configDigest(t, repo, "1"), imageID(t, name), "the pulled image is the pushed one (skopeo rewrites the config for OCI)")
	r = Run(t, "run", "--rm", name, "sh", "-c", "echo ran")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "ran\n", r.Stdout)
	r = Run(t, "pull", name)
	require.Equal(t, 0, r.Code, r)
	assert.Contains(t, r.Stderr, "Already exists", "a stored layer is not fetched again")
}

// pullIntoAClosedPipe runs an image not yet stored, its output and the
// pull's progress (boxcraft-registry's, on boxcraft's stderr) into a
// pipe whose reader takes the first line and goes (2>&1 | head -1): the
// helper is not killed by the SIGPIPE of its progress, so the pull ends
// and the image is stored, and the run goes on (not 125).
func (s *registrySuite) pullIntoAClosedPipe(t *testing.T) {
	ShareSandbox(t, s.top)
	name := s.reg.Host + "/closed:1"
	Skopeo(t, "docker-archive:"+s.saved, "docker://"+name)
	code := runIntoHead(t, []string{"run", "--rm", name, "sh", "-c", "echo ran; exit 3"}, true, 1)
	assert.Equal(t, 3, code, "the pull ended and the container ran")
	assert.Equal(t, s.configDigest(t, "closed", "1"), imageID(t, name), "the image is stored")
}

// configDigest is the config's digest that the registry's manifest names.
func (s *registrySuite) configDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	manifest := Curl(t, "-H", "Accept: application/vnd.oci.image.manifest.v1+json", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json",
		"http://"+s.reg.Host+"/v2/"+repo+"/manifests/"+tag)
	var m struct {
		Config struct{ Digest string } `json:"config"`
	}
	require.NoError(t, json.Unmarshal([]byte(manifest), &m))
	return m.Config.Digest
}

// imageID is the stored image's ID, as inspect shows it.
func imageID(t *testing.T, name string) string {
	t.Helper()
	r := Run(t, "inspect", name)
	require.Equal(t, 0, r.Code, r)
	var images []struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &images))
	require.Len(t, images, 1)
	return images[0].ID
}

// multiPlatform writes an OCI index of two platforms (this machine's,
// and another whose config says so) and pulls it: this machine's by
// default, the other with --platform, none for a platform not listed.
func (s *registrySuite) multiPlatform(t *testing.T) {
	ShareSandbox(t, s.top)
	repo := s.reg.Host + "/multi"
	Skopeo(t, "--format", "oci", "docker-archive:"+s.saved, "docker://"+repo+":native")
	accept := "Accept: application/vnd.oci.image.manifest.v1+json"
	native := Curl(t, "-H", accept, "http://"+s.reg.Host+"/v2/multi/manifests/native")
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	var manifest map[string]any
	require.NoError(t, json.Unmarshal([]byte(native), &manifest))
	nativeID := manifest["config"].(map[string]any)["digest"].(string)
	config := Curl(t, "http://"+s.reg.Host+"/v2/multi/blobs/"+nativeID)
	otherConfig := strings.Replace(config, `"architecture":"`+runtime.GOARCH+`"`, `"architecture":"`+other+`"`, 1)
	require.NotEqual(t, config, otherConfig)
	s.uploadBlob(t, "multi", otherConfig)
	manifest["config"].(map[string]any)["digest"], manifest["config"].(map[string]any)["size"] = digestOf(otherConfig), len(otherConfig)
	otherManifest := mustJSON(t, manifest)
	s.putManifest(t, "multi", "other", "application/vnd.oci.image.manifest.v1+json", otherManifest)
	entry := func(m, arch string) map[string]any {
		return map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digestOf(m), "size": len(m),
			"platform": map[string]string{"os": "linux", "architecture": arch}}
	}
	index := mustJSON(t, map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{entry(otherManifest, other), entry(native, runtime.GOARCH)}})
	s.putManifest(t, "multi", "latest", "application/vnd.oci.image.index.v1+json", index)

	r := Run(t, "pull", repo)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, nativeID, imageID(t, repo), "this machine's platform is chosen from the index")
	r = Run(t, "pull", "--platform", "linux/"+other, repo)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, digestOf(otherConfig), imageID(t, repo), "--platform chooses the other")
	assertFailedOneLine(t, Run(t, "pull", "--platform", "linux/s390x", repo), 125, "no matching manifest for linux/s390x")
}

// uploadBlob uploads data as a blob of repo: POST, then PUT with its digest.
func (s *registrySuite) uploadBlob(t *testing.T, repo, data string) {
	t.Helper()
	headers := Curl(t, "-X", "POST", "-D", "-", "-o", "/dev/null", "http://"+s.reg.Host+"/v2/"+repo+"/blobs/uploads/")
	location := regexp.MustCompile(`(?mi)^Location: (\S+)`).FindStringSubmatch(headers)
	require.NotNil(t, location, headers)
	sep := "?"
	if strings.Contains(location[1], "?") {
		sep = "&"
	}
	url := location[1] + sep + "digest=" + digestOf(data)
	if strings.HasPrefix(url, "/") {
		url = "http://" + s.reg.Host + url
	}
	Curl(t, "-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", data, url)
}

func (s *registrySuite) putManifest(t *testing.T, repo, tag, mediaType, data string) {
	t.Helper()
	Curl(t, "-X", "PUT", "-H", "Content-Type: "+mediaType, "--data-binary", data, "http://"+s.reg.Host+"/v2/"+repo+"/manifests/"+tag)
}

func digestOf(data string) string {
	sum := sha256.Sum256([]byte(data))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return string(data)
}

// refusals: a missing tag, a missing repository, a bad name, one line
// each and status 125, and no image.
func (s *registrySuite) refusals(t *testing.T) {
	ShareSandbox(t, s.top)
	Skopeo(t, "docker-archive:"+s.saved, "docker://"+s.reg.Host+"/there:1")
	assertFailedOneLine(t, Run(t, "pull", s.reg.Host+"/there:2"), 125, "not found", "no such tag")
	assertFailedOneLine(t, Run(t, "pull", s.reg.Host+"/nothere"), 125, "unknown image")
	assertFailedOneLine(t, Run(t, "pull", s.reg.Host+"/Bad"), 125, "lower case")
	assert.NotContains(t, Run(t, "images").Stdout, "there", "nothing is named")
}

// tampered: a blob changed in the registry's storage is refused on its
// digest, and nothing of it is stored.
func (s *registrySuite) tampered(t *testing.T) {
	ShareSandbox(t, s.top)
	store := filepath.Join(StateDir(t), "lib", "store")
	s.pushOwnImage(t, "tampered")
	manifest := Curl(t, "-H", "Accept: application/vnd.oci.image.manifest.v1+json", "http://"+s.reg.Host+"/v2/tampered/manifests/1")
	var m struct{ Layers []struct{ Digest string } }
	require.NoError(t, json.Unmarshal([]byte(manifest), &m))
	require.Len(t, m.Layers, 1)
	hex := strings.TrimPrefix(m.Layers[0].Digest, "sha256:")
	blob := filepath.Join(s.reg.Storage, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")
	data, err := os.ReadFile(blob)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(blob, data, 0o644))
	t.Cleanup(func() { data[len(data)/2] ^= 0xff; _ = os.WriteFile(blob, data, 0o644) })
	before := storeFiles(t, store)
	assertFailedOneLine(t, Run(t, "pull", s.reg.Host+"/tampered:1"), 125, "digest")
	assert.Equal(t, before, storeFiles(t, store), "a refused pull leaves nothing in the store")
}

// pushOwnImage pushes to repo:1 an image of a layer of its own, 256 kB
// of random bytes, which the store has not got; it returns its ID.
func (s *registrySuite) pushOwnImage(t *testing.T, repo string) string {
	t.Helper()
	random := make([]byte, 256<<10)
	_, err := rand.Read(random)
	require.NoError(t, err)
	own := newNamedImage(t, "docker.io/boxcraft/"+repo+":1", imageSettings{}, Tar(t, TarEntry{Name: "random", Body: string(random)}))
	Skopeo(t, "--format", "oci", "docker-archive:"+own.dockerSave(t, "boxcraft/"+repo+":1"), "docker://"+s.reg.Host+"/"+repo+":1")
	return s.configDigest(t, repo, "1")
}

// dropped: through a proxy that cuts every blob's first download, the
// pull resumes where it broke (a Range request) and succeeds.
func (s *registrySuite) dropped(t *testing.T) {
	ShareSandbox(t, s.top)
	id := s.pushOwnImage(t, "dropped")
	proxy, log := StartDroppingProxy(t, s.reg.Host)
	r := Run(t, "pull", proxy+"/dropped:1")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, id, imageID(t, proxy+"/dropped:1"))
	events, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(events), "CUT GET", "the proxy cut a blob's download")
	assert.Contains(t, string(events), "Range: bytes=", "the pull asked for the rest, not for it all again:\n%s", events)
}

// pushBack: an image committed from a container is pushed, read by
// skopeo, pushed again (no blob uploaded), removed and pulled back.
func (s *registrySuite) pushBack(t *testing.T) {
	ShareSandbox(t, s.top)
	name := s.reg.Host + "/pushed:1"
	r := Run(t, "run", "--name", "push-maker", "boxcraft/base:1", "sh", "-c", "echo pushed > /pushed")
	require.Equal(t, 0, r.Code, r)
	t.Cleanup(func() { Run(t, "rm", "-f", "push-maker") })
	require.Equal(t, 0, Run(t, "commit", "push-maker", name).Code)
	id := imageID(t, name)
	r = Run(t, "push", name)
	require.Equal(t, 0, r.Code, r)
	assert.Regexp(t, `^`+regexp.QuoteMeta(name)+`: digest: sha256:[0-9a-f]{64}\n$`, r.Stdout)
	inspect := RunCmd(t, HostCommand(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+name))
	require.Equal(t, 0, inspect.Code, inspect)
	assert.Contains(t, inspect.Stdout, `"Layers"`)

	proxy, log := StartDroppingProxy(t, s.reg.Host)
	require.Equal(t, 0, Run(t, "tag", name, proxy+"/pushed:1").Code)
	r = Run(t, "push", proxy+"/pushed:1")
	require.Equal(t, 0, r.Code, r)
	events, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.NotContains(t, string(events), "/blobs/uploads/", "blobs the registry has are not uploaded again")

	require.Equal(t, 0, Run(t, "rmi", name, proxy+"/pushed:1").Code)
	r = Run(t, "run", "--rm", name, "cat", "/pushed")
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, "pushed\n", r.Stdout, "run pulls an image it does not have")
	assert.Contains(t, r.Stderr, "Unable to find image")
	assert.Equal(t, id, imageID(t, name), "the image pulled back is the one pushed")
}

// basicAuth: a registry with htpasswd refuses a pull without
// credentials and a login with a wrong password; login keeps the right
// ones in $DOCKER_CONFIG/config.json, and the pull then works.
func (s *registrySuite) basicAuth(t *testing.T) {
	ShareSandbox(t, s.top)
	hash, err := exec.Command("htpasswd", "-Bbn", tokenUser, tokenSecret).Output()
	require.NoError(t, err)
	s.loginAndPull(t, StartRegistry(t, string(hash)))
}

// bearerToken: the same against a registry that takes tokens of the
// kit's token server, which gives one for the repository's pull scope.
func (s *registrySuite) bearerToken(t *testing.T) {
	ShareSandbox(t, s.top)
	reg, log := StartTokenRegistry(t)
	s.loginAndPull(t, reg)
	tokens, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Contains(t, string(tokens), "token for learner: repository:private:pull", "boxcraft asked for a token for the pull's scope")
}

// loginAndPull pushes the base image to a registry that needs
// credentials, then: a pull without them and a login with a wrong
// password are refused; login keeps the right ones in
// $DOCKER_CONFIG/config.json, and the pull then works.
func (s *registrySuite) loginAndPull(t *testing.T, reg testRegistry) {
	t.Helper()
	name := reg.Host + "/private:1"
	r := RunCmd(t, HostCommand(t, "skopeo", "copy", "-q", "--dest-tls-verify=false", "--dest-creds", tokenUser+":"+tokenSecret, "docker-archive:"+s.saved, "docker://"+name))
	require.Equal(t, 0, r.Code, r)
	config := t.TempDir()
	run := func(args ...string) Result {
		cmd := Command(t, args...)
		cmd.Env = append(cmd.Env, "DOCKER_CONFIG="+config)
		return RunCmd(t, cmd)
	}
	assertFailedOneLine(t, run("pull", name), 125, "unauthorized")
	assertFailedOneLine(t, run("login", "-u", tokenUser, "-p", "wrong", reg.Host), 125, "unauthorized")
	r = run("login", "-u", tokenUser, "-p", tokenSecret, reg.Host)
	require.Equal(t, 0, r.Code, r)
	saved, err := os.ReadFile(filepath.Join(config, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(saved), reg.Host, "the credentials are kept under the registry's name")
	r = run("pull", name)
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, s.id, imageID(t, name))
}

// builtImageSaved: an image boxcraft built, saved with boxcraft save,
// reads in skopeo as a docker-archive.
func (s *registrySuite) builtImageSaved(t *testing.T) {
	ShareSandbox(t, s.top)
	r := Run(t, "build", "-t", "saved-build:1", buildContext(t, buildDockerfile))
	require.Equal(t, 0, r.Code, r)
	tarball := filepath.Join(t.TempDir(), "built.tar")
	require.Equal(t, 0, Run(t, "save", "-o", tarball, "saved-build:1").Code)
	r = RunCmd(t, HostCommand(t, "skopeo", "inspect", "docker-archive:"+tarball))
	require.Equal(t, 0, r.Code, r)
	assert.Equal(t, len(diffIDs(t, "saved-build:1")), strings.Count(r.Stdout, `"sha256:`)-1, "skopeo reads every layer:\n%s", r.Stdout)
}
