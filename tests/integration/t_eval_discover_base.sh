#!/usr/bin/env bash
# Test discovery for `eval` and `group` reads the --base commit's files, not
# the working tree (issue 13; docs/eval.md "The pipeline", docs/sandbox.md
# "Test discovery"): an untracked CMakeLists.txt, a dirty Makefile, a
# package moved out of src/ in the working tree, or a --base older than
# what is checked out never change which command scores the candidates.
# `lanser test` still discovers from the working tree it runs on.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
cd "$TMP" || exit 1

# the test command of the eval bundle in $OUT (the test record's request)
testcmd() { json '" ".join(b["meta"]["volatile"]["testRecord"]["request"]["test"])'; }

# --- a Makefile `check` project whose working tree says otherwise
M=$(fixture disc-makecheck)
(cd "$M" && $GIT add -A && $GIT commit -qm base) || exit 1
printf 'notes\n' >"$M/notes.txt"
(cd "$M" && git add -N notes.txt && git diff >"$TMP/notes.diff" && git rm -q --cached notes.txt && rm notes.txt)
printf 'more notes\n' >"$M/more.txt"
(cd "$M" && git add -N more.txt && git diff >"$TMP/more.diff" && git rm -q --cached more.txt && rm more.txt)
[ -s "$TMP/notes.diff" ] && [ -s "$TMP/more.diff" ] || echo "could not make the patches" >&2
# an untracked CMake project (ctest would be chosen first) and a Makefile
# whose check target fails: neither is in the base commit
printf 'cmake_minimum_required(VERSION 3.10)\nmessage(FATAL_ERROR "the working tree")\n' >"$M/CMakeLists.txt"
sed -i 's/ok 1 - first/not ok 1 - first/' "$M/Makefile"

run "$L" --root "$M" --json eval --patch "$TMP/notes.diff"
check_eq "dirty tree: eval exits 0" 0 "$RC"
check_eq "dirty tree: eval runs the base's make check (not ctest from an untracked CMakeLists.txt)" \
	"make check" "$(testcmd)"
check_json_eq "dirty tree: the base's check target ran (2 passed, the working tree's failing one did not)" \
	'[b["outcome"]["testRun"]["counts"]["passed"], b["outcome"]["testRun"]["counts"]["failed"]]' '[2,0]'

run "$L" --root "$M" --json group "$TMP/notes.diff" "$TMP/more.diff"
check_eq "dirty tree: group exits 0" 0 "$RC"
check_json_eq "dirty tree: group scores every candidate with the base's command (tests passed)" \
	'[c["tests"] for c in b["candidates"]]' '["passed","passed"]'

run "$L" --root "$M" test --explain
check_contains "lanser test --explain still discovers from the working tree it runs on" "$OUT$ERR" "CMakeLists.txt"

# --- --base older than HEAD: the base's files, not HEAD's checkout
rm "$M/CMakeLists.txt"
(cd "$M" && git checkout -q -- Makefile) || exit 1
printf 'test:\n\t@echo "1..1"\n\t@echo "not ok 1 - head"\n' >"$M/Makefile"
(cd "$M" && $GIT commit -qam 'head: a test target, no check target') || exit 1
run "$L" --root "$M" --json eval --base HEAD~1 --patch "$TMP/notes.diff"
check_eq "eval --base HEAD~1: exit 0" 0 "$RC"
check_eq "eval --base HEAD~1: the command of HEAD~1's Makefile" "make check" "$(testcmd)"
run "$L" --root "$M" --json eval --patch "$TMP/notes.diff"
check_eq "eval at HEAD: the policy rejects (84), HEAD's test fails" 84 "$RC"
check_eq "eval at HEAD: the command of HEAD's Makefile" "make test" "$(testcmd)"

# --- a src-layout pytest project whose working tree moved the package out
if /usr/bin/python3 -c "import pytest" 2>/dev/null; then
	P=$(fixture disc-pysrc)
	(cd "$P" && $GIT add -A && $GIT commit -qm base) || exit 1
	(cd "$P" && sed -i 's/return a + b/return b + a/' src/calcpkg/__init__.py && git diff >"$TMP/py.diff" &&
		git checkout -q -- .) || exit 1
	mv "$P/src/calcpkg" "$P/calcpkg"
	run "$L" --root "$P" --json eval --patch "$TMP/py.diff"
	check_eq "src layout, moved in the working tree: eval exits 0" 0 "$RC"
	check_json_eq "src layout: PYTHONPATH=src from the base's layout, the tests import the package" \
		'[b["outcome"]["testRun"]["counts"]["passed"], b["outcome"]["testRun"]["counts"]["error"]]' '[2,0]'
else
	skip "eval discovery on a src layout" "/usr/bin/python3 has no pytest (python3-pytest)"
fi

# --- nothing to discover at the base: the working tree's Makefile does not count
N="$TMP/none"
mkdir -p "$N" && printf 'hello\n' >"$N/README" && (cd "$N" && git init -q && $GIT add -A && $GIT commit -qm base) || exit 1
printf 'hello again\n' >"$N/README"
(cd "$N" && git diff >"$TMP/readme.diff" && git checkout -q -- .)
printf 'test:\n\t@echo "1..1"\n\t@echo "ok 1 - from the working tree"\n' >"$N/Makefile"
run "$L" --root "$N" eval --patch "$TMP/readme.diff"
check_eq "no test command at the base: configuration error (78)" 78 "$RC"
check_contains "no test command at the base: the message names the base commit" "$ERR" "in the files of the base commit HEAD"

check_eq "no worktree left" 1 "$(git -C "$M" worktree list | wc -l)"
check_no_procs "no language server or test left" "$TMP"

# --- oversized files at the base are refused by their size, never loaded
# whole (the size is read from the object header first)
B="$TMP/big"
mkdir -p "$B" && printf 'test:\n\t@echo "1..1"\n\t@echo "ok 1 - fine"\n' >"$B/Makefile" &&
	head -c 1100000 /dev/zero | tr '\0' ' ' >"$B/.lanser.json" &&
	(cd "$B" && git init -q && $GIT add -A && $GIT commit -qm base) || exit 1
printf 'x\n' >"$B/notes.txt"
(cd "$B" && git add -N notes.txt && git diff >"$TMP/big.diff" && git rm -q --cached notes.txt && rm notes.txt)
printf '{}\n' >"$B/.lanser.json"   # the working tree's is small: the base's is read
run "$L" --root "$B" eval --patch "$TMP/big.diff"
check_eq "a base .lanser.json over 1 MiB: configuration error (78)" 78 "$RC"
check_contains "a base .lanser.json over 1 MiB: the message says so" "$ERR" "HEAD:.lanser.json is larger than 1048576 bytes"
