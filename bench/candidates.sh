#!/usr/bin/env bash
# bench/candidates.sh [--write] - time to evaluate a group of 8 candidate
# patches on the C fixture (apply + build + test), lanser against a naive
# script, in one run (issue 6).
#
#   lanser     `lanser --json test --jobs J --patch p1 ... --patch p8`: worktrees
#              (libgit2) at the base, the patch through the transactional
#              path, build and tests in the sandbox (namespaces, limits),
#              TAP parsed, one outcome record per candidate; J = 2 and 1;
#   naive      per candidate: `git worktree add --detach`, `git apply`,
#              `make tests/test_list && make test`, `git worktree remove`;
#              one at a time, and two at a time (background pairs).
# Rounds are interleaved (BENCH_CAND_N rounds, default 5); the report gives
# the median of each and the ratios. It also checks that both ways agree on
# which candidates pass. Prints a markdown section; --write replaces the
# "Candidate patches" section of bench/RESULTS.md (between its markers).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
N=${BENCH_CAND_N:-5}
bench_write_flag "${1:-}"

bench_scratch cand
R=$W/cproj
bench_copy_fixture "$R"
cat >"$R/.lanser.json" <<'EOF'
{"build": ["make", "tests/test_list"], "test": ["make", "test"]}
EOF
bench_commit "$R"
G=(git -C "$R" -c user.email=b@example.com -c user.name=bench)
BASE=$("${G[@]}" rev-parse HEAD)

P=$W/patches
mkdir -p "$P"
mkpatch() { (cd "$R" && eval "$2") && "${G[@]}" diff >"$P/$1.diff" && "${G[@]}" checkout -q -- .; }
mkpatch 1 "sed -i 's/{-1000, 1000}/{-1000, 999}/' src/list.c"
mkpatch 2 "sed -i 's/{-1000, 1000}/{-2000, 1000}/' src/list.c"
mkpatch 3 "sed -i 's/on the way in/on the way in (checked)/' src/list.c"
mkpatch 4 "printf 'int broken(;\n' >> src/util.c"
mkpatch 5 "sed -i 's/^int max_int/long max_int_renamed/' src/util.c"
mkpatch 6 "sed -i 's/if (v < lo)/if (0)/' src/util.c"
mkpatch 7 "sed -i 's|printf(\"1..%d|check(0, \"a new failing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
mkpatch 8 "sed -i 's|printf(\"1..%d|check(1, \"a new passing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
ARGS=()
for i in 1 2 3 4 5 6 7 8; do ARGS+=(--patch "$P/$i.diff"); done


# naive_one I DIR: one candidate the naive way; prints "cI pass|fail"
naive_one() {
	local i=$1 d=$2 st=fail
	git -C "$R" worktree add -q --detach "$d" "$BASE" >/dev/null 2>&1
	if git -C "$d" apply "$P/$i.diff" 2>/dev/null &&
	   make -C "$d" -s tests/test_list >/dev/null 2>&1 &&
	   make -C "$d" -s test >"$d.log" 2>&1; then
		st=pass
	fi
	git -C "$R" worktree remove --force "$d" >/dev/null 2>&1
	rm -f "$d.log"
	echo "c$i $st"
}

naive_serial() {
	local i
	for i in 1 2 3 4 5 6 7 8; do naive_one "$i" "$W/naive-$i"; done
}

naive_pairs() {
	local i
	for i in 1 3 5 7; do
		naive_one "$i" "$W/naive-$i" >"$W/n$i" &
		naive_one "$((i + 1))" "$W/naive-$((i + 1))" >"$W/n$((i + 1))" &
		wait
	done
	for i in 1 2 3 4 5 6 7 8; do cat "$W/n$i"; done
}

lanser_run() { # JOBS: prints "cI pass|fail"
	"$L" --root "$R" --json test --jobs "$1" "${ARGS[@]}" 2>/dev/null |
		/usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["request"]["candidate"], "pass" if r["outcome"]["status"] == "passed" else "fail")'
}

declare -A T
for k in lanser2 lanser1 naive1 naive2; do T[$k]=""; done
iso=$("$L" --root "$R" --json test --base HEAD 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["isolation"])')
for round in $(seq "$N"); do
	t0=$(bench_now_ms); L2=$(lanser_run 2); t1=$(bench_now_ms); T[lanser2]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
	t0=$(bench_now_ms); N1=$(naive_serial); t1=$(bench_now_ms); T[naive1]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
	t0=$(bench_now_ms); L1=$(lanser_run 1); t1=$(bench_now_ms); T[lanser1]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
	t0=$(bench_now_ms); N2=$(naive_pairs); t1=$(bench_now_ms); T[naive2]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}') "
done
m_l2=$(echo "${T[lanser2]}" | bench_median); m_l1=$(echo "${T[lanser1]}" | bench_median)
m_n1=$(echo "${T[naive1]}" | bench_median); m_n2=$(echo "${T[naive2]}" | bench_median)
agree=no
[ "$L2" = "$N1" ] && [ "$L1" = "$N1" ] && [ "$N2" = "$N1" ] && agree=yes
passing=$(printf '%s\n' "$N1" | awk '$2 == "pass" { printf "%s%s", s, $1; s = ", " }')
left=$(git -C "$R" worktree list | wc -l)

# (a function: a here-document inside $(...) trips bash's parser on its text)
report_text() {
	cat <<R
<!-- candidates: written by bench/candidates.sh; do not edit by hand -->
## Candidate patches (issue 6)

\`bash bench/candidates.sh --write\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs, $N interleaved rounds, medians in milliseconds. A group of 8 candidate patches on the C fixture (cproj: one patch fails a test, one breaks the build, one adds a failing and one a passing test, the others pass); each is applied to a fresh tree at the base commit, built (\`make tests/test_list\`) and tested (\`make test\`, TAP). lanser: \`lanser --json test --jobs J --patch ...\` (libgit2 worktrees reused by reset-to-base, the transactional apply, build and tests sandboxed with isolation **$iso**, TAP parsed, 8 outcome records). naive: per candidate \`git worktree add --detach\` + \`git apply\` + the two make commands + \`git worktree remove\`, no sandbox, exit status only.

| way | 8 candidates (ms) | per candidate (ms) | naive / lanser |
|---|--:|--:|--:|
| lanser, 2 at a time (\`--jobs 2\`) | $m_l2 | $(bench_ratio "$m_l2" 8) | $(bench_ratio "$m_n1" "$m_l2") (vs naive one at a time), $(bench_ratio "$m_n2" "$m_l2") (vs naive 2 at a time) |
| lanser, one at a time (\`--jobs 1\`) | $m_l1 | $(bench_ratio "$m_l1" 8) | $(bench_ratio "$m_n1" "$m_l1") |
| naive script, one at a time | $m_n1 | $(bench_ratio "$m_n1" 8) | 1 |
| naive script, 2 at a time | $m_n2 | $(bench_ratio "$m_n2" 8) | |

Reading: compiling dominates every candidate (about 70-90 ms of \`cc\` for \`tests/test_list\`), the same in both ways. Per candidate, lanser itself adds the reset to the base plus the transactional apply (10-30 ms: libgit2, a journal made durable before and after the write) and two sandboxed commands (about 1 ms each for namespaces, mounts and joining the pids cgroup); the naive script adds two \`git worktree\` processes and a \`git apply\`. The ratio near 1 is the point: isolation, limits, crash-safe application and per-test records cost about nothing next to a build. Per-stage times of each candidate are in its record (\`meta.volatile.durationMs\`).

Checks: lanser and the naive script agree on every candidate: **$agree** (passing: $passing); worktrees left in the repository after the runs: $((left - 1)). All rounds: lanser --jobs 2: ${T[lanser2]}; --jobs 1: ${T[lanser1]}; naive: ${T[naive1]}; naive pairs: ${T[naive2]}.
<!-- /candidates -->
R
}
report=$(report_text)
printf '%s\n' "$report"
if [ "$WRITE" = 1 ]; then
	bench_write_section candidates "$report"
fi
[ "$agree" = yes ]
