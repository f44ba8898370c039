#!/usr/bin/env bash
# `lanser group` end to end: a GRPO group of candidate patches on the C
# fixture (one server on the base worktree, overlays per candidate; tests in
# sandboxed worktrees, two at a time), one candidate whose tests hang (its
# own doing: the base's tests end in time, so it is scored, R_outcome 0),
# one that is not a patch (R_format 0); a limit the base hits too
# (unscorable, never 0); rewards and
# advantages checked against an independent computation in python3; a JSONL
# of completions on the Python fixture; traces that replay.
. "$(dirname "$0")/lib.sh"
need_lanser

C=$(fixture_base cproj) || exit 1
P=$(fixture_base pyproj) || exit 1
cd "$TMP" || exit 1

mkpatch() {
	(cd "$1" && sed -i "$3" "$4" && git diff >"$TMP/$2" && git checkout -q -- .)
	[ -s "$TMP/$2" ] || echo "mkpatch: $2 is empty" >&2
}
mkpatch "$C" good.diff 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c
mkpatch "$C" break.diff 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h
mkpatch "$C" testfail.diff 's/return hi;/return hi - 1;/' src/util.c
mkpatch "$C" hang.diff 's/^\tlist_init(&l);/\tfor (;;) { }\n\tlist_init(\&l);/' tests/test_list.c
printf 'I could not produce a patch.\n' >"$TMP/junk.diff"
mkpatch "$P" p-good.diff 's/return math.pi \* self.radius \*\* 2/return math.pi * (self.radius ** 2)/' shapes/circle.py
mkpatch "$P" p-break.diff 's/def scaled(self, factor: float)/def scaled(self, factor: float, extra: int)/' shapes/circle.py

(cd "$C" && git rm -q src/util.h && git diff --cached >"$TMP/delete.diff" && git reset -q --hard)

# a wall-clock limit that the hanging candidate runs into
printf '{"schema": "lanser.task/1", "id": "grp-c", "limits": {"wallMs": 6000}}\n' >"$TMP/task.json"

run "$L" --root "$C" --json group --task "$TMP/task.json" --jobs 2 --trace "$TMP/c.trace" --out "$TMP/bundles.jsonl" \
	"$TMP/good.diff" "$TMP/break.diff" "$TMP/testfail.diff" "$TMP/hang.diff" "$TMP/junk.diff"
check_eq "cproj group: exit 0 (unscorable members are results)" 0 "$RC"
printf '%s' "$OUT" >"$TMP/group.json"
check_json_eq "cproj group: five candidates in order, named after their files" '[c["id"] for c in b["candidates"]]' '["good","break","testfail","hang","junk"]'
check_json_eq "cproj group: the candidate whose tests hang is scored: its tests failed, reward 1 (R_format only)" \
	'[b["candidates"][3]["scorable"], b["candidates"][3]["tests"], b["candidates"][3]["reward"], b["candidates"][3]["advantage"] is not None]' '[true,"failed",1,true]'
check_eq "cproj group: ... because the base's build and tests end within the wall-clock limit (outcome.baseRun)" \
	'["wall"] true' "$("$PY" - "$TMP/c.trace" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    r = e.get("record") or e.get("bundle") or {}
    if e.get("type") == "outcome" and r.get("request", {}).get("candidate") == "hang":
        o = r["outcome"]
        print(json.dumps(o["test"]["limitsHit"]), json.dumps(o["baseRun"]["withinLimits"]))
EOF
)"
check_json_eq "cproj group: the text that is not a patch gets R_format 0 and reward 0" \
	'[b["candidates"][4]["scorable"], b["candidates"][4]["rFormat"], b["candidates"][4]["reward"]]' '[true,0,0]'
check_json_eq "cproj group: formats, outcomes" \
	'[(c["rFormat"], c["rOutcome"]) for c in b["candidates"]]' '[[1,1],[1,0],[1,0],[1,0],[0,0]]'
check_json_eq "cproj group: the header change brings 2 new errors" '[c["newErrors"] for c in b["candidates"]]' '[0,2,0,0,0]'
# expected rewards and advantages, independently of lanser's code:
# p-grpo R = F + O + O*P with P the bounded process reward of one step
# (S 1, c 1 -> 1): (0.5*dn + 0.4 + 0.5 + 0.1)/1.6, dn = (D0 - D)/max(D0, D, 1);
# GRPO (TRL preset) A = (r - mean)/(sample std + 1e-4) over the scorable ones
expect() {
	"$PY" - "$TMP/group.json" "$1" <<'EOF'
import json, statistics, sys
b = json.load(open(sys.argv[1]))
c = b["candidates"]
r = [x["reward"] for x in c]
def proc(d0, d):
    return (0.5 * (d0 - d) / max(d0, d, 1) + 0.4 + 0.5 + 0.1) / (2 * 0.5 + 0.4 + 2 * 0.1)
def close(want, got):
    return all((w is None and g is None) or (w is not None and g is not None and abs(w - g) < 1e-12)
               for w, g in zip(want, got))
if sys.argv[2] == "rewards":
    want = [1 + 1 + proc(0, 0), 1 + 0, 1 + 0, 1 + 0, 0]
    print(close(want, r) and "same" or "want %s got %s" % (want, r))
elif sys.argv[2] == "grpo":
    s = [x for x in r if x is not None]
    m, sd = statistics.mean(s), statistics.stdev(s)
    want = [None if x is None else (x - m) / (sd + 1e-4) for x in r]
    got = [x["advantage"] for x in c]
    print(close(want, got) and "same" or "want %s got %s" % (want, got))
elif sys.argv[2] == "drgrpo":
    m = sum(r) / len(r)
    want = [x - m for x in r]
    got = [x["advantage"] for x in c]
    print(close(want, got) and "same" or "want %s got %s" % (want, got))
EOF
}
check_eq "cproj group: rewards as computed by hand" same "$(expect rewards)"
check_eq "cproj group: GRPO advantages (TRL: sample std + 1e-4) over the scorable rewards" same "$(expect grpo)"
check_json_eq "cproj group: group statistics" '[b["advantages"]["scored"], b["advantages"]["mode"], b["advantages"]["preset"]]' '[5,"grpo","trl"]'
check_json_eq "cproj group: a bundle per candidate" 'all(c["bundleId"].startswith("sha256:") for c in b["candidates"])' true
check_eq "cproj group: --out has the candidates' eval bundles" \
	"$(json 'json.dumps([c["bundleId"] for c in b["candidates"]])')" \
	"$("$PY" -c "import json; print(json.dumps([json.loads(l)['bundleId'] for l in open('$TMP/bundles.jsonl')]))")"
# the same numbers through `lanser advantages`
REW=$(json 'json.dumps([c["reward"] for c in b["candidates"]])')
ADV=$(json 'json.dumps(b["advantages"]["advantages"])')
run sh -c "printf '%s\n' '$REW' | '$L' advantages"
check_json_eq "cproj group: lanser advantages gives the same advantages" 'json.dumps(b["advantages"])' "$ADV"
# the trace: edits, outcomes, rewards and the advantages, and it replays
check_eq "cproj group: trace events (edit, outcome, reward, advantages)" "5 4 9 1" \
	"$(for t in edit outcome reward advantages; do grep -c "\"type\":\"$t\"" "$TMP/c.trace"; done | xargs)"
run "$L" trace replay --verify "$TMP/c.trace"
check_eq "cproj group: trace replay --verify" 0 "$RC"
check_contains "cproj group: the rewards were recomputed" "$OUT" "9 rewards and 1 advantage group"
check_contains "cproj group: the candidates' eval bundles were checked" "$OUT" "verified: 5 candidate eval bundles"
# a trace whose episode reward was rewritten consistently (outcome 1 -> 0,
# reward 2.625 -> 1): the arithmetic holds, the candidate's bundle does not
"$PY" - "$TMP/c.trace" "$TMP/c-forged.trace" <<'EOF'
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("type") == "reward" and e.get("kind") == "episode" and e.get("candidate") == "good":
        e["terms"]["outcome"] = 0
        e["reward"] = 1
    out.append(json.dumps(e, separators=(",", ":")) + "\n")
open(sys.argv[2], "w").write("".join(out))
EOF
run "$L" trace replay --verify "$TMP/c-forged.trace"
check_eq "cproj group: a forged candidate reward is a replay mismatch (76)" 76 "$RC"
check_contains "cproj group: ... naming the candidate" "$ERR" "candidate good"
# exports are training data (docs/trace.md): one row per scored candidate,
# read back with the standard library in the shape each trainer expects
for f in trl openrlhf verl prm; do
	"$L" trace export --format $f "$TMP/c.trace" >"$TMP/export.$f.jsonl"
done
check_eq "cproj group: exports read back in TRL, OpenRLHF, verl and PRM shapes" ok "$("$PY" - "$TMP" <<'EOF'
import json, sys
d = sys.argv[1]
g = json.load(open(d + "/group.json"))
want = {c["id"]: c for c in g["candidates"] if c["reward"] is not None}
patches = {"good": open(d + "/good.diff").read(), "break": open(d + "/break.diff").read()}
def rows(f):
    return [json.loads(l) for l in open("%s/export.%s.jsonl" % (d, f))]
def check(ids, completions, rewards, advs):
    assert ids == list(want), (ids, list(want))
    assert rewards == [want[i]["reward"] for i in ids], rewards
    assert advs == [want[i]["advantage"] for i in ids], advs
    for i, c in zip(ids, completions):
        if i in patches:
            assert c == patches[i], (i, c)
t = rows("trl")
assert all(isinstance(r["prompt"], str) and isinstance(r["completion"], str) for r in t)
assert len(set(r["group"] for r in t)) == 1
assert [len(r["step_rewards"]) for r in t] == [1, 1, 1, 1, 0], [r["step_rewards"] for r in t]
check([r["id"] for r in t], [r["completion"] for r in t], [r["reward"] for r in t], [r["advantage"] for r in t])
o = rows("openrlhf")
check([r["id"] for r in o], [r["output"] for r in o], [r["reward"] for r in o], [r["advantage"] for r in o])
assert all(isinstance(r["input"], str) for r in o)
v = rows("verl")
assert all(r["prompt"][0]["role"] == "user" and r["reward_model"]["style"] == "rule" for r in v)
check(list(want), [r["extra_info"]["response"] for r in v], [r["reward_model"]["ground_truth"] for r in v],
      [r["extra_info"]["advantage"] for r in v])
assert len(set(r["extra_info"]["uid"] for r in v)) == 1
p = rows("prm")
labels = {r["id"]: r["labels"] for r in p}
assert labels == {"good": [True], "break": [False], "testfail": [False], "hang": [False], "junk": [False]}, labels
assert all(len(r["completions"]) == len(r["labels"]) for r in p)
print("ok")
EOF
)"
if "$PY" -c "import jsonschema" 2>/dev/null; then
	"$L" schema trace >"$TMP/trace.schema.json"
	check_eq "cproj group: every trace event validates against 'lanser schema trace'" 0 "$("$PY" -c "
import json, jsonschema
v = jsonschema.Draft202012Validator(json.load(open('$TMP/trace.schema.json')))
print(sum(1 for l in open('$TMP/c.trace') for _ in v.iter_errors(json.loads(l))))")"
fi
check_eq "cproj group: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"
check_eq "cproj group: no branch left" "" "$(git -C "$C" branch --list 'lanser-wt/*')"

# progress on a terminal (stderr a tty, text output): every phase of every
# candidate; none when stderr is not a terminal
if command -v script >/dev/null; then
	PROG=$(script -qec "'$L' --root '$C' group '$TMP/good.diff' '$TMP/junk.diff'" /dev/null 2>&1 | tr -d '\r')
	check_contains "cproj group on a terminal: progress of the patch" "$PROG" "lanser: good: testing"
	check_contains "cproj group on a terminal: ... until it is scored" "$PROG" "lanser: good: scored"
	check_contains "cproj group on a terminal: the text that is not a patch" "$PROG" "lanser: junk: not a patch"
	run "$L" --root "$C" group "$TMP/good.diff" "$TMP/junk.diff"
	check_not_contains "cproj group, stderr not a terminal: no progress" "$ERR" "scored"
	# each run's last phases say what happened: with a build command, a
	# build that fails, a diff that does not apply to the base, tests that
	# pass and fail; never a bare "tested"
	CB=$(fixture_base cproj cprog) || exit 1
	printf '{"build": ["make", "tests/test_list"], "test": ["make", "test"]}\n' >"$CB/.lanser.json"
	(cd "$CB" && git add .lanser.json && git -c user.email=t@example.com -c user.name=t commit -qm build) || exit 1
	sed 's/^-\treturn a > b ? a : b;/-\treturn a >>> b ? a : b;/' "$TMP/good.diff" >"$TMP/stale.diff"
	PROG=$(script -qec "'$L' --root '$CB' group '$TMP/good.diff' '$TMP/break.diff' '$TMP/testfail.diff' '$TMP/stale.diff' '$TMP/junk.diff'" /dev/null 2>&1 | tr -d '\r')
	check_contains "progress, build command: the good patch is built" "$PROG" "lanser: good: building"
	check_contains "progress: ... its tests pass" "$PROG" "lanser: good: tests passed"
	check_contains "progress: the header change: build failed" "$PROG" "lanser: break: build failed"
	check_contains "progress: the wrong clamp: tests failed" "$PROG" "lanser: testfail: tests failed"
	check_contains "progress: a diff whose context is not the base's: not applied" "$PROG" "lanser: stale: not applied"
	check_contains "progress: text without a diff: not a patch" "$PROG" "lanser: junk: not a patch"
	check_eq "progress: every candidate scored" 5 "$(printf '%s\n' "$PROG" | grep -c ': scored$')"
	check_not_contains "progress: no bare 'tested'" "$PROG" ": tested"
else
	skip "group progress on a terminal" "script(1) (util-linux) not installed"
fi

# a candidate's bundle is the one `lanser eval` gives it, whatever its group
C2ID=$(json '[c["bundleId"] for c in b["candidates"]][1]' "$(cat "$TMP/group.json")")
printf '{"schema": "lanser.task/1", "id": "grp-c", "limits": {"wallMs": 6000}, "patch": "good.diff"}\n' >"$TMP/task1.json"
run "$L" --root "$C" --json eval --task "$TMP/task1.json"
EID=$(json .bundleId)
run "$L" --root "$C" --json group --task "$TMP/task1.json" --jobs 1 "$TMP/break.diff"
check_eq "cproj: group member = lanser eval of the same candidate (same bundleId)" "$EID" "$(json '[c["bundleId"] for c in b["candidates"]][0]')"
check_eq "cproj: a member's bundle does not depend on its group or --jobs" "$C2ID" "$(json '[c["bundleId"] for c in b["candidates"]][1]')"

# one server, many views: a deleted header, then the base again, then a
# changed header, then the deletion again; every candidate sees only its own
run "$L" --root "$C" --json group --jobs 2 --out "$TMP/bundles2.jsonl" "$TMP/delete.diff" "$TMP/good.diff" "$TMP/break.diff" "$TMP/delete.diff"
check_eq "cproj delete/good/break/delete: exit 0" 0 "$RC"
check_json_eq "cproj delete/good/break/delete: new errors per candidate" '[c["newErrors"] for c in b["candidates"]]' '[4,0,2,4]'
check_json_eq "cproj delete: every user of the deleted header reports it missing" \
	'sorted(set(f["path"] for f in b["facts"] if f["message"] == "'"'"'util.h'"'"' file not found"))' \
	'["src/list.c","src/main.c","src/util.c","tests/test_list.c"]' "$(sed -n 1p "$TMP/bundles2.jsonl" 2>/dev/null || echo '{}')"
check_eq "cproj delete/good/break/delete: the base worktree's header came back (c2 clean)" 0 \
	"$(json '[c["newErrors"] for c in b["candidates"]][1]')"

# a base that cannot be put back (issue 18, item 7): the header `delete` deletes
# is not written back (the test hook LANSER_ENGINE_SIMULATE_RESTORE_FAILURE
# of engine/engine.h); the later candidates are unscorable, with the reason,
# instead of being diagnosed on a damaged base
run env LANSER_ENGINE_SIMULATE_RESTORE_FAILURE=delete "$L" --root "$C" --json group --jobs 2 \
	--out "$TMP/bundles3.jsonl" "$TMP/delete.diff" "$TMP/good.diff" "$TMP/break.diff"
check_eq "cproj failed restore: exit 0 (unscorable members are results)" 0 "$RC"
check_json_eq "cproj failed restore: delete keeps its own diagnostics (taken before the restore)" \
	'[b["candidates"][0]["scorable"], b["candidates"][0]["newErrors"]]' '[true,4]'
check_json_eq "cproj failed restore: the later candidates are unscorable, reward null" \
	'[(c["scorable"], c["reward"], c["advantage"]) for c in b["candidates"][1:]]' '[[false,null,null],[false,null,null]]'
check_json_eq "cproj failed restore: ... and say why" \
	'all("base worktree was not restored after candidate delete" in c["reason"] for c in b["candidates"][1:])' true
check_json_eq "cproj failed restore: their bundles exit 83 SANDBOX" \
	'[b["meta"]["exitCode"], b["outcome"]["reward"]["scorable"]]' '[83,false]' "$(sed -n 2p "$TMP/bundles3.jsonl" 2>/dev/null || echo '{}')"
check_eq "cproj failed restore: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"
run "$L" --root "$C" --json group --jobs 2 "$TMP/delete.diff" "$TMP/good.diff"
check_json_eq "cproj failed restore: the next run starts from a clean base" \
	'[(c["scorable"], c["newErrors"]) for c in b["candidates"]]' '[[true,4],[true,0]]'

# --- a limit of the harness: the base's own tests run past the wall clock,
# so no candidate is to blame: unscorable, never 0 (docs/rewards.md)
printf '{"schema": "lanser.task/1", "id": "grp-slow", "limits": {"wallMs": 2000}, "test": ["sh", "-c", "sleep 30"]}\n' >"$TMP/task-slow.json"
run "$L" --root "$C" --json group --task "$TMP/task-slow.json" --jobs 2 "$TMP/good.diff" "$TMP/testfail.diff"
check_eq "cproj group, a limit the base hits too: no scorable member, exit 83 SANDBOX" 83 "$RC"
check_json_eq "cproj group, a limit the base hits too: both unscorable, rewards null" \
	'[(c["scorable"], c["reward"]) for c in b["candidates"]]' '[[false,null],[false,null]]'
check_json_eq "cproj group, a limit the base hits too: ... because of the wall-clock limit" \
	'all("wall" in c["reason"] for c in b["candidates"])' true

# --- Ctrl-C: the hanging candidate's tests are killed, nothing is left
"$L" --root "$C" group --task "$TMP/task.json" "$TMP/good.diff" "$TMP/hang.diff" \
	>"$TMP/int.out" 2>"$TMP/int.err" &
GPID=$!
# wait (bounded) until the hanging test runs, in a worktree of this script
for _ in $(seq 300); do
	hit=
	for p in $(pgrep -f 'tests/test_list' 2>/dev/null); do
		case "$(readlink "/proc/$p/cwd" 2>/dev/null)" in "$TMP"/*) hit=$p ;; esac
	done
	[ -n "$hit" ] && break
	sleep 0.1
done
kill -INT "$GPID"
wait "$GPID"
check_eq "cproj group, SIGINT while a test hangs: exit 73 CANCELLED" 73 "$?"
check_eq "cproj group, SIGINT: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"

# --- completions as JSONL on the Python fixture, Dr. GRPO with verl's preset
"$PY" - "$TMP" <<'EOF'
import json, sys
t = sys.argv[1]
good, bad = open(t + "/p-good.diff").read(), open(t + "/p-break.diff").read()
with open(t + "/completions.jsonl", "w") as f:
    f.write(json.dumps({"id": "fenced", "patch": "The fix:\n```diff\n" + good + "```\nDone."}) + "\n")
    f.write(json.dumps({"id": "breaks", "patch": bad}) + "\n")
    f.write("{this is not json\n")
    f.write(json.dumps({"id": "nopatch", "text": "no patch field"}) + "\n")
    f.write(json.dumps({"id": "hostile", "patch": "diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1,2 @@\n [core]\n+\thooksPath = /tmp\n"}) + "\n")
    f.write(json.dumps({"id": "nul", "patch": good.replace("(self.radius ** 2)", "(self.radius\u0000 ** 2)")}) + "\n")
EOF
run "$L" --root "$P" --json group --in "$TMP/completions.jsonl" --mode dr_grpo --preset verl
check_eq "pyproj completions: exit 0" 0 "$RC"
check_json_eq "pyproj completions: ids (given, else by position)" '[c["id"] for c in b["candidates"]]' '["fenced","breaks","c3","nopatch","hostile","nul"]'
check_json_eq "pyproj completions: R_format (not JSON, no patch, into .git/, a NUL byte: 0)" '[c["rFormat"] for c in b["candidates"]]' '[1,1,0,0,0,0]'
check_eq "pyproj completions: nothing written into .git/config" "" "$(grep hooksPath "$P/.git/config")"
check_json_eq "pyproj completions: the fenced diff was used and its tests pass" '[b["candidates"][0]["tests"], b["candidates"][0]["reward"]]' '["passed",2.625]'
check_json_eq "pyproj completions: the breaking one has 2 new errors, failing tests" '[b["candidates"][1]["newErrors"], b["candidates"][1]["tests"]]' '[2,"failed"]'
printf '%s' "$OUT" >"$TMP/group.json"
check_eq "pyproj completions: Dr. GRPO advantages are r - mean" same "$(expect drgrpo)"
check_json_eq "pyproj completions: not-a-patch reasons" '[b["candidates"][2]["formatNote"][:12], b["candidates"][3]["formatNote"][:12]]' '["line 3 is no","line 4 has n"]'
run "$L" --root "$P" group "$TMP/p-good.diff" "$TMP/p-good.diff"
check_eq "pyproj: two equal candidates, exit 0" 0 "$RC"
check_contains "pyproj: an all-equal group is flagged" "$OUT" "all equal (no signal)"

# --- usage
run "$L" --root "$C" group
check_eq "group without candidates: 129" 129 "$RC"
run "$L" --root "$C" group --mode step "$TMP/good.diff"
check_eq "group --mode step: 129" 129 "$RC"
run "$L" --root "$C" group --in "$TMP/nonexistent.jsonl"
check_eq "group --in missing file: 3" 3 "$RC"
check_eq "pyproj: no worktree left" 1 "$(git -C "$P" worktree list | wc -l)"
check_no_procs "no language server or test left" "$TMP"
