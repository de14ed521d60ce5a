package request

import "github.com/boxcraft/boxcraft/final/archive"

// Helper is the helper's name, beside boxcraft (make bins builds it).
const Helper = "boxcraft-registry"

// Request is one pull, push or login.
type Request struct {
	Verb     string         // "pull", "push" or "login"
	Ref      string         // pull's and push's image; login's server ("" is Docker Hub)
	Insecure []string       // --insecure-registry
	Platform string         // pull: os/arch[/variant]
	Quiet    bool           // pull: no progress on stderr
	Intro    string         // pull: said once the image is found (run's "Unable to find image")
	User     string         // login
	Password string         // login, read by boxcraft (-p or --password-stdin)
	Limits   archive.Limits // pull: the bounds on what a layer may unzip to
}

// Reply is the helper's answer. Error is the failure's message, as
// boxcraft prints it; TooLarge, when it is archive.ErrTooLarge's.
type Reply struct {
	ID       string // pull: the image's ID
	Digest   string // push: the manifest's digest
	File     string // login: where the credentials are kept
	Error    string
	TooLarge bool
}
