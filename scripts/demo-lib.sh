# shellcheck shell=bash
# Shared by the narrated demos (scripts/demo-stepNN.sh), which source it.

say() { printf '\n==> %s\n' "$*"; }
# show prints a command as one would type it, quoting only the words that
# need it, then runs it.
show() {
	local word line='$'
	for word in "$@"; do
		if [[ $word =~ ^[A-Za-z0-9_./:=,+-]+$ ]]; then line+=" $word"; else line+=" ${word@Q}"; fi
	done
	printf '%s\n' "$line"
	"$@"
}
notice() { printf 'Notice: %s\n' "$*"; }
