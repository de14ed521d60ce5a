package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// dockerHubKey is the key Docker keeps Docker Hub's credentials under in
// config.json.
const dockerHubKey = "https://index.docker.io/v1/"

// Login checks the user and password against the registry (its /v2/
// answers 200 once authenticated, by basic auth or a token bought with
// them) and keeps them in ~/.docker/config.json ($DOCKER_CONFIG's), as
// docker login does, for pull and push to find. It returns the file.
func Login(ctx context.Context, server, user, password string, opts Options) (string, error) {
	reg, err := opts.registry(server)
	if err != nil {
		return "", err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	rt, err := transport.NewWithContext(ctx, reg, auth, opts.roundTripper(), nil)
	if err != nil {
		return "", fmt.Errorf("login %s: %w", reg.Name(), unauthorized(err))
	}
	if err := probe(ctx, rt, reg); err != nil {
		return "", fmt.Errorf("login %s: %w", reg.Name(), err)
	}
	file, err := config.Load(config.Dir())
	if err != nil {
		return "", fmt.Errorf("login: read %s: %w", config.Dir(), err)
	}
	key := reg.Name()
	if key == name.DefaultRegistry {
		key = dockerHubKey
	}
	creds := types.AuthConfig{ServerAddress: key, Username: user, Password: password}
	if err := file.GetCredentialsStore(key).Store(creds); err != nil {
		return "", fmt.Errorf("login: keep the credentials: %w", err)
	}
	return file.Filename, nil
}

// registry reads a registry's name (host[:port]; docker.io when empty).
func (o Options) registry(server string) (name.Registry, error) {
	if server == "" {
		server = name.DefaultRegistry
	}
	var opts []name.Option
	if o.insecure(server) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(server, opts...)
	if err != nil {
		return reg, fmt.Errorf("login: registry %q: %w", server, err)
	}
	return reg, nil
}

// probe asks the registry's /v2/, authenticated.
func probe(ctx context.Context, rt http.RoundTripper, reg name.Registry) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return unauthorized(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("unauthorized: incorrect username or password")
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the registry's /v2/ answers %s", resp.Status)
	}
	return nil
}

// unauthorized says in one line that the credentials were refused.
func unauthorized(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("unauthorized: incorrect username or password")
	}
	return err
}
