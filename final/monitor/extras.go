package monitor

import (
	"errors"
	"os"

	"github.com/boxcraft/boxcraft/final/cgroups"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/trace"
)

// Extras are what boxcraft's own containers may ask of the host beyond
// an init, a cgroup and a root: a place on boxcraft's bridge network
// (--network bridge, issue 19) and a /proc view (--proc, issue 21). The
// program that runs the monitor hands them in (final/extras makes
// boxcraft's); one that hands in none links neither final/network nor
// final/procfs, and its every start skips their packages' set-up
// (nftables, netlink, FUSE). boxcraft-runc is such a program: an OCI
// bundle asks for neither (final/oci). A container that asks for one
// the program lacks is refused before its init starts.
type Extras struct {
	Bridge    Bridge    // nil: no bridge network
	ProcViews ProcViews // nil: no /proc views
}

// Bridge connects containers to boxcraft's bridge, and back, and gives
// the containers that are not on it their /etc files.
type Bridge interface {
	// Attach connects the new network namespace of init (pid) once init
	// is in it, before init has its settings: the command starts with
	// its address, route and /etc files in place.
	Attach(c *spec.Container, dirs state.Dirs, pid int, tr *trace.Tracer) error
	// Detach gives back container id's address, veth and rules.
	Detach(dirs state.Dirs, id string) error
	// EtcFiles writes /etc/hosts and its friends for a container off
	// the bridge (none, host, container:NAME), when init is in its
	// namespaces, as Attach does for one on it.
	EtcFiles(c *spec.Container, tr *trace.Tracer) error
}

// ProcViews serves containers' /proc views.
type ProcViews interface {
	// Serve starts serving c's view, answered from its cgroup cg.
	Serve(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup) (ProcView, error)
}

// ProcView is one container's /proc view, served by its monitor for as
// long as the container runs.
type ProcView interface {
	// InitEnd is init's end of the line to the monitor, passed to init
	// as containerinit.ProcViewFD.
	InitEnd() *os.File
	// SendMounts hands init the view's files, to mount once its root is
	// the container's.
	SendMounts() error
	// AnswerSysinfo answers init's sysinfo(2) calls, if init sent the
	// listener of its seccomp filter, once init runs the command.
	AnswerSysinfo()
	// Close ends what the monitor holds of the view.
	Close()
}

// refuseMissing refuses a container that asks for an extra this program
// lacks.
func (x Extras) refuseMissing(c *spec.Container) error {
	if c.Network.Mode == spec.NetworkBridge && x.Bridge == nil {
		return errors.New("--network bridge: this program has no bridge network (boxcraft's)")
	}
	if c.ProcView && x.ProcViews == nil {
		return errors.New("--proc: this program serves no /proc views (boxcraft's)")
	}
	return nil
}

// attach connects a container on the bridge (Bridge.Attach), or gives
// one off it its /etc files. A program with no bridge (boxcraft-runc)
// writes none: an OCI bundle's config.json says what its root has.
func (x Extras) attach(c *spec.Container, dirs state.Dirs, pid int, tr *trace.Tracer) error {
	switch {
	case c.Network.Mode == spec.NetworkBridge:
		return x.Bridge.Attach(c, dirs, pid, tr)
	case x.Bridge != nil:
		return x.Bridge.EtcFiles(c, tr)
	}
	return nil
}

// detach gives back what a container on the bridge held of it.
func (x Extras) detach(dirs state.Dirs, rec state.Record) error {
	if rec.Spec.Network.Mode != spec.NetworkBridge {
		return nil
	}
	if x.Bridge == nil {
		return errors.New("the container was on the bridge network, and this program has none: remove it with boxcraft rm")
	}
	return x.Bridge.Detach(dirs, rec.Spec.ID)
}

// serveProcView serves c's /proc view, or is nil when c asks for the
// host's /proc.
func (x Extras) serveProcView(c *spec.Container, dirs state.Dirs, cg *cgroups.Cgroup) (ProcView, error) {
	if !c.ProcView {
		return nil, nil
	}
	return x.ProcViews.Serve(c, dirs, cg)
}

// closeView closes v, if there is one.
func closeView(v ProcView) {
	if v != nil {
		v.Close()
	}
}
