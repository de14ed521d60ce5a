#!/usr/bin/env bash
# Installs the OS packages the workshop needs and checks that Go is new
# enough. Safe to run again: it installs only what is missing, and with
# nothing missing it needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the steps and their demos use. busybox-static is the default image.
packages=(busybox-static tar)

missing=()
for pkg in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$pkg")
	fi
done
if ! command -v go >/dev/null; then
	missing+=(golang-go)
fi

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: missing ${missing[*]}; not root, so not installing them (sudo make deps does)" >&2
		exit 0
	fi
	if ! command -v apt-get >/dev/null; then
		echo "deps: missing ${missing[*]}, and this is not a Debian or Ubuntu machine: install them by hand, or use the VM in vagrant/" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# go.mod's "go" line is the oldest Go that builds the workshop.
need=$(awk '$1 == "go" { print $2; exit }' go.mod)
have=$(go env GOVERSION | sed 's/^go//')
if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
	echo "deps: Go $have is older than the $need that go.mod needs: install Go $need or newer from https://go.dev/dl/ into /usr/local/go" >&2
	exit 1
fi
