#!/usr/bin/env bash
# Installs the OS packages the workshop needs, and a Go new enough for it.
# Safe to run again: it installs only what is missing, and with nothing
# missing it needs no network. Packages given as arguments are needed too
# (make test-v2 adds qemu, the workshop VM's provision.sh its own).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

# What the steps and their demos use. busybox-static is the default image.
# gcc and libc6-dev build boxcraft-exec-init (final/), exec's process in a
# container: it joins the container's namespaces in C, before the Go
# runtime starts, and links statically.
packages=(busybox-static tar gcc libc6-dev "$@")
# containerd and its ctr drive boxcraft-runc in runc's place in the tests
# of final/e2e/oci (issue 23); each test starts a containerd of its own.
packages+=(containerd)
# boxcraft pull/push/build's tests (issue 22): a registry (the CNCF
# distribution server), skopeo to fill it, htpasswd for its basic auth,
# curl to speak to it.
packages+=(docker-registry skopeo apache2-utils curl)
# go.mod's "go" line is the oldest Go that builds the workshop. Where the
# distribution's Go is older (Debian 12 has 1.19, Ubuntu 24.04 1.22), this release goes into
# /usr/local/go, fetched from the Go module proxy the way the go command
# fetches toolchains itself: as the module golang.org/toolchain.
need=$(awk '$1 == "go" { print $2; exit }' go.mod)
fallback=1.25.14

# at_least A B: version A is B or newer.
at_least() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }
go_version() { go env GOVERSION | sed 's/^go//'; }
go_ok() { command -v go >/dev/null && at_least "$(go_version)" "$need"; }

# load_modules loads, as root, the kernel modules the steps use, where
# the machine has them as modules (most distributions' kernels do): loop
# devices for the block I/O tests, overlayfs for step05, and BFQ, the I/O
# scheduler whose weight boxcraft's --blkio-weight sets. A kernel without one is
# fine: the tests then check that the step refuses what needs it.
load_modules() {
	if [ "$(id -u)" -ne 0 ] || ! command -v modprobe >/dev/null; then return; fi
	local module
	for module in loop overlay bfq; do
		modprobe -q "$module" 2>/dev/null || true
	done
}
load_modules

missing=()
for pkg in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$pkg")
	fi
done
command -v go >/dev/null || missing+=(golang-go)

if [ "${#missing[@]}" -eq 0 ] && go_ok; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]:-a Go of $need or newer}; not root, so not installing (sudo make deps does)" >&2
	exit 0
fi
if ! command -v apt-get >/dev/null; then
	echo "deps: missing ${missing[*]:-a Go of $need or newer}, and this is not a Debian or Ubuntu machine: install by hand, or use the VM in vagrant/" >&2
	exit 1
fi

if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	# Installing containerd or docker-registry would start the machine's
	# own service: a policy-rc.d that says 101 (action forbidden) stops
	# invoke-rc.d and deb-systemd-invoke from starting any service, for
	# as long as the install runs (when the machine has none of its own).
	policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT # also when the install fails
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	if [ -n "$policy" ]; then
		rm -f "$policy"
		trap - EXIT
	fi
	# Nor at the next boot: the tests start a containerd and registries of
	# their own.
	if command -v systemctl >/dev/null; then
		for service in containerd docker-registry; do
			if [[ " ${missing[*]} " == *" $service "* ]]; then
				systemctl disable "$service" >/dev/null 2>&1 || true
			fi
		done
	fi
fi

if ! go_ok; then
	if [ -e /usr/local/go ]; then
		echo "deps: /usr/local/go holds Go $(go_version), older than the $need that go.mod needs: remove it or put a newer Go there" >&2
		exit 1
	fi
	echo "deps: Go $(go_version) is older than $need: installing Go $fallback into /usr/local/go"
	module=golang.org/toolchain@v0.0.1-go$fallback.linux-$(go env GOARCH)
	cache=$(mktemp -d)
	trap 'rm -rf "$cache"' EXIT
	(cd "$cache" && GOMODCACHE=$cache GOFLAGS=-modcacherw go mod download "$module")
	cp -a "$cache/$module" /usr/local/go
	# A module keeps no execute bits: give them back to the programs.
	chmod -R a+rX /usr/local/go
	chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/*
	echo "deps: $(go version)"
fi
