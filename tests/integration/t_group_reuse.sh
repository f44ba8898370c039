#!/usr/bin/env bash
# Reusing the base build across a group (issue 13, item 8; docs/sandbox.md):
# on a CMake project with more candidates than worktrees, every candidate
# starts from the base's build outputs (meta.volatile.reusedBaseBuild), its
# outcome record is the one a build from scratch gives, and what one
# candidate's build writes into the build tree never reaches the next.
. "$(dirname "$0")/lib.sh"
need_lanser

if ! command -v cmake >/dev/null || ! command -v ctest >/dev/null; then
	skip "group build reuse" "cmake/ctest not installed (make deps installs them)"
	exit 0
fi
GIT="git -c user.email=t@example.com -c user.name=t"
P=$(fixture disc-cmake)
(cd "$P" && $GIT add -A && $GIT commit -qm base) || exit 1
cd "$TMP" || exit 1

mkpatch() {
	(cd "$P" && eval "$2" && git diff >"$TMP/$1" && git checkout -q -- .)
	[ -s "$TMP/$1" ] || echo "mkpatch: $1 is empty" >&2
}
mkpatch swap.diff "sed -i 's/return a + b;/return b + a;/' src/calc.c"
mkpatch wrong.diff "sed -i 's/return a + b;/return a - b;/' src/calc.c"
# a candidate whose build leaves a file in the build tree ...
mkpatch poison.diff "printf 'file(WRITE \${CMAKE_BINARY_DIR}/poison \"from the poison candidate\")\n' >>CMakeLists.txt"
# ... and one whose test fails when it finds that file in its own build tree
mkpatch check.diff "printf 'add_test(NAME no_poison COMMAND sh -c \"test ! -e \${CMAKE_BINARY_DIR}/poison\")\n' >>CMakeLists.txt"

outcomes() { # trace file: "id status reused" per candidate, and the records' ids
	"$PY" - "$1" <<'P'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "outcome":
        r = e["record"]
        print(e["candidate"], r["outcome"]["status"], r["meta"]["volatile"].get("reusedBaseBuild", False), r["bundleId"])
P
}

run "$L" --root "$P" --json group --jobs 1 --trace "$TMP/reuse.trace" \
	"$TMP/swap.diff" "$TMP/poison.diff" "$TMP/check.diff" "$TMP/wrong.diff"
check_eq "group reuse: exit 0" 0 "$RC"
check_json_eq "group reuse: outcomes (the poison's file did not reach the next candidate)" \
	'[(c["id"], c["tests"]) for c in b["candidates"]]' \
	'[["swap","passed"],["poison","passed"],["check","passed"],["wrong","failed"]]'
outcomes "$TMP/reuse.trace" >"$TMP/reuse.out"
check_eq "group reuse: every candidate started from the base's build" "True True True True" \
	"$(awk '{print $3}' "$TMP/reuse.out" | xargs)"

run env LANSER_NO_BUILD_REUSE=1 "$L" --root "$P" --json group --jobs 1 --trace "$TMP/scratch.trace" \
	"$TMP/swap.diff" "$TMP/poison.diff" "$TMP/check.diff" "$TMP/wrong.diff"
check_eq "group, LANSER_NO_BUILD_REUSE=1: exit 0" 0 "$RC"
outcomes "$TMP/scratch.trace" >"$TMP/scratch.out"
check_eq "group, LANSER_NO_BUILD_REUSE=1: no candidate reused a build" "False False False False" \
	"$(awk '{print $3}' "$TMP/scratch.out" | xargs)"
check_eq "group reuse: the outcome records are those of builds from scratch (same ids)" \
	"$(awk '{print $1, $2, $4}' "$TMP/scratch.out")" "$(awk '{print $1, $2, $4}' "$TMP/reuse.out")"

# one candidate per worktree: nothing to reuse, no extra base build
run "$L" --root "$P" --json group --jobs 2 --trace "$TMP/two.trace" "$TMP/swap.diff" "$TMP/wrong.diff"
check_eq "group of two on two worktrees: no reuse (nothing to share)" "False False" \
	"$(outcomes "$TMP/two.trace" | awk '{print $3}' | xargs)"
check_eq "group reuse: no worktree left" 1 "$(git -C "$P" worktree list | wc -l)"
check_eq "group reuse: no kept outputs left" "" "$(find "$TMP" -maxdepth 6 -name '*.outputs' 2>/dev/null)"
check_no_procs "no language server or test left" "$TMP"
