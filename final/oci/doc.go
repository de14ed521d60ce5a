// Package oci is boxcraft's second front end (issue 23): it reads an OCI
// bundle's config.json (the OCI runtime spec, with
// github.com/opencontainers/runtime-spec's types) into the one settings
// value, spec.Container, and answers in the spec's terms (its state
// JSON, a default config.json, the features). cmd/boxcraft-runc speaks
// runc's command line over it, so that containerd, and Kubernetes
// through it, can run boxcraft in runc's place.
//
// config.json is the whole truth: boxcraft's own defaults (its
// capabilities, seccomp profile, masked paths, network) apply only when
// the config asks for them, and a field boxcraft does not implement is
// refused in one line that names it, never ignored. Each part of the
// config is a step's lesson: process (step01), namespaces and hostname
// (step02), resources and cgroupsPath (step03), root and mounts (step04),
// capabilities, seccomp, masked paths (issue 20).
package oci
