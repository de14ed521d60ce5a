package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/spf13/pflag"
)

func addInspectFlags(flags *pflag.FlagSet) {
	flags.StringP("format", "f", "", "print each one through a Go template, as docker inspect -f: '{{.State.Pid}}', '{{json .Config}}'")
}

// inspectCommand prints containers (or images, when no container has the
// name) as a JSON array, in the shape of docker inspect's fields that
// boxcraft has, or each one through --format's template. As docker
// inspect, it shows every one it finds, then fails if one was not found.
func inspectCommand(a *app, flags *pflag.FlagSet) (int, error) {
	if err := needArgs(flags, 1, "at least one container or image"); err != nil {
		return statusFailed, err
	}
	format, _ := flags.GetString("format")
	tmpl, err := parseFormat(format)
	if err != nil {
		return statusFailed, err
	}
	rt, err := a.open()
	if err != nil {
		return statusFailed, err
	}
	out := []any{}
	var missing error
	for _, ref := range flags.Args() {
		v, err := inspectOne(rt, ref)
		if err != nil {
			missing = cmp.Or(missing, err)
			continue
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return statusFailed, missing
	}
	if tmpl != nil {
		err = printFormatted(a.stdout, tmpl, out)
	} else {
		enc := json.NewEncoder(a.stdout)
		enc.SetEscapeHTML(false) // a command's > and & as they are
		enc.SetIndent("", "    ")
		err = enc.Encode(out)
	}
	if err = cmp.Or(err, missing); err != nil {
		return statusFailed, err
	}
	return 0, nil
}

// inspectOne is the container ref names, or else the image.
func inspectOne(rt *runtime.Runtime, ref string) (any, error) {
	if c, err := rt.Get(ref); err == nil {
		return inspectContainer(rt, c), nil
	} else if !errors.Is(err, state.ErrNoSuchContainer) {
		return nil, err
	}
	img, err := rt.Store.Lookup(ref)
	if err != nil {
		return nil, fmt.Errorf("no such container or image: %s", ref)
	}
	return inspectImage(rt, img)
}

func inspectContainer(rt *runtime.Runtime, c runtime.Container) map[string]any {
	s, rec := c.Status, c.Record
	p := rec.Spec.Process
	var path string
	var args []string
	if len(p.Args) > 0 {
		path, args = p.Args[0], p.Args[1:]
	}
	dir := rt.Dirs.Container(c.ID)
	dockerState := rt.DockerState(c)
	return map[string]any{
		"Id":      c.ID,
		"Created": rec.Created.Format(time.RFC3339Nano),
		"Path":    path,
		"Args":    args,
		"State": map[string]any{
			"Status": dockerState, "Running": s.Status == state.Running, "Paused": dockerState == runtime.Paused, "Pid": runningPid(s),
			"ExitCode": s.ExitCode, "OOMKilled": s.OOMKilled, "Error": s.Error,
			"StartedAt": stamp(s.StartedAt), "FinishedAt": stamp(s.FinishedAt),
		},
		"Image":   rec.Spec.Image,
		"Name":    "/" + rec.Spec.Name,
		"LogPath": rt.Dirs.LogFile(c.ID),
		"Config": map[string]any{
			"Hostname": rec.Spec.Hostname, "Env": orNone(p.Env), "Entrypoint": orNone(rec.Entrypoint), "Cmd": orNone(rec.Cmd),
			"WorkingDir": p.Cwd, "Image": rec.Spec.ImageRef, "Tty": p.Terminal, "OpenStdin": p.Stdin, "User": p.User,
			"Labels": orEmpty(rec.Labels),
		},
		"Mounts": inspectMounts(rec.Spec.Mounts),
		"HostConfig": map[string]any{
			"AutoRemove": rec.AutoRemove, "ReadonlyRootfs": rec.Spec.Root.ReadOnly,
			"Memory": rec.Spec.Resources.Memory, "CgroupParent": rec.Spec.CgroupParent,
			"NetworkMode": rec.Spec.Network.Mode, "PortBindings": portBindings(rec.Spec.Network.Ports),
			"Ulimits": formatUlimits(p.Rlimits), "Sysctls": rec.Spec.Sysctl, "GroupAdd": p.GroupAdd, "ShmSize": rec.Spec.ShmBytes(),
			"ExtraHosts": extraHosts(rec.Spec.Network.Hosts), "Dns": orNone(rec.Spec.Network.DNS.Servers),
			"DnsSearch": orNone(rec.Spec.Network.DNS.Search), "DnsOptions": orNone(rec.Spec.Network.DNS.Options),
		},
		"NetworkSettings": networkSettings(rt, c),
		"GraphDriver": map[string]any{
			"Name": "overlay",
			"Data": map[string]string{
				"UpperDir": filepath.Join(dir, "upper"), "WorkDir": filepath.Join(dir, "work"), "MergedDir": rec.Spec.Root.Path,
			},
		},
		"Spec": rec.Spec,
	}
}

// stamp is a time as docker inspect writes it; zero is Docker's zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// runningPid is the pid of the container's first process while it runs,
// and 0 once it has ended, as Docker's: a pid kept from before may be
// another process's by now.
func runningPid(s state.Status) int {
	if s.Status != state.Running {
		return 0
	}
	return s.Pid
}
