#!/usr/bin/env bash
# `lanser eval` end to end on the C and Python fixtures: real clangd and
# pyright (diagnostics before/after, dependents found through references),
# real make/cc/TAP and pytest in the sandbox, rewards, the policy verdict,
# SARIF, exit codes (0, 84, 70, 71, 77, 78), determinism, nothing left behind.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture_base cproj) || exit 1
P=$(fixture_base pyproj) || exit 1
cd "$TMP" || exit 1

# mkpatch DIR NAME SED-EXPR FILE : a git diff of one sed edit, the tree restored
mkpatch() {
	(cd "$1" && sed -i "$3" "$4" && git diff >"$TMP/$2" && git checkout -q -- .)
	[ -s "$TMP/$2" ] || echo "mkpatch: $2 is empty" >&2
}
mkpatch "$C" c-good.diff 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c
mkpatch "$C" c-break.diff 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h
mkpatch "$C" c-testfail.diff 's/return hi;/return hi - 1;/' src/util.c
mkpatch "$P" p-good.diff 's/return math.pi \* self.radius \*\* 2/return math.pi * (self.radius ** 2)/' shapes/circle.py
mkpatch "$P" p-break.diff 's/def scaled(self, factor: float)/def scaled(self, factor: float, extra: int)/' shapes/circle.py
# context that is not in the file: a conflict
sed 's/^ \(.*\)max_int(int a, int b)$/ \1max_int(int x, int y)/; s/^ {$/ {  /' "$TMP/c-good.diff" >"$TMP/c-conflict.diff"
printf 'diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n@@ -1 +1,2 @@\n [core]\n+\thooksPath = /tmp\n' >"$TMP/hostile.diff"
printf 'diff --git a/../outside.c b/../outside.c\nnew file mode 100644\n--- /dev/null\n+++ b/../outside.c\n@@ -0,0 +1 @@\n+int x;\n' >"$TMP/hostile2.diff"
printf 'this is not a diff\n' >"$TMP/junk.diff"

# --- C: a good patch
run "$L" --root "$C" eval --patch "$TMP/c-good.diff"
check_eq "cproj good: exit 0" 0 "$RC"
check_contains "cproj good: verdict" "$OUT" "eval: ACCEPTED"
check_contains "cproj good: tests ran" "$OUT" "tests: passed (6 passed, 0 failed, 0 errors)"
run "$L" --root "$C" --json eval --patch "$TMP/c-good.diff"
check_eq "cproj good --json: exit 0" 0 "$RC"
check_json_eq "cproj good: reward > 0" 'b["outcome"]["reward"]["reward"] > 0' true
check_json_eq "cproj good: p-grpo R = 1 + 1 + 1*R_process, R_process = (0.4 + 0.6)/1.6 (D 0 -> 0, S 1, c 1 -> 1)" \
	'abs(b["outcome"]["reward"]["reward"] - (1 + 1 + 1 * ((0.5*0 + 0.4*1 + 0.1*0) + 0.5 + 0.1) / (2*0.5 + 0.4 + 2*0.1))) < 1e-12' true
check_json_eq "cproj good: relevant files are the touched file and the files referencing max_int" \
	'b["outcome"]["diagnostics"]["relevant"]' '["src/main.c","src/util.c","src/util.h"]'
check_json_eq "cproj good: no new diagnostics" '[len(b["facts"]), b["outcome"]["diagnostics"]["newErrors"]]' '[0,0]'
check_json_eq "cproj good: the test record is referenced" 'b["outcome"]["testRun"]["record"].startswith("sha256:")' true
check_json_eq "cproj good: verdict accepted" .outcome.verdict.accepted true
check_json_eq "cproj good: clangd recorded" 'b["environment"]["servers"][0]["profile"]' clangd
check_json_eq "cproj good: no absolute path outside meta.volatile" \
	"'$C' not in json.dumps({k: v for k, v in b.items() if k != 'meta'}) and '/wt/' not in json.dumps({k: v for k, v in b.items() if k != 'meta'})" true
if "$PY" -c "import jsonschema" 2>/dev/null; then
	"$L" schema bundle >"$TMP/bundle.schema.json"
	printf '%s' "$OUT" >"$TMP/eval.json"
	check_rc_as "cproj good: the eval bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/eval.json')), json.load(open('$TMP/bundle.schema.json')))"
	OUT=$(cat "$TMP/eval.json")
fi
ID1=$(json .bundleId)
R1=$(json .outcome.reward.reward)
run "$L" --root "$C" --json eval --patch "$TMP/c-good.diff"
check_eq "cproj good: the same bundleId twice" "$ID1" "$(json .bundleId)"
check_eq "cproj good: the same reward twice" "$R1" "$(json .outcome.reward.reward)"

# --- C: a patch that breaks compilation (a header change breaks its users)
run "$L" --root "$C" --json eval --patch "$TMP/c-break.diff" --sarif "$TMP/c.sarif"
check_eq "cproj break: exit 84 POLICY_REJECTED" 84 "$RC"
if "$PY" -c "import jsonschema" 2>/dev/null; then
	printf '%s' "$OUT" >"$TMP/eval.json"
	check_rc_as "cproj break: the eval bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/eval.json')), json.load(open('$TMP/bundle.schema.json')))"
	OUT=$(cat "$TMP/eval.json")
fi
check_json_eq "cproj break: outcome 0" .outcome.reward.rOutcome 0
check_json_eq "cproj break: the tests failed (the build broke)" .outcome.status failed
check_json_eq "cproj break: new errors in the user of the header and in the definition" \
	'sorted(set((f["path"], f["severity"]) for f in b["facts"]))' '[["src/main.c","error"],["src/util.c","error"]]'
check_json_eq "cproj break: D 0 -> 2" '[b["outcome"]["diagnostics"]["dBefore"], b["outcome"]["diagnostics"]["dAfter"]]' '[0,2]'
check_json_eq "cproj break: rejected for new errors and tests" 'len(b["outcome"]["verdict"]["reasons"])' 2
check_json_eq "cproj break: p-grpo reward is R_format alone" .outcome.reward.reward 1
check_json_eq "cproj break: R_process bounded, D 0 -> 2: (-0.5 + 0.4 + 0.6)/1.6" .outcome.reward.rProcess 0.3125
check_json_eq "cproj break: SARIF 2.1.0 from lanser" '[b["version"], b["runs"][0]["tool"]["driver"]["name"]]' \
	'["2.1.0","lanser"]' "$(cat "$TMP/c.sarif")"
check_json_eq "cproj break: SARIF results are the new diagnostics, relative uris" \
	'sorted((r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]) for r in b["runs"][0]["results"])' \
	'[["error","src/main.c"],["error","src/util.c"]]' "$(cat "$TMP/c.sarif")"
check_json_eq "cproj break: SARIF result fields" \
	'all(r["ruleId"] and r["message"]["text"] and set(r["locations"][0]["physicalLocation"]["region"]) == {"startLine","startColumn","endLine","endColumn"} for r in b["runs"][0]["results"])' \
	true "$(cat "$TMP/c.sarif")"
check_json_eq "cproj break: SARIF region of the call with too few arguments" \
	'[r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in b["runs"][0]["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/main.c"]' \
	"[$(grep -n 'max_int(' "$C/src/main.c" | head -1 | cut -d: -f1)]" "$(cat "$TMP/c.sarif")"

# --- C: a patch that compiles but breaks a test
run "$L" --root "$C" --json eval --patch "$TMP/c-testfail.diff"
check_eq "cproj test failure: exit 84" 84 "$RC"
check_json_eq "cproj test failure: no new diagnostics, outcome 0" '[len(b["facts"]), b["outcome"]["reward"]["rOutcome"]]' '[0,0]'
check_json_eq "cproj test failure: one failing test" .outcome.testRun.counts.failed 1

# --- C: conflicts, jail, malformed
run "$L" --root "$C" eval --patch "$TMP/c-conflict.diff"
check_eq "conflicting patch: exit 70" 70 "$RC"
check_contains "conflicting patch: says so" "$OUT" "not a usable patch: APPLY_CONFLICT"
run "$L" --root "$C" eval --patch "$TMP/hostile.diff"
check_eq "patch into .git/config: exit 71" 71 "$RC"
run "$L" --root "$C" eval --patch "$TMP/hostile2.diff"
check_eq "patch outside the workspace: exit 71" 71 "$RC"
check_eq "nothing written outside" no "$( [ -e "$TMP/outside.c" ] && echo yes || echo no)"
run "$L" --root "$C" --json eval --patch "$TMP/junk.diff"
check_eq "not a diff: exit 77" 77 "$RC"
check_json_eq "not a diff: R_format 0" .outcome.reward.rFormat 0
run "$L" --root "$C" eval --patch "$TMP/missing.diff"
check_eq "missing patch file: exit 3" 3 "$RC"
run "$L" --root "$C" eval
check_eq "no patch: usage 129" 129 "$RC"

# --- the policy from .lanser.json (of the base commit: docs/eval.md)
# setcfg JSON : commit JSON as cproj's .lanser.json (an empty JSON removes it)
setcfg() {
	if [ -n "$1" ]; then printf '%s\n' "$1" >"$C/.lanser.json"; else rm -f "$C/.lanser.json"; fi
	(cd "$C" && $GIT add -A .lanser.json && $GIT commit -qm "config: $1") || exit 1
}
setcfg '{"policy": {"requireTests": false}}'
run "$L" --root "$C" eval --patch "$TMP/c-testfail.diff"
check_eq "policy requireTests false: a failing test is acceptable" 0 "$RC"
setcfg '{"policy": {"minReward": 2.7}}'
run "$L" --root "$C" eval --patch "$TMP/c-good.diff"
check_eq "policy minReward 2.7: the good patch (2.625) is rejected" 84 "$RC"
check_contains "policy minReward: the reason" "$OUT" "below policy.minReward 2.7"
setcfg '{"policy": {"maxNewErrors": 2, "requireTests": false}}'
run "$L" --root "$C" eval --patch "$TMP/c-break.diff"
check_eq "policy maxNewErrors 2: two new errors pass" 0 "$RC"
setcfg '{"policy": {"maxNewErrors": "none"}}'
run "$L" --root "$C" eval --patch "$TMP/c-good.diff"
check_eq "a malformed policy: exit 78" 78 "$RC"
setcfg ''

# --- Python
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff"
check_eq "pyproj good: exit 0" 0 "$RC"
check_json_eq "pyproj good: pyright, 6 tests passed" \
	'[b["environment"]["servers"][0]["profile"], b["outcome"]["testRun"]["counts"]["passed"]]' '["pyright",6]'
check_json_eq "pyproj good: reward 2.625" .outcome.reward.reward 2.625
PID1=$(json .bundleId)
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff"
check_eq "pyproj good: the same bundleId twice" "$PID1" "$(json .bundleId)"
run "$L" --root "$P" --json eval --patch "$TMP/p-break.diff" --sarif "$TMP/p.sarif"
check_eq "pyproj break: exit 84" 84 "$RC"
check_json_eq "pyproj break: the callers of the changed method get the new errors" \
	'sorted(f["path"] for f in b["facts"])' '["app.py","tests/test_shapes.py"]'
check_json_eq "pyproj break: a test failed, outcome 0" '[b["outcome"]["testRun"]["counts"]["failed"], b["outcome"]["reward"]["rOutcome"]]' '[1,0]'
check_json_eq "pyproj break: SARIF has both" 'len(b["runs"][0]["results"])' 2 "$(cat "$TMP/p.sarif")"
# FAIL_TO_PASS accounting through --tests
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff" --tests 'tests/test_shapes.py::test_circle_area'
check_eq "pyproj --tests: exit 0" 0 "$RC"
check_json_eq "pyproj --tests: resolved, FAIL_TO_PASS 1 of 1" \
	'[b["outcome"]["testRun"]["resolved"], b["outcome"]["testRun"]["outcome"]["failToPassPassed"], b["outcome"]["testRun"]["outcome"]["failToPassTotal"]]' '[true,1,1]'
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff" --tests 'tests/test_shapes.py::test_does_not_exist'
check_eq "pyproj --tests with a test that does not run: exit 84" 84 "$RC"
# a task file with the patch
printf '{"schema": "lanser.task/1", "id": "py-good", "patch": "p-good.diff"}\n' >"$TMP/task.json"
run "$L" --root "$P" --json eval --task "$TMP/task.json"
check_eq "pyproj --task: exit 0" 0 "$RC"
check_json_eq "pyproj --task: the task id is recorded" .request.target.task py-good

# --- matching: diagnostics that only moved are neither fixed nor new
E=$(fixture cproj-errors)
printf '{"test": ["true"], "policy": {"requireTests": false}}\n' >"$E/.lanser.json"
(cd "$E" && $GIT add -A && $GIT commit -qm base) || exit 1
mkpatch "$E" e-move.diff 's|^#include <stdio.h>$|#include <stdio.h>\n#include <stdlib.h>\n\n/* moved down */|' bad.c
mkpatch "$E" e-fix.diff 's/int count = "three";/int count = 3;/' bad.c
run "$L" --root "$E" --json eval --patch "$TMP/e-move.diff"
check_eq "cproj-errors moved: exit 0 (no new error)" 0 "$RC"
check_json_eq "cproj-errors moved: D 2 -> 2, 2 kept, none fixed or introduced" \
	'(lambda d: [d["dBefore"], d["dAfter"], d["kept"], d["fixed"], d["introduced"]])(b["outcome"]["diagnostics"])' '[2,2,2,0,0]'
run "$L" --root "$E" --json eval --patch "$TMP/e-fix.diff"
check_eq "cproj-errors fix: exit 0" 0 "$RC"
check_json_eq "cproj-errors fix: D 2 -> 1, one fixed" \
	'(lambda d: [d["dBefore"], d["dAfter"], d["kept"], d["fixed"], d["introduced"]])(b["outcome"]["diagnostics"])' '[2,1,1,1,0]'
check_json_eq "cproj-errors fix: R_process = (0.5*(2-1)/2 + 0.4 + 0.6)/1.6" \
	'abs(b["outcome"]["reward"]["rProcess"] - (0.5 * (2 - 1) / 2 + 0.4 + 0.6) / 1.6) < 1e-12' true

# --- --base: a patch written against an older commit
OLD=$(git -C "$C" rev-parse HEAD)
(cd "$C" && sed -i 's/return a > b ? a : b;/return a >= b ? a : b;/' src/util.c && $GIT commit -qam 'max_int: >=') || exit 1
run "$L" --root "$C" eval --patch "$TMP/c-good.diff"
check_eq "--base: the old patch conflicts with HEAD (70)" 70 "$RC"
run "$L" --root "$C" --json eval --base HEAD~1 --patch "$TMP/c-good.diff"
check_eq "--base HEAD~1: the old patch applies there and passes (0)" 0 "$RC"
check_json_eq "--base HEAD~1: the base commit is recorded" .request.target.base "$OLD"
run "$L" --root "$C" eval --base no-such-rev --patch "$TMP/c-good.diff"
check_eq "--base with an unknown revision: 3" 3 "$RC"

# --- the reward table (docs/rewards.md, "Which outcome, and when a candidate
# is unscorable"): every row on C and on Python
# setcfgin DIR JSON : commit JSON as DIR's .lanser.json (empty: removed)
setcfgin() {
	if [ -n "$2" ]; then printf '%s\n' "$2" >"$1/.lanser.json"; else rm -f "$1/.lanser.json"; fi
	(cd "$1" && $GIT add -A .lanser.json && $GIT commit -qm "config: $2") || exit 1
}
git -C "$C" checkout -q "$OLD" -- src/util.c && (cd "$C" && $GIT commit -qam 'max_int: back') || exit 1
mkpatch "$P" p-syntax.diff 's/def scaled(self, factor: float)/def scaled(self, factor: float/' shapes/circle.py
# row: the candidate breaks a build that the base passes -> scored, R_outcome 0
setcfgin "$C" '{"build": ["make", "tests/test_list"], "test": ["make", "test"]}'
run "$L" --root "$C" --json eval --patch "$TMP/c-break.diff"
check_eq "table C build breaker: exit 84 (policy), not 1" 84 "$RC"
check_json_eq "table C build breaker: status build-failed" .outcome.status build-failed
check_json_eq "table C build breaker: scorable, R_format 1, R_outcome 0, reward 1" \
	'(lambda w: [w["scorable"], w["rFormat"], w["rOutcome"], w["reward"]])(b["outcome"]["reward"])' '[true,1,0,1]'
check_json_eq "table C build breaker: R_process sees the 2 new errors" .outcome.reward.rProcess 0.3125
check_json_eq "table C build breaker: the outcome says the build failed" .outcome.testRun.outcome.buildFailed true
run "$L" --root "$C" eval --patch "$TMP/c-break.diff"
check_contains "table C build breaker: the text shows the compiler's error" "$OUT" "last lines of its output:"
check_contains "table C build breaker: ... the error itself" "$OUT" "error:"
check_contains "table C build breaker: the verdict names the status" "$OUT" "tests did not pass: build-failed"
# the build breaker stays in its group's advantage statistics
run "$L" --root "$C" --json group "$TMP/c-good.diff" "$TMP/c-break.diff"
check_eq "table C group with a build breaker: exit 0" 0 "$RC"
check_json_eq "table C group: both scored, the breaker's advantage negative" \
	'[c["scorable"] for c in b["candidates"]] + [b["candidates"][1]["advantage"] < 0 < b["candidates"][0]["advantage"]]' '[true,true,true]'
# row: the base itself does not build -> unscorable (not the candidate's fault)
setcfgin "$C" '{"build": ["/bin/sh", "-c", "echo base is broken >&2; exit 3"], "test": ["make", "test"]}'
run "$L" --root "$C" --json eval --patch "$TMP/c-good.diff"
check_eq "table C base does not build: exit 1" 1 "$RC"
check_json_eq "table C base does not build: unscorable, reward null" \
	'[b["outcome"]["reward"]["scorable"], b["outcome"]["reward"]["reward"]]' '[false,null]'
check_contains "table C base does not build: the reason" "$(json .outcome.reward.reason)" "base-build-failed"
# row: tests that print no per-test result -> the exit status is the outcome
setcfgin "$C" '{"test": ["/bin/sh", "-c", "echo all good"]}'
run "$L" --root "$C" --json eval --patch "$TMP/c-good.diff"
check_eq "table C exit status only: exit 0" 0 "$RC"
check_json_eq "table C exit status only: R_outcome 1 from the exit status" \
	'[b["outcome"]["reward"]["rOutcome"], b["outcome"]["testRun"]["outcome"]["outcomeFrom"]]' '[1,"exitStatus"]'
run "$L" --root "$C" eval --patch "$TMP/c-good.diff"
check_contains "table C exit status only: the text says so" "$OUT" "the outcome is the test command's exit status"
check_not_contains "table C exit status only: no 'did not pass: passed'" "$OUT" "did not pass: passed"
setcfgin "$C" '{"test": ["/bin/sh", "-c", "echo nope; exit 4"]}'
run "$L" --root "$C" --json eval --patch "$TMP/c-good.diff"
check_eq "table C exit status 4: exit 84" 84 "$RC"
check_json_eq "table C exit status 4: R_outcome 0" .outcome.reward.rOutcome 0
setcfgin "$C" ''
# the same rows on Python
setcfgin "$P" '{"build": ["python3", "-m", "compileall", "-q", "shapes"]}'
run "$L" --root "$P" --json eval --patch "$TMP/p-syntax.diff"
check_eq "table Python build breaker: exit 84" 84 "$RC"
check_json_eq "table Python build breaker: build-failed, scorable, R_outcome 0, reward 1" \
	'(lambda o: [o["status"], o["reward"]["scorable"], o["reward"]["rOutcome"], o["reward"]["reward"]])(b["outcome"])' '["build-failed",true,0,1]'
setcfgin "$P" '{"build": ["python3", "-c", "import sys; sys.exit(2)"]}'
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff"
check_eq "table Python base does not build: exit 1" 1 "$RC"
check_json_eq "table Python base does not build: unscorable" .outcome.reward.scorable false
setcfgin "$P" '{"test": ["python3", "-c", "import shapes"]}'
run "$L" --root "$P" --json eval --patch "$TMP/p-good.diff"
check_eq "table Python exit status only: exit 0" 0 "$RC"
check_json_eq "table Python exit status only: R_outcome 1 from the exit status" \
	'[b["outcome"]["reward"]["rOutcome"], b["outcome"]["testRun"]["outcome"]["outcomeFrom"]]' '[1,"exitStatus"]'
setcfgin "$P" ''

# --- nothing left behind
check_eq "cproj: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"
check_eq "pyproj: no worktree left" 1 "$(git -C "$P" worktree list | wc -l)"
check_eq "cproj: the work tree is untouched" "" "$(git -C "$C" status --porcelain --untracked-files=no)"
check_no_procs "no language server left" "$TMP"
