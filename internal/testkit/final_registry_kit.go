package testkit

// The registry the Registry suite pulls from and pushes to: Debian's
// docker-registry (the CNCF distribution server) on a loopback port,
// with its own config and storage in the test's temporary folder,
// started through HostCommand, so that it shares the network namespace
// boxcraft runs in. Everything that speaks to it (curl, skopeo, the
// proxy that drops connections) is started the same way.

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testRegistry is a registry a test started.
type testRegistry struct {
	Host    string // 127.0.0.1:PORT
	Storage string // its storage folder
}

// StartRegistry starts docker-registry; with htpasswd (a file's
// contents) set, it asks for basic auth.
func StartRegistry(t *testing.T, htpasswd string) testRegistry {
	t.Helper()
	if htpasswd == "" {
		return startRegistryWith(t, "")
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	require.NoError(t, os.WriteFile(file, []byte(htpasswd), 0o600))
	return startRegistryWith(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: boxcraft-test\n    path: %s\n", file))
}

// startRegistryWith starts docker-registry with auth, its config's
// auth: section ("" for none).
func startRegistryWith(t *testing.T, auth string) testRegistry {
	t.Helper()
	dir := t.TempDir()
	r := testRegistry{Host: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Storage: filepath.Join(dir, "storage")}
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", r.Storage, r.Host) + auth
	path := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))
	Start(t, HostCommand(t, "docker-registry", "serve", path))
	waitForHTTP(t, "http://"+r.Host+"/v2/")
	return r
}

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitForHTTP waits until url answers (any status), asking with curl
// from the test's network namespace.
func waitForHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		r := RunCmd(t, HostCommand(t, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url))
		if r.Code == 0 && r.Stdout != "000" {
			return
		}
		require.True(t, time.Now().Before(deadline), "%s never answered: %s", url, r)
		time.Sleep(50 * time.Millisecond)
	}
}

// Curl runs curl against the registry, failing the test on an HTTP error.
func Curl(t *testing.T, args ...string) string {
	t.Helper()
	r := RunCmd(t, HostCommand(t, "curl", append([]string{"-sSf"}, args...)...))
	require.Equal(t, 0, r.Code, "curl %v:\n%s", args, r)
	return r.Stdout
}

// Skopeo copies an image, plain HTTP to the test's registry.
func Skopeo(t *testing.T, args ...string) {
	t.Helper()
	args = append([]string{"copy", "-q", "--dest-tls-verify=false", "--src-tls-verify=false"}, args...)
	r := RunCmd(t, HostCommand(t, "skopeo", args...))
	require.Equal(t, 0, r.Code, "skopeo %v:\n%s", args, r)
}

// ProxyEnv names the settings of the proxy that drops connections: the
// test binary serves it when this is set (see ServeDroppingProxy).
const ProxyEnv = "BOXCRAFT_TEST_PROXY"

// StartDroppingProxy starts, through HostCommand, the test binary as a
// proxy to the registry that cuts each blob's first download after
// 32 KiB, and logs each request it sees to a file it returns.
func StartDroppingProxy(t *testing.T, target string) (host, log string) {
	t.Helper()
	host = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	log = filepath.Join(t.TempDir(), "proxy.log")
	cmd := HostCommand(t, os.Args[0])
	cmd.Env = append(cmd.Env, ProxyEnv+"="+strings.Join([]string{host, target, log}, " "))
	Start(t, cmd)
	waitForHTTP(t, "http://"+host+"/v2/")
	return host, log
}

// ServeDroppingProxy serves the proxy ProxyEnv describes; a test
// package's TestMain calls it when ProxyEnv is set.
func ServeDroppingProxy(settings string) error {
	parts := strings.Fields(settings)
	if len(parts) != 3 {
		return fmt.Errorf("%s: want LISTEN TARGET LOG", ProxyEnv)
	}
	log, err := os.OpenFile(parts[2], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: parts[1]})
	var mu sync.Mutex
	cut := map[string]bool{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") && !cut[r.URL.Path]
		cut[r.URL.Path] = true
		event := r.Method + " " + r.URL.Path
		if rng := r.Header.Get("Range"); rng != "" {
			event += " Range: " + rng
		}
		if first {
			event = "CUT " + event
			w = &cuttingWriter{ResponseWriter: w, left: 32 << 10}
		}
		fmt.Fprintln(log, event)
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
	return http.ListenAndServe(parts[0], handler)
}

// cuttingWriter ends the connection once it has written left bytes:
// http.ErrAbortHandler makes the server close it without a word, as a
// dropped connection does.
type cuttingWriter struct {
	http.ResponseWriter
	left int
}

func (c *cuttingWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		n, _ := c.ResponseWriter.Write(p[:c.left])
		c.left -= n
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= len(p)
	return c.ResponseWriter.Write(p)
}
