#!/usr/bin/env bash
# bench/build_reuse.sh - reusing the base build across a GRPO group (issue 13,
# item 8): a generated CMake C project (BENCH_REUSE_FILES source files,
# default 40, a library and a ctest suite of 8 tests), a group of 16
# candidates each changing one function of a different file (all still pass).
#
#   lanser        `lanser --json group --jobs 2 c1.diff ... c16.diff`: each of
#                 the two test worktrees builds the base once, keeps its
#                 outputs (.lanser-build/) aside and every candidate starts
#                 from them (cmake rebuilds the changed file and relinks);
#                 diagnostics before/after with one warm clangd beside it
#   lanser, no reuse   the same with LANSER_NO_BUILD_REUSE=1: every
#                 candidate configures and builds from scratch
#   naive         per candidate: `git worktree add --detach`, `git apply`,
#                 `cmake -S . -B build && cmake --build build -j2`, `ctest`,
#                 `git worktree remove`; two candidates at a time (xargs -P2)
#
# One round each (BENCH_REUSE_ROUNDS, default 1), interleaved; wall seconds
# and ratios. Checks that the three agree: every candidate passes its tests.
# Prints a markdown section; --write replaces the "Build reuse" section of
# bench/RESULTS.md (between its markers).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
FILES=${BENCH_REUSE_FILES:-40}
ROUNDS=${BENCH_REUSE_ROUNDS:-1}
bench_write_flag "${1:-}"

LOAD0=$(bench_load)
bench_scratch reuse
trap 'git -C "$W/p" worktree prune 2>/dev/null; rm -rf "$W"' EXIT
P=$W/p
mkdir -p "$P/src" "$P/tests"

# --- the project: FILES translation units of 60 small functions each
python3 - "$P" "$FILES" <<'EOF'
import sys
p, n = sys.argv[1], int(sys.argv[2])
hdr = ["#ifndef GEN_H", "#define GEN_H"]
for i in range(n):
    lines = ['#include "gen.h"', ""]
    for k in range(60):
        lines += ["int f%d_%d(int x)" % (i, k), "{",
                  "\tint acc = x;",
                  "\tfor (int j = 0; j < %d; j++)" % (k % 7 + 1),
                  "\t\tacc = acc * 31 + j + %d;" % k,
                  "\treturn acc %% 1000 + %d;" % k, "}", ""]
        hdr.append("int f%d_%d(int x);" % (i, k))
    lines += ["int entry%d(void)" % i, "{", "\treturn f%d_0(0);" % i, "}", ""]
    hdr.append("int entry%d(void);" % i)
    open("%s/src/gen%d.c" % (p, i), "w").write("\n".join(lines))
hdr.append("#endif")
open(p + "/src/gen.h", "w").write("\n".join(hdr) + "\n")
cm = ["cmake_minimum_required(VERSION 3.16)", "project(gen C)", "enable_testing()",
      "file(GLOB GEN_SRC src/*.c)", "add_library(gen ${GEN_SRC})",
      "target_include_directories(gen PUBLIC src)"]
for t in range(8):
    i = t * n // 8
    open("%s/tests/t%d.c" % (p, t), "w").write(
        '#include "gen.h"\nint main(void) { return entry%d() == f%d_0(0) ? 0 : 1; }\n' % (i, i))
    cm += ["add_executable(t%d tests/t%d.c)" % (t, t), "target_link_libraries(t%d gen)" % t,
           "add_test(NAME t%d COMMAND t%d)" % (t, t)]
open(p + "/CMakeLists.txt", "w").write("\n".join(cm) + "\n")
open(p + "/.gitignore", "w").write("build/\n")
EOF
G=(git -C "$P" -c user.email=b@example.com -c user.name=bench)
"${G[@]}" init -q
"${G[@]}" add -A
"${G[@]}" commit -qm base
for c in $(seq 1 16); do
	f=$(( (c * 7) % FILES ))
	sed -i "s/acc = acc \* 31 + j + 5;/acc = acc * 31 + j + 5 + 0 * $c;/" "$P/src/gen$f.c"
	"${G[@]}" diff >"$W/c$c.diff"
	"${G[@]}" checkout -q -- .
	[ -s "$W/c$c.diff" ] || { echo "candidate $c is empty" >&2; exit 1; }
done
CANDS=$(for c in $(seq 1 16); do printf '%s ' "$W/c$c.diff"; done)

now() { python3 -c 'import time; print(time.monotonic())'; }

run_lanser() { # out, env...
	local out=$1
	shift
	# shellcheck disable=SC2086
	env "$@" "$L" --root "$P" --json group --jobs 2 $CANDS >"$out"
}

naive_one() { # candidate diff
	local d=$W/naive-$(basename "$1" .diff)
	git -C "$P" worktree add -q --detach "$d" HEAD
	git -C "$d" apply "$1"
	(cd "$d" && cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
		cmake --build build -j2 >/dev/null && ctest --test-dir build >/dev/null) &&
		echo pass >"$d.result" || echo fail >"$d.result"
	mv "$d.result" "$W/$(basename "$1" .diff).naive"
	git -C "$P" worktree remove --force "$d"
}
export -f naive_one
export P W

declare -a T_REUSE T_NOREUSE T_NAIVE
for r in $(seq 1 "$ROUNDS"); do
	t0=$(now); run_lanser "$W/reuse.json"; t1=$(now)
	T_REUSE+=("$(python3 -c "print($t1 - $t0)")")
	t0=$(now); run_lanser "$W/noreuse.json" LANSER_NO_BUILD_REUSE=1; t1=$(now)
	T_NOREUSE+=("$(python3 -c "print($t1 - $t0)")")
	t0=$(now)
	# shellcheck disable=SC2086
	printf '%s\n' $CANDS | xargs -P2 -I{} bash -c 'naive_one "$1"' _ {}
	t1=$(now)
	T_NAIVE+=("$(python3 -c "print($t1 - $t0)")")
done

LOAD1=$(bench_load)
RC=0
python3 - "$W" "$FILES" "$ROUNDS" "$LOAD0 / $LOAD1 ($(nproc) CPUs)" \
	"${T_REUSE[*]}" "${T_NOREUSE[*]}" "${T_NAIVE[*]}" >"$W/section.md" <<'EOF' || RC=$?
import json, statistics, sys
w, files, rounds, load = sys.argv[1:5]
reuse, noreuse, naive = ([float(x) for x in a.split()] for a in sys.argv[5:8])
def passing(f):
    g = json.load(open(f))
    return [c["tests"] for c in g["candidates"]]
a, b = passing(w + "/reuse.json"), passing(w + "/noreuse.json")
n = ["passed" if open("%s/c%d.naive" % (w, c)).read().strip() == "pass" else "failed"
     for c in range(1, 17)]
agree = a == b == n == ["passed"] * 16
m = statistics.median
out = ["<!-- build-reuse: bench/build_reuse.sh -->", "## Build reuse across a group",
       "",
       "`bash bench/build_reuse.sh --write`: a generated CMake C project (%s files of 60 functions, "
       "a library and 8 ctest tests), a group of 16 candidates each changing one function of a "
       "different file; `--jobs 2`; %s round(s), median wall seconds. *lanser* includes the "
       "diagnostics before/after of every candidate (one warm clangd), which the naive script "
       "does not do. Load average at start / end: %s." % (files, rounds, load),
       "",
       "| way | wall s | / naive |",
       "|---|--:|--:|",
       "| lanser group (base build reused) | %.1f | %.2f |" % (m(reuse), m(reuse) / m(naive)),
       "| lanser group, `LANSER_NO_BUILD_REUSE=1` | %.1f | %.2f |" % (m(noreuse), m(noreuse) / m(naive)),
       "| naive: worktree, cmake configure + build, ctest per candidate, 2 at a time | %.1f | 1 |" % m(naive),
       "",
       "Reuse against no reuse: %.2fx the time. All three agree that the 16 candidates pass: %s."
       % (m(reuse) / m(noreuse), "yes" if agree else "NO (%s / %s / %s)" % (a, b, n)),
       "<!-- /build-reuse -->"]
print("\n".join(out))
sys.exit(0 if agree else 1)
EOF
cat "$W/section.md"
if [ "$WRITE" = 1 ]; then
	bench_write_section build-reuse "$(cat "$W/section.md")"
fi
exit "$RC"
