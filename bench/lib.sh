# bench/lib.sh - what the bench scripts share (sourced, never run):
#
#   set -euo pipefail
#   . "$(dirname "$0")/lib.sh"
#
# sets ROOT (the repository) and L (the lanser binary: $LANSER_BIN, else
# $ROOT/lanser), and defines:
#
#   bench_write_flag ARG      WRITE=1 when ARG is --write, else WRITE=0
#   bench_scratch NAME        W: a fresh scratch folder
#                             ${TMPDIR:-/tmp}/lanser-bench-NAME.XXXXXX (its
#                             physical path), removed on exit (a script with
#                             more to clean sets its own EXIT trap after
#                             this); XDG_RUNTIME_DIR=$W/run (mode 0700),
#                             exported: daemons and caches stay in W
#   bench_load                the load average (1, 5, 15 min) as one line
#   bench_copy_fixture DEST   a copy of tests/fixtures/cproj at DEST without
#                             .cache/, .git/ or compile_commands.json
#   bench_cdb DEST            DEST/compile_commands.json from its template
#   bench_commit DEST         DEST made a git repository with one commit of
#                             everything ("base")
#   bench_cproj DEST          the three above: the C fixture as the
#                             integration tests prepare it
#   bench_now_ms              wall clock in ms, one decimal
#   bench_median              the median of the numbers on stdin (one or
#                             more per line; the mean of the middle two
#                             when their count is even)
#   bench_ratio A B           A / B, two decimals
#   bench_write_section NAME TEXT
#                             replaces the section of bench/RESULTS.md
#                             between "<!-- NAME:" and "<!-- /NAME -->" with
#                             TEXT (which carries both markers), or appends
#                             TEXT when the file has no such section
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
L=${LANSER_BIN:-$ROOT/lanser}

bench_write_flag() {
	WRITE=0
	if [ "${1:-}" = --write ]; then WRITE=1; fi
}

bench_scratch() {
	W=$(mktemp -d "${TMPDIR:-/tmp}/lanser-bench-$1.XXXXXX")
	W=$(cd "$W" && pwd -P)
	trap 'rm -rf "$W"' EXIT
	export XDG_RUNTIME_DIR=$W/run
	mkdir -m 700 "$XDG_RUNTIME_DIR"
}

bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

bench_copy_fixture() {
	cp -R "$ROOT/tests/fixtures/cproj" "$1"
	rm -rf "$1/.cache" "$1/.git" "$1/compile_commands.json"
}

bench_cdb() {
	sed "s#@ROOT@#$1#g" "$1/compile_commands.json.in" >"$1/compile_commands.json"
}

bench_commit() {
	local g=(git -C "$1" -c user.email=b@example.com -c user.name=bench)
	"${g[@]}" init -q
	"${g[@]}" add -A
	"${g[@]}" commit -qm base
}

bench_cproj() {
	bench_copy_fixture "$1"
	bench_cdb "$1"
	bench_commit "$1"
}

bench_now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1000000 }'; }

bench_median() {
	tr ' ' '\n' | grep -v '^$' | sort -n |
		awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

bench_write_section() {
	/usr/bin/python3 - "$ROOT/bench/RESULTS.md" "$1" "$2" <<'PY'
import re, sys
path, name, section = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
pat = re.compile(r"<!-- %s:.*?<!-- /%s -->" % (re.escape(name), re.escape(name)), re.S)
text = pat.sub(lambda m: section, text) if pat.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
}
