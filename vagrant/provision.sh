#!/usr/bin/env bash
# Provisions the workshop VM: `vagrant up` runs it as root. It installs
# what the workshop uses, then builds everything once, for root (sudo make
# run, sudo make test) and for the learner's own user (make test, make
# lint), so that afterwards the workshop needs no network at all:
# conference Wi-Fi fails. Safe to run again: a second run changes nothing.
#
#   provision.sh [--offline] [--user NAME]
#
#   --offline   download nothing from the internet: Go itself, the Go
#               modules and staticcheck must already be on the machine
#               (each user's module cache is its only module proxy), so a
#               run proves that the workshop builds with no network.
#               Missing OS packages still come from the machine's apt
#               sources.
#   --user NAME the learner's user (default vagrant); skipped where there
#               is no such user, as on CI's machine.
#
# BOXCRAFT_REPO names the repository (Vagrant copies this script alone
# into the VM, so the Vagrantfile says where the repository is); by
# default it is the folder above this script's. BOXCRAFT_SHARE, when set,
# is a shared folder holding the host's copy, to copy from once.
set -euo pipefail

repo=${BOXCRAFT_REPO:-$(cd "$(dirname "$0")/.." && pwd)}
share=${BOXCRAFT_SHARE:-}
user=vagrant
offline=false
# What the VM needs beyond what scripts/deps.sh installs for every machine:
# make and gcc to build, git for make lint and diffs, iproute2 and psmisc
# (ip, pstree) for the lessons' look at namespaces from the host.
packages=(make gcc git iproute2 psmisc)

say() { printf 'provision: %s\n' "$*"; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--offline) offline=true ;;
		--user)
			user=${2:?--user needs a name}
			shift
			;;
		*)
			echo "usage: provision.sh [--offline] [--user NAME]" >&2
			exit 2
			;;
		esac
		shift
	done
}

# copy_repo copies the repository from the shared folder onto the VM's
# own disk, once: after that the copy is the learner's, and is kept.
copy_repo() {
	[ -n "$share" ] && [ ! -e "$repo/go.mod" ] || return 0
	say "copying the repository from $share to $repo"
	mkdir -p "$repo"
	tar -C "$share" --exclude=./_build --exclude=./vagrant/.vagrant -cf - . | tar -C "$repo" -xf -
	if getent passwd "$user" >/dev/null; then chown -R "$user:" "$repo"; fi
}

# install_packages installs the OS packages and a Go that go.mod accepts:
# the distribution's when it is new enough (Ubuntu 24.04's 1.22 is not,
# for go.mod's 1.25), else the official release, through the workshop's
# own installer.
install_packages() {
	local proxy=()
	if $offline; then proxy=(GOPROXY=off); fi # a Go download fails instead
	env "${proxy[@]}" "$repo/scripts/deps.sh" "${packages[@]}"
	say "$(PATH=/usr/local/go/bin:$PATH go version)"
}

# trust_repo lets root's git read the repository, which belongs to the
# learner's user: otherwise git, and go build's version stamping with it,
# refuse a repository owned by someone else.
trust_repo() {
	[ "$(stat -c %u "$repo")" -ne 0 ] || return 0
	if ! git config --system --get-all safe.directory | grep -qxF "$repo"; then
		git config --system --add safe.directory "$repo"
	fi
}

# as runs a command as user $1 in the repository, with that user's own
# home, Go caches and PATH.
as() {
	local who=$1 home
	shift
	home=$(getent passwd "$who" | cut -d: -f6)
	# CGO_ENABLED=0 as the Makefile has it: the same cache entries.
	local env=(HOME="$home" PATH="/usr/local/go/bin:$PATH" CGO_ENABLED=0)
	if $offline; then
		# The user's module cache serves as the module proxy: what is not
		# in it is an error, not a download.
		env+=(GOPROXY="file://$(runuser -u "$who" -- env "${env[@]}" go env GOMODCACHE)/cache/download")
	fi
	runuser -u "$who" -- env -C "$repo" "${env[@]}" "$@"
}

# warm_go_caches builds, as user $1, all that the workshop's make targets
# build: every package and test binary, and staticcheck for make lint,
# which needs Go 1.26 (under an older Go, GOTOOLCHAIN=auto fetches that
# Go into the module cache once). Afterwards none of them downloads.
warm_go_caches() {
	local staticcheck
	staticcheck=$(awk '$1 == "STATICCHECK" { print $3 }' "$repo/Makefile")
	as "$1" go build ./...
	as "$1" go vet ./...
	# -run '^$' compiles and links every test binary, and runs no test.
	as "$1" go test -count=1 -run '^$' ./... >/dev/null
	as "$1" env GOTOOLCHAIN=auto go run "$staticcheck" -version >/dev/null
	say "Go caches of $1 are warm: builds, tests and staticcheck need no download"
}

# build_workshop builds, as root, what sudo make run and sudo make test use:
# every step, boxcraft, the probe and the default image. The go command
# fetches the modules they import into root's module cache (boxcraft's
# too: creack/pty, x/term, image-spec, go-digest); warm_go_caches does the
# same for the learner's user.
build_workshop() {
	make -s -C "$repo" bins rootfs
}

# welcome_user opens the learner's shell in the repository.
welcome_user() {
	local rc
	rc="$(getent passwd "$user" | cut -d: -f6)/.bashrc"
	if ! grep -qxF "cd $repo # boxcraft" "$rc" 2>/dev/null; then
		echo "cd $repo # boxcraft" >>"$rc"
		chown "$user:" "$rc"
	fi
}

main() {
	parse_args "$@"
	[ "$(id -u)" -eq 0 ] || {
		echo "provision: run as root (vagrant up does)" >&2
		exit 1
	}
	if $offline; then
		say "offline: Go, its modules and staticcheck come from this machine alone"
	fi
	copy_repo
	install_packages
	trust_repo
	build_workshop
	warm_go_caches root
	if getent passwd "$user" >/dev/null; then
		warm_go_caches "$user"
		welcome_user
	else
		say "no user $user on this machine: only root's caches are warm"
	fi
	say "done. The workshop needs no network from here on: sudo make run, sudo make test"
}

main "$@"
