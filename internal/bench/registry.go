package main

// boxcraft's figures of images from registries and Dockerfiles (issue
// 22): a pull from a local registry against skopeo and umoci, and a
// fully cached rebuild.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/boxcraft/boxcraft/internal/oci"
)

// The pulled image: pullLayers layers of pullFiles files of 10 kB of
// random bytes each (incompressible, so its gzip blobs are as large),
// about 100 MB in all.
const (
	pullLayers = 5
	pullFiles  = 2_000
	pullRepo   = "bench/big:1"
)

// localRegistry is a docker-registry the bench started.
type localRegistry struct {
	host string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	dir  string // its config, storage and log
}

// startRegistry starts Debian's docker-registry (the CNCF distribution
// server) on a free loopback port, with its config and storage in dir.
// The bench runs in boxcraft's network namespace (make bench
// BOXCRAFT_OWN_NETNS=1), so the registry listens on that namespace's
// loopback, which boxcraft pull reaches. stop kills it and removes dir;
// it is killed too if the bench dies (Pdeathsig).
func startRegistry(dir string) (r *localRegistry, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	r = &localRegistry{host: l.Addr().String(), dir: dir}
	l.Close()
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "storage"), r.host)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	defer log.Close()
	r.cmd = exec.Command("docker-registry", "serve", path)
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("start docker-registry: %w", err)
	}
	stop = func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		os.RemoveAll(dir)
	}
	if err := r.waitUntilUp(); err != nil {
		logged, _ := os.ReadFile(log.Name())
		stop()
		return nil, nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(string(logged)))
	}
	return r, stop, nil
}

// waitUntilUp waits until the registry answers /v2/.
func (r *localRegistry) waitUntilUp() error {
	client := http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get("http://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return errors.New("docker-registry did not answer /v2/ in 30 s")
}

// pushImage writes the image as an OCI layout with internal/oci and
// pushes it with skopeo; it returns the layers' blob digests, bottom
// first, and their size in all.
func (r *localRegistry) pushImage(layout string) (digests []string, size int, err error) {
	if err := oci.WriteLayout(layout, true, randomLayers()); err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(layout)
	layers, err := layoutLayers(layout)
	if err != nil {
		return nil, 0, err
	}
	for _, l := range layers {
		digests = append(digests, strings.TrimPrefix(l.Digest, "sha256:"))
		size += l.Size
	}
	out, err := exec.Command("skopeo", "copy", "-q", "--dest-tls-verify=false", "oci:"+layout+":latest", "docker://"+r.host+"/"+pullRepo).CombinedOutput()
	if err != nil {
		return nil, 0, fmt.Errorf("skopeo copy to the registry: %v: %s", err, out)
	}
	return digests, size, nil
}

// layoutLayers reads the layers of the one image of an OCI layout.
func layoutLayers(layout string) ([]oci.Descriptor, error) {
	var index struct{ Manifests []oci.Descriptor }
	var manifest struct{ Layers []oci.Descriptor }
	data, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err == nil {
		err = json.Unmarshal(data, &index)
	}
	if err == nil && len(index.Manifests) != 1 {
		err = fmt.Errorf("%d manifests", len(index.Manifests))
	}
	if err == nil {
		data, err = os.ReadFile(filepath.Join(layout, oci.Blob{Descriptor: index.Manifests[0]}.Name()))
	}
	if err == nil {
		err = json.Unmarshal(data, &manifest)
	}
	if err != nil {
		return nil, fmt.Errorf("read the layout %s: %w", layout, err)
	}
	return manifest.Layers, nil
}

// randomLayers are the pulled image's layers, each its own folder of
// files, so that no layer hides another's.
func randomLayers() [][]byte {
	random := rand.New(rand.NewSource(22))
	content := make([]byte, 10_000)
	var layers [][]byte
	for l := range pullLayers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for f := range pullFiles {
			random.Read(content)
			name := fmt.Sprintf("layer%d/d%02d/f%03d", l, f/100, f%100)
			_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
			_, _ = tw.Write(content)
		}
		_ = tw.Close()
		layers = append(layers, buf.Bytes())
	}
	return layers
}

// registryPull is figure 16: boxcraft pull of the image from the local
// registry into an empty state folder, against skopeo copy to an OCI
// layout and umoci unpack (or GNU tar of each layer) of the same image.
func (s *b) registryPull() error {
	y, done, err := s.bx.inTmpfs("bx-registry")
	if err != nil {
		return err
	}
	defer done()
	r, stop, err := startRegistry(filepath.Join(y.dir, "registry"))
	if err != nil {
		return err
	}
	defer stop()
	digests, size, err := r.pushImage(filepath.Join(y.dir, "layout"))
	if err != nil {
		return err
	}
	ref := r.host + "/" + pullRepo
	puller := &boxcraft{bin: y.bin, dir: filepath.Join(y.dir, "pull"), parent: y.parent}
	layout, unpacked := filepath.Join(y.dir, "skopeo"), filepath.Join(y.dir, "unpacked")
	skopeo := fmt.Sprintf("skopeo copy -q --src-tls-verify=false docker://%s oci:%s:1", ref, layout)
	anchors := map[string]string{
		"umoci": fmt.Sprintf("%s && umoci unpack --image %s:1 %s", skopeo, layout, unpacked),
		"tar":   fmt.Sprintf("%s && mkdir %s && for b in %s; do tar -xzf %s/blobs/sha256/$b -C %s || exit; done", skopeo, unpacked, strings.Join(digests, " "), layout, unpacked),
	}
	_, umociErr := exec.LookPath("umoci")
	commands := map[string]func() *exec.Cmd{
		"boxcraft": func() *exec.Cmd { os.RemoveAll(puller.dir); return puller.cmd("pull", ref)() },
	}
	for name, script := range anchors {
		if name == "umoci" && umociErr != nil {
			continue
		}
		commands[name] = func() *exec.Cmd {
			os.RemoveAll(layout)
			os.RemoveAll(unpacked)
			return exec.Command("sh", "-c", script)
		}
	}
	results, err := inTurn(s.runs, commands)
	if err != nil {
		return err
	}
	s.pullRows(results, size)
	return nil
}

// pullRows writes figure 16.
func (s *b) pullRows(results map[string]durations, size int) {
	s.section("16. boxcraft: pull from a registry",
		fmt.Sprintf("`boxcraft pull 127.0.0.1:PORT/%s`, an image of %d gzip layers, %.0f MB in all (%d,000 files of 10 kB of random bytes each), from Debian's docker-registry on the loopback of bench's network namespace, its storage, the state folders and the anchors' output in one tmpfs; each pull into an empty state folder: the manifest, then each blob streamed into the store (3 at a time), its digest checked as it streams, and unpacked. The anchor: `skopeo copy docker://… oci:DIR:1` (the blobs into an OCI layout) and `umoci unpack` of it into a runtime bundle (which also walks the root it made to write an mtree manifest of it); and, without a goal, `skopeo copy` and GNU `tar -xzf` of each layer into one folder. The image was pushed to the registry once, with skopeo, from an OCI layout written by internal/oci.", pullRepo, pullLayers, float64(size)/1e6, pullLayers*pullFiles/1000),
		ratioTable)
	if umoci, ok := results["umoci"]; ok {
		s.row("boxcraft pull", results["boxcraft"], umoci, "skopeo copy + umoci unpack", 1.0)
		s.row("boxcraft pull", results["boxcraft"], results["tar"], "skopeo copy + tar -xz", 0)
	} else {
		s.row("boxcraft pull", results["boxcraft"], results["tar"], "skopeo copy + tar -xz", 1.0)
	}
	fmt.Fprintf(&s.report, "\nboxcraft pulls %.0f MB/s.\n", float64(size)/1e6/results["boxcraft"].median().Seconds())
}

// rebuildDockerfile is figure 17's build: 10 steps, 4 of them layers.
const rebuildDockerfile = `FROM busybox
ARG GREETING=hello
ENV APP=/app
WORKDIR /app
COPY a.txt ./
RUN echo "$GREETING" > greeting
COPY src/ ./src/
RUN ls src > listing
LABEL bench=rebuild
CMD ["cat", "greeting"]
`

// cachedRebuild is figure 17: boxcraft build of a 10-step Dockerfile
// whose every step is cached, against boxcraft images.
func (s *b) cachedRebuild() error {
	y, done, err := s.bx.inTmpfs("bx-build")
	if err != nil {
		return err
	}
	defer done()
	if _, err := y.output("import", s.image, "busybox"); err != nil {
		return err
	}
	dir, err := rebuildContext(filepath.Join(y.dir, "context"))
	if err != nil {
		return err
	}
	for i := range 2 { // the first builds; the second checks all is cached
		out, err := y.output("build", "-t", "rebuilt:1", dir)
		if err != nil {
			return err
		}
		if n := strings.Count(out, "CACHED"); i == 1 && n != 4 {
			return fmt.Errorf("a rebuild cached %d of the 4 layer steps:\n%s", n, out)
		}
	}
	results, err := inTurn(s.runs, map[string]func() *exec.Cmd{
		"build":  y.cmd("build", "-t", "rebuilt:1", dir),
		"images": y.cmd("images"),
	})
	if err != nil {
		return err
	}
	build := results["build"]
	s.section("17. boxcraft: a fully cached rebuild",
		"`boxcraft build -t rebuilt:1 CONTEXT` of a 10-step Dockerfile (FROM busybox, ARG, ENV, WORKDIR, COPY of a file, RUN, COPY of a folder of 100 files of 1 kB, RUN, LABEL, CMD: 4 layers), built once before: every step is CACHED, so the figure is the parse, the cache keys (a COPY's key hashes its files) and the tag. State in a tmpfs. The anchor is `boxcraft images`, what any boxcraft command costs (a Go program's start, the state folder's lock, the image records read); the goal is absolute: a median of at most 100 ms.",
		ratioTable)
	s.row("boxcraft build, all cached", build, results["images"], "boxcraft images", 0)
	fmt.Fprintf(&s.report, "\nThe cached rebuild's median: %s (goal ≤ 100 ms: %s).\n", round(build.median()), verdict(build.median() <= 100*time.Millisecond))
	return nil
}

// rebuildContext writes figure 17's build context in dir.
func rebuildContext(dir string) (string, error) {
	files := map[string]string{"Dockerfile": rebuildDockerfile, "a.txt": "a\n"}
	for i := range 100 {
		files["src/f"+strconv.Itoa(i)] = strings.Repeat(strconv.Itoa(i%10), 1_000)
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
