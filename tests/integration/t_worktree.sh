#!/usr/bin/env bash
# Candidate worktrees: 8 patches on the C fixture, each in a worktree of its
# own from the base commit, two at a time, give the same records as one at
# a time; nothing is left in the repository; a killed lanser leaves stale
# worktrees that the next start prunes.
. "$(dirname "$0")/lib.sh"

R=$(fixture cproj)
# never run from the repository lanser is built in: any default root is the fixture
cd "$R" || exit 1
G=(git -C "$R" -c user.email=t@example.com -c user.name=t)
cat >"$R/.lanser.json" <<'EOF'
{"build": ["make", "tests/test_list"], "test": ["make", "test"],
 "limits": {"wallMs": 60000}}
EOF
"${G[@]}" add -A && "${G[@]}" commit -qm base
BASE=$("${G[@]}" rev-parse HEAD)
PD=$TMP/patches
mkdir -p "$PD"

# mkpatch N COMMAND: the diff COMMAND makes to the fixture, as candidate N
mkpatch() {
	(cd "$R" && eval "$2") && "${G[@]}" diff >"$PD/$1.diff" && "${G[@]}" checkout -q -- .
}
mkpatch 1 "sed -i 's/{-1000, 1000}/{-1000, 999}/' src/list.c"                 # a test fails
mkpatch 2 "sed -i 's/{-1000, 1000}/{-2000, 1000}/' src/list.c"                # passes
mkpatch 3 "sed -i 's/on the way in/on the way in (checked)/' src/list.c"      # comment: passes
mkpatch 4 "printf 'int broken(;\n' >> src/util.c"                             # build breaks
mkpatch 5 "sed -i 's/^int max_int/long max_int_renamed/' src/util.c"          # only main.c (not built by the tests) calls it: passes
mkpatch 6 "sed -i 's/return v < lo ? lo : v > hi ? hi : v;/return hi;/; s/if (v < lo)/if (0)/' src/util.c"
mkpatch 7 "sed -i 's|printf(\"1..%d|check(0, \"a new failing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
mkpatch 8 "sed -i 's|printf(\"1..%d|check(1, \"a new passing check\");\n\tprintf(\"1..%d|' tests/test_list.c"
# a patch that does not apply: context that is not in the base
sed 's/static const int limits/static const int LIMITS_NOT_THERE/' "$PD/1.diff" >"$PD/9.diff"
for i in 1 2 3 4 5 6 7 8; do
	[ -s "$PD/$i.diff" ] || fail "patch $i is not empty" "mkpatch $i made no change"
done

PATCHES=()
for i in 1 2 3 4 5 6 7 8 9; do PATCHES+=(--patch "$PD/$i.diff"); done

# jsonl EXPR FILE: EXPR over `rs`, the list of records of a JSONL file
jsonl() {
	"$PY" -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":")))' "$1" "$2"
}

run_reaped 300 "$L" --root "$R" --json test --jobs 2 "${PATCHES[@]}"
printf '%s\n' "$OUT" >"$TMP/par.jsonl"
check_eq "8+1 candidates, 2 at a time: exit 0 (failing candidates are results)" 0 "$RC"
check_eq "2 at a time: nothing left behind" "0 0" "$ORPHANS $ZOMBIES"
check_eq "2 at a time: nine records" 9 "$(jsonl 'len(rs)' "$TMP/par.jsonl")"
check_eq "2 at a time: the outcomes" \
	'["c1 failed","c2 passed","c3 passed","c4 build-failed","c5 passed","c6 failed","c7 failed","c8 passed","c9 patch-failed"]' \
	"$(jsonl '[r["request"]["candidate"] + " " + r["outcome"]["status"] for r in rs]' "$TMP/par.jsonl")"
check_eq "2 at a time: c1 fails the clamp test" '["push clamps large values"]' \
	"$(jsonl '[t["id"] for t in rs[0]["outcome"]["tests"] if t["status"] == "failed"]' "$TMP/par.jsonl")"
check_eq "2 at a time: c8 has its new passing test" 7 \
	"$(jsonl 'rs[7]["outcome"]["counts"]["passed"]' "$TMP/par.jsonl")"
check_eq "2 at a time: c9 is an apply conflict" APPLY_CONFLICT \
	"$(jsonl 'rs[8]["outcome"]["patch"]["code"]' "$TMP/par.jsonl")"
check_eq "2 at a time: every candidate starts from the base commit" "[\"$BASE\"]" \
	"$(jsonl 'sorted(set(r["request"]["base"] for r in rs))' "$TMP/par.jsonl")"
check_eq "2 at a time: isolated" '["namespaces"]' \
	"$(jsonl 'sorted(set(r["isolation"] for r in rs if r["outcome"]["status"] != "patch-failed"))' "$TMP/par.jsonl")"
check_eq "2 at a time: two worktrees were used, reset between candidates" 2 \
	"$(jsonl 'len(set(r["meta"]["volatile"]["worktree"] for r in rs))' "$TMP/par.jsonl")"

run_reaped 300 "$L" --root "$R" --json test --jobs 1 "${PATCHES[@]}"
printf '%s\n' "$OUT" >"$TMP/ser.jsonl"
check_eq "one at a time: exit 0" 0 "$RC"
check_eq "parallel records equal serial ones (same bundleIds)" \
	"$(jsonl '[r["bundleId"] for r in rs]' "$TMP/ser.jsonl")" \
	"$(jsonl '[r["bundleId"] for r in rs]' "$TMP/par.jsonl")"
run_reaped 300 "$L" --root "$R" --json test --jobs 8 "${PATCHES[@]}"
printf '%s\n' "$OUT" >"$TMP/p8.jsonl"
check_eq "8 at a time (one worktree each) equal serial ones too" \
	"$(jsonl '[r["bundleId"] for r in rs]' "$TMP/ser.jsonl")" \
	"$(jsonl '[r["bundleId"] for r in rs]' "$TMP/p8.jsonl")"

# nothing left in the repository or the user's tree
check_eq "no worktree left" 1 "$("${G[@]}" worktree list | wc -l)"
check_eq "no worktree branch left" "" "$("${G[@]}" branch --list 'lanser-wt/*')"
check_eq "the user's tree untouched" "" "$("${G[@]}" status --porcelain)"
check_eq "HEAD untouched" "$BASE" "$("${G[@]}" rev-parse HEAD)"
check_eq "no worktree folder left in the state folder" "" "$(ls "$XDG_RUNTIME_DIR"/lanser/ws-*/wt/ 2>/dev/null)"

# --base alone tests the base revision in a worktree; a task file with candidates
run "$L" --root "$R" --json test --base HEAD
check_json_eq "--base HEAD: the base itself passes" .outcome.status passed
check_json_eq "--base HEAD: candidate named base" .request.candidate base
run "$L" --root "$R" test --base no-such-rev
check_eq "--base with an unknown revision: exit 3" 3 "$RC"
cat >"$TMP/task.json" <<EOF
{"schema": "lanser.task/1", "id": "group", "workspace": "$R", "base": "$BASE",
 "candidates": [{"id": "good", "patch": "patches/2.diff"}, {"id": "bad", "patch": "patches/1.diff"}],
 "FAIL_TO_PASS": ["push clamps large values"]}
EOF
run "$L" --json test --task "$TMP/task.json"
printf '%s\n' "$OUT" >"$TMP/task.jsonl"
check_eq "task with candidates: resolved per candidate" '["good true","bad false"]' \
	"$(jsonl '[r["request"]["candidate"] + " " + json.dumps(r["outcome"]["resolved"]) for r in rs]' "$TMP/task.jsonl")"

# --- crash recovery: kill lanser mid-run, the next start prunes
cat >"$TMP/slow.json" <<EOF
{"workspace": "$R", "test": ["/bin/sh", "-c", "sleep 1000 # slowmark$$"], "patch": "patches/2.diff"}
EOF
"$L" test --task "$TMP/slow.json" >/dev/null 2>&1 &
LPID=$!
for _ in $(seq 200); do
	pgrep -f "slowmark$$" >/dev/null && break
	sleep 0.05
done
check_eq "crash: a worktree exists while lanser runs" 2 "$("${G[@]}" worktree list | wc -l)"
kill -9 "$LPID"
wait "$LPID" 2>/dev/null
for _ in $(seq 100); do
	pgrep -f "slowmark$$" >/dev/null || break
	sleep 0.05
done
check_no_procs "crash: the sandboxed tests died with lanser" "slowmark$$"
check_eq "crash: the killed run left its worktree" 2 "$("${G[@]}" worktree list | wc -l)"
run "$L" --root "$R" test --patch "$PD/2.diff"
check_eq "crash: the next run works" 0 "$RC"
check_contains "crash: the next start says it pruned" "$ERR" "pruned 1 stale candidate worktree"
check_eq "crash: no worktree left after it" 1 "$("${G[@]}" worktree list | wc -l)"
check_eq "crash: no branch left after it" "" "$("${G[@]}" branch --list 'lanser-wt/*')"
check_eq "crash: no folder left after it" "" "$(ls "$XDG_RUNTIME_DIR"/lanser/ws-*/wt/ 2>/dev/null)"
check_eq "crash: no stale cgroup left" "" \
	"$(ls /sys/fs/cgroup/pids/lanser 2>/dev/null | grep "^$(stat -Lc %i /proc/self/ns/pid)-$LPID\.")"

# --- Ctrl-C (SIGINT to lanser) mid-run: the run is cancelled, the tree is
# killed, the worktree removed
"$L" test --task "$TMP/slow.json" >"$TMP/int.out" 2>"$TMP/int.err" &
LPID=$!
for _ in $(seq 200); do
	pgrep -f "slowmark$$" >/dev/null && break
	sleep 0.05
done
kill -INT "$LPID"
wait "$LPID"
check_eq "SIGINT: lanser exits 73 (cancelled)" 73 "$?"
check_contains "SIGINT: the summary says cancelled" "$(cat "$TMP/int.out")" "cancelled"
check_no_procs "SIGINT: the sandboxed tests are gone" "slowmark$$"
check_eq "SIGINT: no worktree left" 1 "$("${G[@]}" worktree list | wc -l)"
check_eq "SIGINT: no branch left" "" "$("${G[@]}" branch --list 'lanser-wt/*')"

# --- a candidate's tests cannot write into the repository it came from:
# the main work tree and the common git directory are outside the worktree
CFG_BEFORE=$(cat "$R/.git/config")
cat >"$TMP/escape.json" <<EOF
{"workspace": "$R", "patch": "patches/2.diff",
 "test": ["/bin/sh", "-c", "echo x > '$R/escape-wt'; echo '[evil]' >> \"\$(sed 's/^gitdir: //' .git)/../../config\"; echo y > '$R/.git/hooks/pre-commit'; echo '1..1'; echo 'ok 1 - tried'"]}
EOF
run "$L" --json test --task "$TMP/escape.json"
check_json_eq "escape from a worktree: the run itself completes" .outcome.status passed
check_json_eq "escape from a worktree: isolated" .isolation namespaces
check_eq "escape from a worktree: nothing written in the main work tree" "" "$(ls "$R" | grep escape)"
check_eq "escape from a worktree: the repository's config untouched" "$CFG_BEFORE" "$(cat "$R/.git/config")"
check_eq "escape from a worktree: no hook planted" "" "$(ls "$R/.git/hooks" | grep -x pre-commit)"
# --- the fallback (no namespaces) with candidates: limits only, loudly;
# as root the tests keep uid 0 there (the uid mapping needs namespaces),
# bounded by the pids cgroup, and the note says so
run "$L" --root "$R" --json --no-isolation test --patch "$PD/2.diff"
check_json_eq "fallback candidate: isolation none" .isolation none
check_json_eq "fallback candidate: passes" .outcome.status passed
check_contains "fallback candidate: loud" "$ERR" "WARNING: TESTS RAN WITHOUT ISOLATION"
if [ "$(id -u)" = 0 ]; then
	check_contains "fallback candidate as root: the note says the tests ran as root" \
		"$(json .meta.volatile.isolationNote)" "ran as root"
fi
check_eq "fallback candidate: no worktree left" 1 "$("${G[@]}" worktree list | wc -l)"
