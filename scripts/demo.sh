#!/usr/bin/env bash
# `make demo`: copies the bundled example projects (tests/fixtures) into a
# scratch directory and asks real clangd and pyright questions about them.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
L="$repo/lanser"
demo="$(mktemp -d /tmp/lanser-demo.XXXXXX)"
trap 'rm -rf "$demo"' EXIT

copy() { # fixture -> $demo/fixture, with a compilation database and a git repo
	mkdir -p "$demo/$1"
	(cd "$repo/tests/fixtures/$1" && tar cf - --exclude=.cache --exclude=__pycache__ .) |
		(cd "$demo/$1" && tar xf -)
	if [ -f "$demo/$1/compile_commands.json.in" ]; then
		sed "s#@ROOT@#$demo/$1#g" "$demo/$1/compile_commands.json.in" \
			> "$demo/$1/compile_commands.json"
	fi
	git -C "$demo/$1" init -q
}
run() { echo; echo "\$ lanser $*"; "$L" "$@" || echo "(exit $?)"; }

copy cproj; copy cproj-errors; copy pyproj
echo "lanser demo in $demo"

cd "$demo/cproj"
echo; echo "== C project (clangd): src/main.c line 14 calls list_push"
sed -n 14p src/main.c
run def src/main.c@L14:C2
run refs src/main.c@L14:C2
run hover src/main.c@L23:C10
run symbols src/list.c
echo; echo "== selectors: address code by what it is, not where it is"
run locate 'c://src/list.c#list_push:sig'
run refs 'c://#clamp_int:name'
echo; echo "== a rename, previewed as a diff (add --apply to write it, all files or none)"
run rename 'c://#list_push:name' list_append

cd "$demo/cproj-errors"
echo; echo "== diagnostics of a broken C file"
run diag bad.c

cd "$demo/pyproj"
echo; echo "== Python package (pyright): app.py line 8 calls register"
sed -n 8p app.py
run def app.py@L8:C5
run refs app.py@L8:C5
run hover app.py@L10:C37

echo; echo "== the same definition as an Analysis Bundle (--json)"
run --json def app.py@L8:C5

echo; echo "== the warm daemon that answered all of that (docs/daemon.md)"
run daemon status
echo; echo "(stopping the demo's daemons)"
for p in cproj cproj-errors pyproj; do "$L" --root "$demo/$p" daemon stop; done
