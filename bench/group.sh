#!/usr/bin/env bash
# bench/group.sh [--write] - scoring GRPO groups of 8 and 16 candidate patches on
# the C fixture (diagnostics before/after + tests), lanser against a naive
# script, in one run (issue 7, item 8).
#
#   lanser     `lanser --json group --jobs 2 p1 ... pN`: ONE base worktree with
#              ONE warm clangd; each candidate's texts as overlays (didChange),
#              relevant files re-diagnosed; tests of all candidates in
#              sandboxed worktrees two at a time, in parallel with the
#              diagnostics; rewards and advantages;
#   naive      per candidate: `git worktree add --detach`, `git apply`, the
#              compilation database written for the worktree, a cold
#              `lanser --no-daemon diag` of the whole worktree (a clangd start
#              per candidate), `make test`, `git worktree remove`; the base's
#              diagnostics once; one at a time, and two at a time.
# Rounds are interleaved (BENCH_GROUP_N rounds, default 3); medians and
# ratios. Checks that both ways agree on which candidates pass their tests
# and on which bring new errors. Prints a markdown section; --write replaces
# the "Group scoring" section of bench/RESULTS.md (between its markers).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
N=${BENCH_GROUP_N:-3}
bench_write_flag "${1:-}"

bench_scratch group
R=$W/cproj
bench_cproj "$R"
G=(git -C "$R" -c user.email=b@example.com -c user.name=bench)
BASE=$("${G[@]}" rev-parse HEAD)

P=$W/patches
mkdir -p "$P"
mkpatch() { (cd "$R" && eval "$2") && "${G[@]}" diff >"$P/$1.diff" && "${G[@]}" checkout -q -- .; }
mkpatch 1 "sed -i 's/{-1000, 1000}/{-1000, 999}/' src/list.c"
mkpatch 2 "sed -i 's/{-1000, 1000}/{-2000, 1000}/' src/list.c"
mkpatch 3 "sed -i 's/on the way in/on the way in (checked)/' src/list.c"
mkpatch 4 "sed -i 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h"
mkpatch 5 "sed -i 's/^int max_int/long max_int_renamed/' src/util.c"
mkpatch 6 "sed -i 's/if (v < lo)/if (0)/' src/util.c"
mkpatch 7 "sed -i 's|printf(\"1..%d|check(0, \"a new failing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
mkpatch 8 "sed -i 's|printf(\"1..%d|check(1, \"a new passing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
# 9-16: the same changes plus a comment at the end of src/main.c (distinct
# patches, the same outcomes)
for i in 1 2 3 4 5 6 7 8; do
	(cd "$R" && git apply "$P/$i.diff" && printf '/* candidate %d */\n' "$((i + 8))" >>src/main.c)
	"${G[@]}" diff >"$P/$((i + 8)).diff"
	"${G[@]}" checkout -q -- .
done

errors_of() { # a diag bundle on stdin: the number of error diagnostics
	/usr/bin/python3 -c 'import json, sys; print(sum(1 for f in json.load(sys.stdin)["facts"] if f["severity"] == "error"))'
}

BASE_ERRORS=$(LANSER_NO_DAEMON=1 "$L" --root "$R" --no-daemon --json diag 2>/dev/null | errors_of)

# naive_one I DIR: prints "cI pass|fail new-errors|clean"
naive_one() {
	local i=$1 d=$2 st=fail errs
	git -C "$R" worktree add -q --detach "$d" "$BASE" >/dev/null 2>&1
	git -C "$d" apply "$P/$i.diff" 2>/dev/null || true
	sed "s#@ROOT@#$d#g" "$d/compile_commands.json.in" >"$d/compile_commands.json"
	errs=$("$L" --root "$d" --no-daemon --json diag 2>/dev/null | errors_of)
	if make -C "$d" -s test >"$d.log" 2>&1; then
		st=pass
	fi
	git -C "$R" worktree remove --force "$d" >/dev/null 2>&1
	rm -f "$d.log"
	echo "c$i $st $([ "$errs" -gt "$BASE_ERRORS" ] && echo new-errors || echo clean)"
}
naive_serial() { # SIZE
	local i
	for i in $(seq "$1"); do naive_one "$i" "$W/naive-$i"; done
}
naive_pairs() { # SIZE
	local i
	for i in $(seq 1 2 "$1"); do
		naive_one "$i" "$W/naive-$i" >"$W/n$i" &
		naive_one "$((i + 1))" "$W/naive-$((i + 1))" >"$W/n$((i + 1))" &
		wait
	done
	for i in $(seq "$1"); do cat "$W/n$i"; done
}
lanser_run() { # SIZE: prints "cI pass|fail new-errors|clean"
	local patches=() i
	for i in $(seq "$1"); do patches+=("$P/$i.diff"); done
	"$L" --root "$R" --json group --jobs 2 "${patches[@]}" 2>/dev/null |
		/usr/bin/python3 -c '
import json, sys
b = json.load(sys.stdin)
for c in b["candidates"]:
    print("c" + c["id"], "pass" if c["tests"] == "passed" else "fail", "new-errors" if c["newErrors"] else "clean")
print("#adv", json.dumps(b["advantages"]["advantages"]), b["volatile"]["diagnosticsMs"], b["volatile"]["testsMs"], file=sys.stderr)'
}

declare -A T M
agree=yes
summary=
for size in 8 16; do
	for k in lanser naive1 naive2; do T[$k$size]=""; done
	for round in $(seq "$N"); do
		t0=$(bench_now_ms); LG=$(lanser_run "$size" 2>"$W/lanser.note"); t1=$(bench_now_ms); T[lanser$size]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
		t0=$(bench_now_ms); N1=$(naive_serial "$size"); t1=$(bench_now_ms); T[naive1$size]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
		t0=$(bench_now_ms); N2=$(naive_pairs "$size"); t1=$(bench_now_ms); T[naive2$size]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
		{ [ "$LG" = "$N1" ] && [ "$N2" = "$N1" ]; } || agree=no
	done
	if [ "$size" = 8 ]; then
		summary=$(printf '%s\n' "$N1" | awk '{ printf "%s%s %s/%s", s, $1, $2, $3; s = ", " }')
		note=$(grep '^#adv' "$W/lanser.note" || true)
	fi
done
rows() {
	local size l n1 n2
	for size in 8 16; do
		l=$(echo "${T[lanser$size]}" | bench_median); n1=$(echo "${T[naive1$size]}" | bench_median); n2=$(echo "${T[naive2$size]}" | bench_median)
		echo "| $size | \`lanser group --jobs 2\` | $l | $(bench_ratio "$l" "$size") | $(bench_ratio "$n1" "$l") (vs naive one at a time), $(bench_ratio "$n2" "$l") (vs naive 2 at a time) |"
		echo "| $size | naive script, one at a time | $n1 | $(bench_ratio "$n1" "$size") | 1 |"
		echo "| $size | naive script, 2 at a time | $n2 | $(bench_ratio "$n2" "$size") | |"
	done
}
left=$(git -C "$R" worktree list | wc -l)

report_text() {
	cat <<R
<!-- group: written by bench/group.sh; do not edit by hand -->
## Group scoring (issue 7)

\`bash bench/group.sh --write\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, $N interleaved rounds, medians in milliseconds. A GRPO group of 8 and one of 16 candidate patches on the C fixture (cproj; 9-16 are 1-8 plus a comment in \`src/main.c\`), each scored with diagnostics after the patch and its tests. lanser: \`lanser --json group --jobs 2 p1 ... pN\` (one base worktree, one warm clangd fed each candidate's texts as overlays, relevant files found through references and re-diagnosed; tests in sandboxed worktrees two at a time, in parallel with the diagnostics; rewards and GRPO advantages). naive: per candidate \`git worktree add\` + \`git apply\` + a compilation database for the worktree + a cold \`lanser --no-daemon diag\` of the whole worktree (a clangd start per candidate) + \`make test\` + \`git worktree remove\`, no sandbox; the base's diagnostics once.

| candidates | way | group (ms) | per candidate (ms) | naive / lanser |
|--:|---|--:|--:|--:|
$(rows)

Reading: the naive script pays a clangd start, a parse of every translation unit and an index per candidate; lanser starts clangd once, and a candidate's diagnostics cost the rebuild of the files it touches and of the files that reference what it touched; its tests run while the server works. lanser also does more per candidate: the jail and conflict checks, sandboxed (isolated, limited) build and tests, per-test results, rewards and advantages.

Checks: lanser and the naive script agree on every candidate (tests pass/fail, new errors or not): **$agree** ($summary); worktrees left in the repository after the runs: $((left - 1)). Last lanser run of 8 (advantages, diagnostics ms, tests ms): \`${note#\#adv }\`. All rounds (8, then 16): lanser: ${T[lanser8]}/ ${T[lanser16]}; naive: ${T[naive18]}/ ${T[naive116]}; naive pairs: ${T[naive28]}/ ${T[naive216]}.
<!-- /group -->
R
}
report=$(report_text)
printf '%s\n' "$report"
if [ "$WRITE" = 1 ]; then
	bench_write_section group "$report"
fi
[ "$agree" = yes ]
