#!/usr/bin/env bash
# make diff-NN: the change from step NN-1 to step NN, which is the lesson.
# Tests, their data (testdata: fuzz corpora) and the READMEs (English and
# Chinese) are left out:
# the diff is the program.
#
# diff-steps.sh --count NN prints how many lines the lesson changes, as
# issue 24's ~700-line goal counts them: lines added or removed, blank ones
# left out (make diff-stat prints it for every lesson).
set -euo pipefail
cd "$(dirname "$0")/.."

count=false
if [ "${1:-}" = --count ]; then
	count=true
	shift
fi
n=${1:?usage: diff-steps.sh [--count] NN}
if ! [[ $n =~ ^[0-9]{2}$ ]] || [ "$n" = 00 ] || [ "$n" = 01 ]; then
	echo "diff-$n: give a two-digit step after the first, e.g. make diff-02" >&2
	exit 2
fi
prev=$(printf '%02d' $((10#$n - 1)))
cur_dir=$(compgen -G "step$n-*" | head -n 1 || true)
prev_dir=$(compgen -G "step$prev-*" | head -n 1 || true)
if [ -z "$cur_dir" ] || [ -z "$prev_dir" ]; then
	echo "diff-$n: there is no step$n yet (steps here: $(compgen -G 'step[0-9][0-9]-*' | tr '\n' ' '))" >&2
	exit 2
fi
# diff exits 1 when the folders differ, which is the point; 2 is trouble.
# 141 is SIGPIPE, when a reader such as head has seen enough.
if $count; then
	"$0" "$n" | grep -E '^[+-]' | grep -vE '^(\+\+\+|---) ' | grep -cvE '^[+-][[:space:]]*$' || true
	exit 0
fi
status=0
diff -ruN --exclude='*_test.go' --exclude=testdata --exclude='README*.md' "$prev_dir" "$cur_dir" || status=$?
[ "$status" -le 1 ] || [ "$status" -eq 141 ] || exit "$status"
