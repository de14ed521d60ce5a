package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/boxcraft/boxcraft/final/runtime"
	"github.com/boxcraft/boxcraft/final/spec"
	"github.com/boxcraft/boxcraft/final/state"
)

// psFilters are ps's -f KEY=VALUE, as Docker reads them: each key's
// values, in the order given, each once. A container is shown when it
// matches every key, and a key when it matches one of its values (but
// label, whose values must all match, as Docker's).
type psFilters map[string][]string

// psFilterMatchers are the keys boxcraft reads, and how each one makes
// its test of a container from the key's values and the containers
// there are.
var psFilterMatchers = map[string]func(rt *runtime.Runtime, list []runtime.Container, values []string) (func(runtime.Container) bool, error){
	"status":   statusFilter,
	"name":     nameFilter,
	"id":       idFilter,
	"label":    labelFilter,
	"exited":   exitedFilter,
	"ancestor": ancestorFilter,
	"before":   createdFilter("before", -1),
	"since":    createdFilter("since", +1),
	"network":  networkFilter,
	"volume":   volumeFilter,
}

// notFiltered are the keys Docker has that boxcraft has nothing to
// match with: refused, saying why, rather than read as no filter.
var notFiltered = map[string]string{
	"health":    "boxcraft has no health checks",
	"is-task":   "boxcraft has no swarm tasks",
	"isolation": "isolation is Windows' (hyperv, process)",
	"publish":   "boxcraft ps does not filter on ports yet: boxcraft port CONTAINER lists them",
	"expose":    "boxcraft ps does not filter on ports yet: boxcraft port CONTAINER lists them",
}

// dockerStatuses are the words Docker's status filter takes. boxcraft's
// containers are only ever created, running, paused or exited: the
// others are taken, and match none.
var dockerStatuses = []string{state.Created, "restarting", state.Running, "removing", runtime.Paused, state.Exited, "dead"}

// parseFilters reads -f's values, as docker's command line does: KEY=VALUE,
// the key in any case, spaces around either dropped; an empty one is
// ignored. An unknown key is refused, as Docker refuses it.
func parseFilters(given []string) (psFilters, error) {
	f := psFilters{}
	for _, g := range given {
		if g == "" {
			continue
		}
		key, value, ok := strings.Cut(g, "=")
		if !ok {
			return nil, fmt.Errorf("--filter %q: bad format of filter (expected name=value)", g)
		}
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(value)
		if why, ok := notFiltered[key]; ok {
			return nil, fmt.Errorf("--filter %s: not supported: %s", key, why)
		}
		if psFilterMatchers[key] == nil {
			return nil, fmt.Errorf("invalid filter '%s'", key)
		}
		if !slices.Contains(f[key], value) {
			f[key] = append(f[key], value)
		}
	}
	return f, nil
}

// match makes the test of a container that the filters are together.
func (f psFilters) match(rt *runtime.Runtime, list []runtime.Container) (func(runtime.Container) bool, error) {
	var tests []func(runtime.Container) bool
	for key, values := range f {
		test, err := psFilterMatchers[key](rt, list, values)
		if err != nil {
			return nil, err
		}
		tests = append(tests, test)
	}
	return func(c runtime.Container) bool {
		for _, test := range tests {
			if !test(c) {
				return false
			}
		}
		return true
	}, nil
}

// statusFilter: the container's state is one of the values, each one of
// Docker's words (created, running, exited…). A status filter also shows
// the containers that are not running, without -a (psCommand).
func statusFilter(rt *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	for _, v := range values {
		if !slices.Contains(dockerStatuses, v) {
			return nil, fmt.Errorf("invalid filter 'status=%s': give one of %s", v, strings.Join(dockerStatuses, ", "))
		}
	}
	return func(c runtime.Container) bool { return slices.Contains(values, rt.DockerState(c)) }, nil
}

// nameFilter: a value is the name, or a regular expression found in it
// (web matches web-1, ^web$ only web), with or without Docker's leading
// slash. As Docker's, a value that is no regular expression matches only
// as the name itself.
func nameFilter(_ *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	var exprs []*regexp.Regexp
	for _, v := range values {
		if re, err := regexp.Compile(v); err == nil {
			exprs = append(exprs, re)
		}
	}
	return func(c runtime.Container) bool {
		for _, name := range []string{c.Record.Spec.Name, "/" + c.Record.Spec.Name} {
			if slices.Contains(values, name) || slices.ContainsFunc(exprs, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
				return true
			}
		}
		return false
	}, nil
}

// idFilter: a value is the start of one container's ID. As Docker's, a
// start that several IDs share names none of them.
func idFilter(_ *runtime.Runtime, list []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	ids := map[string]bool{}
	for _, v := range values {
		var found []string
		for _, c := range list {
			if v != "" && strings.HasPrefix(c.ID, v) {
				found = append(found, c.ID)
			}
		}
		if len(found) == 1 {
			ids[found[0]] = true
		}
	}
	return func(c runtime.Container) bool { return ids[c.ID] }, nil
}

// labelFilter: every value holds, KEY (the container has the label) or
// KEY=VALUE (with that value): Docker's AND, even for one key given twice.
func labelFilter(_ *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	return func(c runtime.Container) bool {
		for _, v := range values {
			key, want, withValue := strings.Cut(v, "=")
			got, ok := c.Record.Labels[key]
			if !ok || (withValue && got != want) {
				return false
			}
		}
		return true
	}, nil
}

// exitedFilter: the container ran, has ended, and its exit status is one
// of the values. As Docker's, it does not show ended containers without
// -a: docker ps -a -f exited=0.
func exitedFilter(_ *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	var codes []int
	for _, v := range values {
		code, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("--filter exited=%s: give an exit status, a whole number", v)
		}
		codes = append(codes, code)
	}
	return func(c runtime.Container) bool {
		s := c.Status
		return s.Status != state.Running && !s.StartedAt.IsZero() && slices.Contains(codes, s.ExitCode)
	}, nil
}

// ancestorFilter: the container's image is one the values name (a name
// or an ID, as run takes them), or is made on one: its layers start with
// all of that one's and go on, as Docker's containerd store tells an
// image's children. A value no image has matches nothing, as Docker's.
func ancestorFilter(rt *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	type ancestor struct {
		id     string
		layers []string
	}
	var ancestors []ancestor
	for _, v := range values {
		if img, err := rt.Store.Lookup(v); err == nil {
			ancestors = append(ancestors, ancestor{img.ID, img.DiffIDs})
		}
	}
	layersOf := map[string][]string{} // by image ID: containers share images
	return func(c runtime.Container) bool {
		id := c.Record.Spec.Image
		if id == "" {
			return false // --rootfs
		}
		layers, ok := layersOf[id]
		if !ok {
			img, err := rt.Store.Lookup(id)
			if err == nil {
				layers = img.DiffIDs
			}
			layersOf[id] = layers // nil when it is gone (rmi -f)
		}
		return slices.ContainsFunc(ancestors, func(a ancestor) bool {
			return a.id == id || (len(layers) > len(a.layers) && slices.Equal(layers[:len(a.layers)], a.layers))
		})
	}, nil
}

// createdFilter is before (side -1) and since (+1): the container was
// made before, or after, the one each value names (name, ID or its start).
func createdFilter(key string, side int) func(*runtime.Runtime, []runtime.Container, []string) (func(runtime.Container) bool, error) {
	return func(rt *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
		var marks []runtime.Container
		for _, v := range values {
			c, err := rt.Get(v)
			if err != nil {
				if errors.Is(err, state.ErrNoSuchContainer) {
					err = fmt.Errorf("--filter %s=%s: no such container", key, v)
				}
				return nil, err
			}
			marks = append(marks, c)
		}
		return func(c runtime.Container) bool {
			for _, m := range marks {
				if c.Record.Created.Compare(m.Record.Created) != side {
					return false
				}
			}
			return true
		}, nil
	}
}

// networkFilter: the container is on the network a value names: bridge,
// host or none.
func networkFilter(_ *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	return func(c runtime.Container) bool {
		return slices.ContainsFunc(networks(c), func(n string) bool { return slices.Contains(values, n) })
	}, nil
}

// networks are the networks a container is on, as Docker names them: a
// container that shares another's (container:NAME) is on none of its own.
func networks(c runtime.Container) []string {
	switch mode := c.Record.Spec.Network.Mode; mode {
	case spec.NetworkBridge, spec.NetworkHost, spec.NetworkNone:
		return []string{mode}
	}
	return nil
}

// volumeFilter: a value is where one of the container's mounts is, inside
// it, or the host's folder or file it binds.
func volumeFilter(_ *runtime.Runtime, _ []runtime.Container, values []string) (func(runtime.Container) bool, error) {
	return func(c runtime.Container) bool {
		return slices.ContainsFunc(c.Record.Spec.Mounts, func(m spec.Mount) bool {
			return slices.Contains(values, m.Target) || (m.Type == "bind" && slices.Contains(values, m.Source))
		})
	}, nil
}
