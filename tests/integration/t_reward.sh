#!/usr/bin/env bash
# lanser reward / lanser advantages: the paper's examples, hand-computed
# advantages, bad input, and a diagnostic delta from real clangd bundles
# (docs/rewards.md).
. "$(dirname "$0")/lib.sh"
need_lanser
cd "$TMP" || exit 1

run "$L" reward step D0=1 D=0 S=1 c=0.72 --functional paper
check_eq "reward: paper example 1 (dD=1, S=1, c=0.72) is 0.872" "$OUT" "0.872"
run "$L" reward step D0=5 D=2 S=1 c=0.94 --functional paper
check_eq "reward: paper example 2 (D 5->2, S=1, c=0.94) is 1.894" "$OUT" "1.894"
run "$L" --json reward step D0=7 D=7 S=0 c=0.62 --functional paper
check_json_eq "reward: paper example 3 (D 7->7, S=0, c=0.62) is -0.038" \
	'round(b["reward"], 12)' '-0.038'
check_json_eq "reward: the functional's version and weights are recorded" \
	'[b["functional"]["version"], b["functional"]["weights"]]' \
	'["lanser.process/paper@1",{"wc":0.1,"wd":0.5,"ws":0.4}]'
run "$L" reward step D0=3 D=3 S=0 c=0.5 c0=0.5 --functional paper
check_eq "reward: the paper's counterexample gives -0.05" "$OUT" "-0.05"
run "$L" reward step D0=3 D=3 S=0 c=0.5 c0=0.5
check_eq "reward: the default (delta) gives 0 on it" "$OUT" "0"
run "$L" --json reward step D0=2 D=1 S=1 c=0.9 c0=0.8 --functional bounded
check_json_eq "reward: bounded D 2->1, S=1, c 0.8->0.9 is 1.26/1.6 = 0.7875" \
	'round(b["reward"], 12)' '0.7875'
run "$L" reward step D0=1 D=0 S=1 c=0.72 --functional paper --explain
check_contains "reward --explain shows the substituted formula" "$OUT" \
	"= 0.5*(1 - 0) + 0.4*1 - 0.1*(1 - 0.72)"
check_rc_as "reward: S must be 0 or 1 (usage error)" 129 "$L" reward step D0=1 D=0 S=2 c=0.5 c0=0.5
check_rc_as "reward: an unknown term is a usage error" 129 "$L" reward step D0=1 D=0 X=1
check_rc_as "reward: the delta functional needs c0" 129 "$L" reward step D0=1 D=0 S=1 c=0.5

run "$L" reward episode format=1 outcome=1 process=0.7875
check_eq "reward episode p-grpo: 1 + 1 + 1*0.7875" "$OUT" "2.7875"
run "$L" reward episode format=1 outcome=0 process=0.7875
check_eq "reward episode p-grpo: a failed outcome gates the process reward off" "$OUT" "1"
run "$L" reward episode format=1 outcome=0 process=0.7875 --mode sum
check_eq "reward episode sum: 1 + 0 + 0.7875" "$OUT" "1.7875"
cat >outcome.json <<'J'
{"completed": true, "tests": [{"name": "t::a", "outcome": "passed"},
 {"name": "t::b", "outcome": "failed"}, {"name": "t::c", "outcome": "passed"}],
 "failToPass": ["t::a"], "passToPass": ["t::c"]}
J
run "$L" --json reward episode format=1 outcome=@outcome.json process=0.5
check_json_eq "reward episode from an outcome record: F2P 1/1, P2P intact -> 1 + 1 + 0.5" \
	'[b["reward"], b["outcome"]["failToPassPassed"], b["outcome"]["passToPassBroken"], round(b["outcome"]["passFraction"], 12)]' \
	'[2.5,1,0,0.666666666667]'
echo '{"completed": false, "reason": "timeout after 600 s"}' >timeout.json
run "$L" --json reward episode format=1 outcome=@timeout.json process=0.5
check_json_eq "reward episode: an incomplete run is unscorable (null), never 0" \
	'[b["reward"], b["scorable"], b["reason"]]' '[null,false,"timeout after 600 s"]'
echo '{"completed": "yes"}' >bad.json
check_rc_as "reward episode: a malformed outcome record is bad input (77)" 77 \
	"$L" reward episode format=1 outcome=@bad.json process=0.5

# advantages: r = [0,2,4], mean 2, sample std 2 -> +-2/(2+eps)
printf '%s\n' '[0,2,4]' >g1.jsonl
run "$L" advantages --in g1.jsonl
check_json_eq "advantages grpo/trl: (r-2)/(2+1e-4)" \
	'[round(a, 12) for a in b["advantages"]] + [b["std"], b["epsilon"]]' \
	"[$(python3 -c 'print(round(-2/2.0001,12))'),0,$(python3 -c 'print(round(2/2.0001,12))'),2,0.0001]"
printf '%s\n' '[0,2,4]' >g2.jsonl
run "$L" advantages --preset verl --in g2.jsonl
check_json_eq "advantages grpo/verl: eps 1e-6" 'b["advantages"][2] == 2/2.000001' 'true'
printf '%s\n' '[0,2,4]' >g3.jsonl
run "$L" advantages --preset openrlhf --in g3.jsonl
check_json_eq "advantages grpo/openrlhf: eps 1e-9" 'b["advantages"][2] == 2/2.000000001' 'true'
printf '%s\n' '{"id":"p1","rewards":[0,2,4]}' >g4.jsonl
run "$L" advantages --mode dr_grpo --in g4.jsonl
check_json_eq "advantages dr_grpo: r - mean, id kept" '[b["id"], b["advantages"]]' '["p1",[-2,0,2]]'
printf '%s\n' '[1,null,3]' >g5.jsonl
run "$L" advantages --in g5.jsonl
check_json_eq "advantages: a null reward stays null and is left out of the stats" \
	'[b["advantages"][1], b["scored"], b["mean"]]' '[null,2,2]'
printf '%s\n' '[0.5,0.5,0.5,0.5]' >g6.jsonl
run "$L" advantages --in g6.jsonl
check_json_eq "advantages: an all-equal group is flagged (DAPO) with zero advantages" \
	'[b["allEqual"], b["advantages"]]' '[true,[0,0,0,0]]'
printf '%s\n' '{"steps":[[4,0],[2],[0,4]]}' >g7.jsonl
run "$L" advantages --mode step --preset verl --in g7.jsonl
check_json_eq "advantages step: DeepSeekMath suffix sums of normalised step rewards" \
	'b["advantages"] == [[0, -2/2.000001], [0], [0, 2/2.000001]]' 'true'
printf '[0,2,4]\n[1,1,3,3]\n' >batch.jsonl
run "$L" advantages --mode batch --in batch.jsonl
check_json_eq "advantages batch: group mean, std over the whole batch (sqrt 2)" \
	'abs(b["advantages"][0] - (-1/(2**0.5+1e-4))) < 1e-12' 'true' "$(printf '%s\n' "$OUT" | sed -n 2p)"
printf '%s\n' '[1,' >g8.jsonl
check_rc_as "advantages: a malformed line is an error (1)" 1 "$L" advantages --in g8.jsonl
check_contains "advantages: the error names the line" "$ERR" "line 1:"
printf '%s\n' '["x"]' >g9.jsonl
check_rc_as "advantages: a string reward is an error" 1 "$L" advantages --in g9.jsonl
printf '%s\n' '[1]' >g10.jsonl
check_rc_as "advantages: an unknown preset is a usage error" 129 "$L" advantages --preset foo --in g10.jsonl
printf '%s\n' '{"steps":[[1]]}' >g11.jsonl
check_rc_as "advantages: per-step rewards need --mode step" 129 "$L" advantages --in g11.jsonl

# A diagnostic delta from real clangd bundles: fix one of bad.c's two errors.
ews=$(fixture cproj-errors) || { fail "reward: copy cproj-errors" "fixture failed"; exit 1; }
cd "$ews" || exit 1
"$L" --no-daemon --json diag bad.c >"$TMP/d0.json"
sed -i 's/int count = "three";/int count = 3;/' bad.c
sed -i '1i /* a line above moves the remaining error down */' bad.c
"$L" --no-daemon --json diag bad.c >"$TMP/d1.json"
run "$L" --json reward step before=@"$TMP/d0.json" after=@"$TMP/d1.json" relevant=bad.c S=1 c=1 c0=1
check_json_eq "reward from clangd bundles: D 2 -> 1, the moved error kept, one fixed" \
	'[b["terms"]["D0"], b["terms"]["D"], b["diagnostics"]["fixed"], b["diagnostics"]["kept"], b["diagnostics"]["introduced"], b["reward"]]' \
	'[2,1,1,1,0,0.9]'

# Relevance: the touched file plus the files a `refs` bundle of the touched
# symbol names (real clangd refs of list_push: include/list.h, src/list.c,
# src/main.c, tests/test_list.c). Before: errors X (src/main.c), Y
# (tests/test_list.c), Z (src/util.c, unrelated). After: Y only.
# touched src/list.c + refs -> relevant X, Y: D0 = 2, D = 1 (Z does not count).
cws=$(fixture cproj) || { fail "reward: copy cproj" "fixture failed"; exit 1; }
cd "$cws" || exit 1
"$L" --no-daemon --json refs src/main.c@L14:C2 >"$TMP/refs.json"
diagb() { # facts as "path:message" pairs -> a diag bundle
	"$PY" -c '
import json, sys
print(json.dumps({"facts": [{"kind": "diagnostic", "path": a.split(":")[0], "range": [1, 1, 1, 2],
  "severity": "error", "message": a.split(":")[1], "provenance": "lsp"} for a in sys.argv[1:]]}))' "$@"
}
diagb src/main.c:X tests/test_list.c:Y src/util.c:Z >"$TMP/rel0.json"
diagb tests/test_list.c:Y >"$TMP/rel1.json"
run "$L" --json reward step before=@"$TMP/rel0.json" after=@"$TMP/rel1.json" relevant=src/list.c \
	refs=@"$TMP/refs.json" S=1 c=1 c0=1
check_json_eq "reward relevance: touched file + the files of the refs bundle (D 2 -> 1, Z left out)" \
	'[b["terms"]["D0"], b["terms"]["D"], b["diagnostics"]["fixed"], b["diagnostics"]["kept"]]' '[2,1,1,1]'
run "$L" --json reward step before=@"$TMP/rel0.json" after=@"$TMP/rel1.json" relevant=src/list.c \
	S=1 c=1 c0=1
check_json_eq "reward relevance: without the refs only the touched file counts (D 0 -> 0)" \
	'[b["terms"]["D0"], b["terms"]["D"]]' '[0,0]'

# R_process from step terms: bounded step rewards 0.7875 (D 2->1, S 1, c
# 0.8->0.9) and 0.375 (nothing changes, S 0): mean 0.58125; p-grpo
# 1 + 1 + 1*0.58125 = 2.58125
cd "$TMP" || exit 1
printf '{"D0":2,"D":1,"S":1,"c0":0.8,"c":0.9}\n{"D0":2,"D":2,"S":0,"c0":0.5,"c":0.5}\n' >steps.jsonl
run "$L" --json reward episode format=1 outcome=1 process=@steps.jsonl
check_json_eq "reward episode: R_process as the mean bounded reward of the steps" \
	'[round(b["terms"]["process"], 12), round(b["reward"], 12), b["processSteps"]["steps"]]' \
	'[0.58125,2.58125,2]'
printf '{"D0":2,"D":1,"S":3,"c":0.9}\n' >badsteps.jsonl
check_rc_as "reward episode: a step with S=3 is bad input (77)" 77 \
	"$L" reward episode format=1 outcome=1 process=@badsteps.jsonl
check_contains "reward episode: the bad step is named by line" "$ERR" "badsteps.jsonl:1: step terms"

# The outcome from a real `lanser test` record (sandbox, issue 6) on the
# pyproj fixture: test_circle_area as FAIL_TO_PASS passes -> R_outcome 1;
# with circle.area broken it fails -> R_outcome 0 and p-grpo gates the
# process reward off (1 + 0 + 0*0.5 = 1).
tws=$(fixture pyproj) || { fail "reward: copy pyproj" "fixture failed"; exit 1; }
cd "$tws" || exit 1
git add -A >/dev/null 2>&1 && git -c user.email=t@t -c user.name=t commit -qm fixture >/dev/null 2>&1
run "$L" --json test --tests tests/test_shapes.py::test_circle_area
if [ "$RC" = 129 ]; then
	fail "reward from lanser test records: lanser test exists" "usage error 129: $ERR"
else
	printf '%s\n' "$OUT" | head -1 >"$TMP/testrec.json"
	run "$L" --json reward episode format=1 outcome=@"$TMP/testrec.json" process=0.5
	check_json_eq "reward from a real lanser test record: FAIL_TO_PASS passed -> 1 + 1 + 0.5" \
		'[b["reward"], b["outcome"]["failToPassPassed"], b["outcome"]["failToPassTotal"]]' '[2.5,1,1]'
	sed -i 's/return math.pi \* self.radius \*\* 2/return 0.0/' shapes/circle.py
	run "$L" --json test --tests tests/test_shapes.py::test_circle_area
	printf '%s\n' "$OUT" | head -1 >"$TMP/testrec2.json"
	run "$L" --json reward episode format=1 outcome=@"$TMP/testrec2.json" process=0.5
	check_json_eq "reward from a real lanser test record: the fix broken -> R_outcome 0, gated: 1" \
		'[b["reward"], b["terms"]["outcome"], b["outcome"]["failToPassPassed"]]' '[1,0,0]'
fi
