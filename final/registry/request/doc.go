// Package request is what boxcraft asks of boxcraft-registry, the helper
// beside it that pulls, pushes and logs in, and what the helper answers:
// one JSON value each way, on the helper's stdin and stdout (its stderr
// is boxcraft's, for the layers' progress).
//
// Why a helper (issue 26): go-containerregistry, net/http and crypto/tls
// are a third of boxcraft's binary, and every page of a program that the
// kernel maps counts in its resident set. Kept out of boxcraft, a run's
// peak RSS fell from 13.5 MiB to 9.7 MiB (make bench, figure 6); only a
// pull, a push or a login maps them, in the helper.
package request
