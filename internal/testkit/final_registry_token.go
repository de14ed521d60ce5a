package testkit

// A token server of the kit's own, for the Registry suite's Bearer auth:
// the registry answers 401 with a WWW-Authenticate challenge naming this
// server's realm; a client asks it, with basic auth, for a token for
// the scopes it needs; the token is a JWT signed with an ECDSA key whose
// self-signed certificate the registry trusts (its rootcertbundle).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TokenEnv names the token server's settings: the test binary serves it
// when this is set (ServeTokens).
const TokenEnv = "BOXCRAFT_TEST_TOKENS"

// Names the token server and the registry agree on.
const (
	tokenService = "boxcraft-test-registry"
	tokenIssuer  = "boxcraft-test-tokens"
	tokenUser    = "learner"
	tokenSecret  = "s3cret"
)

// StartTokenRegistry starts a token server (the test binary, through
// HostCommand) and a registry that trusts its tokens; it returns the
// registry and the token server's log (a line per token given).
func StartTokenRegistry(t *testing.T) (testRegistry, string) {
	t.Helper()
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	writeTokenKey(t, keyFile, certFile)
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	log := filepath.Join(dir, "tokens.log")
	cmd := HostCommand(t, os.Args[0])
	cmd.Env = append(cmd.Env, TokenEnv+"="+strings.Join([]string{host, keyFile, certFile, log}, " "))
	Start(t, cmd)
	waitForHTTP(t, "http://"+host+"/token")
	// The realm by name: go-containerregistry refuses a realm at a
	// private or loopback IP address that is not the registry's own
	// (a token request is a way to reach the host's inside, SSRF).
	realm := strings.Replace(host, "127.0.0.1", "localhost", 1)
	auth := fmt.Sprintf("auth:\n  token:\n    realm: http://%s/token\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
		realm, tokenService, tokenIssuer, certFile)
	return startRegistryWith(t, auth), log
}

// writeTokenKey writes an ECDSA P-256 key and its self-signed certificate.
func writeTokenKey(t *testing.T, keyFile, certFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: tokenIssuer},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
}

// ServeTokens serves tokens as TokenEnv describes: to tokenUser with
// tokenSecret, for the scopes asked; 401 to anyone else.
func ServeTokens(settings string) error {
	parts := strings.Fields(settings)
	if len(parts) != 4 {
		return fmt.Errorf("%s: want LISTEN KEY CERT LOG", TokenEnv)
	}
	key, cert, err := readTokenKey(parts[1], parts[2])
	if err != nil {
		return err
	}
	log, err := os.OpenFile(parts[3], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	return http.ListenAndServe(parts[0], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok || user != tokenUser || password != tokenSecret {
			w.Header().Set("WWW-Authenticate", `Basic realm="boxcraft-test-tokens"`)
			http.Error(w, `{"details":"incorrect username or password"}`, http.StatusUnauthorized)
			return
		}
		scopes := r.URL.Query()["scope"]
		token, err := signToken(key, cert, user, scopes)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(log, "token for %s: %s\n", user, strings.Join(scopes, " "))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "access_token": token, "expires_in": 300})
	}))
}

func readTokenKey(keyFile, certFile string) (*ecdsa.PrivateKey, []byte, error) {
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	keyBlock, _ := pem.Decode(keyPEM)
	certBlock, _ := pem.Decode(certPEM)
	if keyBlock == nil || certBlock == nil {
		return nil, nil, fmt.Errorf("no PEM in %s or %s", keyFile, certFile)
	}
	key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	return key, certBlock.Bytes, err
}

// signToken is a JWT (ES256, the certificate in x5c) granting the scopes
// ("repository:NAME:pull,push") asked.
func signToken(key *ecdsa.PrivateKey, cert []byte, user string, scopes []string) (string, error) {
	var access []map[string]any
	for _, scope := range scopes {
		parts := strings.Split(scope, ":")
		if len(parts) == 3 {
			access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
		}
	}
	now := time.Now().Unix()
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(cert)}})
	claims, _ := json.Marshal(map[string]any{"iss": tokenIssuer, "sub": user, "aud": tokenService, "exp": now + 300,
		"nbf": now - 10, "iat": now, "jti": fmt.Sprint(time.Now().UnixNano()), "access": access})
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
