package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/template"
	"time"

	"github.com/boxcraft/boxcraft/final/network"
	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
	"github.com/boxcraft/boxcraft/final/store"
)

// printFormatted prints each value through tmpl, a line each. The
// template sees a value as its JSON reads, so that {{.State.Pid}} names
// the JSON's fields (templateValue). A value the template fails on is
// left out, and the first failure returned once the others are printed,
// as docker inspect does.
func printFormatted(w io.Writer, tmpl *template.Template, values []any) error {
	var failed error
	for _, v := range values {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			return err
		}
		var line bytes.Buffer
		if err := tmpl.Execute(&line, templateValue(generic)); err != nil {
			failed = cmp.Or(failed, fmt.Errorf("--format: %w", err))
			continue
		}
		line.WriteByte('\n')
		if _, err := w.Write(line.Bytes()); err != nil {
			return err
		}
	}
	return failed
}

// templateValue gives a decoded JSON value the types a template's
// functions expect, as docker inspect's typed fields have them: whole
// numbers as int64 ({{if .State.ExitCode}} is false for 0, eq 0 and
// printf "%d" work), lists of strings as []string (join).
func templateValue(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		if n, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
			return n // RLIM_INFINITY, say
		}
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, e := range v {
			v[k] = templateValue(e)
		}
		return v
	case []any:
		strs := make([]string, 0, len(v))
		for i, e := range v {
			v[i] = templateValue(e)
			if s, ok := v[i].(string); ok {
				strs = append(strs, s)
			}
		}
		if len(strs) == len(v) {
			return strs
		}
		return v
	}
	return v
}

// inspectImage is an image as docker inspect shows one: its ID, names,
// config (what a run of it starts with) and layers.
func inspectImage(rt *runtime.Runtime, img store.ImageRecord) (map[string]any, error) {
	config, err := rt.Store.Config(img.ID)
	if err != nil {
		return nil, err
	}
	c := config.Config
	// Empty, not null, as Docker's: {{len .Config.Env}} and
	// {{index .Config.Labels "x"}} work on every image.
	return map[string]any{
		"Id":           img.ID,
		"RepoTags":     append([]string{}, img.Names...),
		"Created":      img.Created.Format(time.RFC3339Nano),
		"Size":         img.Size,
		"Architecture": config.Architecture,
		"Os":           config.OS,
		"Author":       config.Author,
		"Config": map[string]any{
			"User": c.User, "ExposedPorts": orEmpty(c.ExposedPorts), "Env": orNone(c.Env), "Entrypoint": orNone(c.Entrypoint),
			"Cmd": orNone(c.Cmd), "Volumes": orEmpty(c.Volumes), "WorkingDir": c.WorkingDir, "Labels": orEmpty(c.Labels),
			"StopSignal": c.StopSignal,
		},
		"RootFS": map[string]any{"Type": "layers", "Layers": img.DiffIDs},
	}, nil
}

// portBindings are a container's -p, as HostConfig.PortBindings shows
// them: "80/tcp": [{"HostIp": "", "HostPort": "8080"}].
func portBindings(ports []spec.Port) map[string][]map[string]string {
	bindings := map[string][]map[string]string{}
	for _, p := range ports {
		key := network.ContainerPort(p)
		bindings[key] = append(bindings[key], map[string]string{"HostIp": p.HostIP, "HostPort": strconv.Itoa(int(p.HostPort))})
	}
	return bindings
}

// networkSettings are the address a running container holds on the
// bridge and its published ports, as docker inspect's NetworkSettings
// (IPAddress, and the same under Networks.bridge); empty for any other.
func networkSettings(rt *runtime.Runtime, c runtime.Container) map[string]any {
	settings := map[string]any{"IPAddress": "", "Gateway": "", "IPPrefixLen": 0, "Ports": map[string]any{}, "Networks": map[string]any{}}
	if c.Status.Status != state.Running || c.Record.Spec.Network.Mode != spec.NetworkBridge {
		return settings
	}
	addr, subnet, ok := network.Held(network.Dir(rt.Dirs.Run), c.ID)
	if !ok {
		return settings
	}
	ports := portBindings(heldPorts(c))
	for _, list := range ports {
		for _, b := range list {
			if b["HostIp"] == "" {
				b["HostIp"] = "0.0.0.0"
			}
		}
	}
	bridge := map[string]any{"IPAddress": addr.String(), "Gateway": network.Gateway(subnet).String(), "IPPrefixLen": subnet.Bits()}
	for k, v := range bridge {
		settings[k] = v
	}
	settings["Ports"] = ports
	settings["Networks"] = map[string]any{"bridge": bridge}
	return settings
}

// orNone is a list, [] rather than null when it has nothing.
func orNone(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// orEmpty is a map, {} rather than null when it has nothing.
func orEmpty[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
