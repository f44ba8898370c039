#!/usr/bin/env bash
# `lanser agent` end to end with a scripted model (tests/model/fake_openai.py
# over real HTTP on 127.0.0.1) on the C and Python fixtures, with real
# clangd / pyright, the real tools and the sandboxed tests: a definition, an
# edit that breaks the build, an edit that repairs it, a rename, the tests,
# finish. Checked: the per-step rewards against the docs' formulas computed
# here, the episode reward, the final diff (applies to the base), the
# user's tree untouched, the trace replayed with --verify (and an edited
# trace refused); then rollouts: K=4 samples of 2 tasks, 2 at a time, with
# advantages equal to `lanser advantages` on the same rewards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_lanser
RUN_TIMEOUT=400

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture_base cproj) || exit 1
P=$(fixture_base pyproj) || exit 1

# expected step rewards, computed from docs/rewards.md (not by lanser):
# delta = wd(D0-D) + ws S + wc(c-c0); bounded = (wd dn + ws S + wc(c-c0) + wd + wc)/(2wd+ws+2wc)
# with dn = (D0-D)/max(D0,D,1) and the default weights 0.5, 0.4, 0.1.
DELTA='(lambda t: 0.5*(t["D0"]-t["D"]) + 0.4*t["S"] + 0.1*(t["c"]-t["c0"]))'
BOUNDED='(lambda t: (0.5*(t["D0"]-t["D"])/max(t["D0"],t["D"],1) + 0.4*t["S"] + 0.1*(t["c"]-t["c0"]) + 0.5 + 0.1) / (2*0.5 + 0.4 + 2*0.1))'

# episode SCRIPT-NAME DIR TASK-ID INSTRUCTION : runs one scripted episode
# in DIR with --json and --trace; leaves $OUT.
episode() {
	start_agent_fake "$TMP/$1" || fail "$1: the fake model server started" "no port"
	printf '{"id": "%s", "instruction": "%s", "budgets": {"steps": 12}}\n' "$3" "$4" \
		>"$TMP/$3.task.json"
	(cd "$2" && run "$L" --root "$2" --json --trace "$TMP/$3.trace.jsonl" agent --task "$TMP/$3.task.json" \
		--model-url "$FAKE_URL" --model fake
	 printf '%s\n' "$RC" >"$TMP/rc"; printf '%s' "$OUT" >"$TMP/out"; printf '%s' "$ERR" >"$TMP/err")
	RC=$(cat "$TMP/rc")
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# check_episode NAME DIR : the checks both fixtures share.
check_episode() {
	local name=$1 dir=$2
	RESULT=$OUT
	check_eq "$name: exit 0" 0 "$RC"
	[ "$RC" = 0 ] || echo "# stderr: $(_clip "$ERR")"
	check_json_eq "$name: stopped by finish" .stop finish
	check_json_eq "$name: the summary is the model's" .summary done
	check_json_eq "$name: six steps (def, edit, edit, rename, test, finish)" \
		'[s["tool"] for s in b["steps"]]' '["def","edit","edit","rename","test","finish"]'
	check_json_eq "$name: every step succeeded" '[s["code"] for s in b["steps"]]' \
		'["OK","OK","OK","OK","OK","OK"]'
	check_json_eq "$name: the mutating steps are scored (edit, edit, rename)" \
		'[s["step"] for s in b["rewards"]["steps"]]' '[2,3,4]'
	check_json_eq "$name: the breaking edit: D 0 -> 1 (one new error), safe-apply passed" \
		'(lambda t: [t["D0"], t["D"], t["S"]])(b["steps"][1]["reward"]["terms"])' '[0,1,1]'
	check_json_eq "$name: the breaking edit's diagnostics term is negative: reward 0.5(0-1)+0.4 = -0.1" \
		"(lambda t: [abs(t['reward'] - $DELTA(t['terms'])) < 1e-12, abs(t['reward'] + 0.1) < 1e-12])(b['steps'][1]['reward'])" '[true,true]'

	check_json_eq "$name: the new error is named" \
		'[f["severity"] for f in b["steps"][1]["reward"]["introduced"]]' '["error"]'
	check_json_eq "$name: the repairing edit: D 1 -> 0, reward 0.9" \
		'[b["steps"][2]["reward"]["terms"]["D0"], b["steps"][2]["reward"]["terms"]["D"], b["steps"][2]["reward"]["reward"]]' \
		'[1,0,0.9]'
	check_json_eq "$name: the rename: D 0 -> 0, reward 0.4" \
		'[b["steps"][3]["reward"]["terms"]["D0"], b["steps"][3]["reward"]["terms"]["D"], b["steps"][3]["reward"]["reward"]]' \
		'[0,0,0.4]'
	check_json_eq "$name: every step reward is the delta functional of its terms, bounded the bounded one" \
		"(lambda d, bd, st: all(abs(s['reward'] - d(s['terms'])) < 1e-12 and abs(s['bounded'] - bd(s['terms'])) < 1e-12 for s in st))($DELTA, $BOUNDED, b['rewards']['steps'])" true
	check_json_eq "$name: the tests passed" .tests.status passed
	check_json_eq "$name: episode reward p-grpo = 1 + 1 + 1 * mean(bounded steps)" \
		"(lambda e, rp: [e['terms']['format'], e['terms']['outcome'], abs(e['terms']['process'] - rp) < 1e-12, abs(e['reward'] - (2 + rp)) < 1e-12])(b['rewards']['episode'], sum(map($BOUNDED, [s['terms'] for s in b['rewards']['steps']])) / 3)" \
		'[1,1,true,true]'
	check_json_eq "$name: budgets used: 6 of 12 steps; the model asked 6 times" \
		'[b["budgets"]["steps"]["used"], b["budgets"]["steps"]["max"], b["usage"]["requests"]]' '[6,12,6]'
	json .diff "$RESULT" >"$TMP/$name.diff"
	check_rc_as "$name: the final diff applies cleanly to the base (git apply --check)" 0 \
		git -C "$dir" apply --check "$TMP/$name.diff"
	check_eq "$name: the user's tree is untouched" "" "$(git -C "$dir" status --porcelain)"
	check_contains "$name: the model saw the tool results (the second request has the def answer)" \
		"$(fake_request 2 'b["body"]["messages"][-1]["role"] + " " + b["body"]["messages"][-1]["tool_call_id"]')" "tool "
	check_json_eq "$name: tools offered: lanser's, without eval, plus finish" \
		'(lambda n: ["edit" in n, "rename" in n, "def" in n, "finish" in n, "eval" in n, "group" in n])([t["function"]["name"] for t in b["body"]["tools"]])' \
		'[true,true,true,true,false,false]' "$(sed -n 1p "$FAKE_LOG")"
}

# --- C: max_int through an error and back, clamp_int renamed
cat >"$TMP/c.json" <<'EOF'
{"turns": [
 {"reply": {"content": "Where is max_int?", "tool_calls": [{"id": "c1", "name": "def", "arguments": {"args": ["c://src/util.c#max_int"]}}]}},
 {"reply": {"tool_calls": [{"id": "c2", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn a > b ? a : undefined_thing;\n}"}}]}},
 {"reply": {"tool_calls": [{"id": "c3", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn b < a ? a : b;\n}"}}]}},
 {"reply": {"tool_calls": [{"id": "c4", "name": "rename", "arguments": {"args": ["c://src/util.c#clamp_int", "clamp_value"]}}]}},
 {"reply": {"tool_calls": [{"id": "c5", "name": "test", "arguments": {}}]}},
 {"reply": {"content": "Done.", "tool_calls": [{"id": "c6", "name": "finish", "arguments": {"summary": "done"}}]}}
]}
EOF
episode c.json "$C" c-task "Rewrite max_int with <, rename clamp_int to clamp_value."
check_episode cproj "$C"
check_json_eq "cproj: the rename reached every user of clamp_int" \
	'sorted(l[len("+++ b/"):] for l in b["diff"].splitlines() if l.startswith("+++ "))' \
	'["src/list.c","src/main.c","src/util.c","src/util.h","tests/test_list.c"]' "$RESULT"
check_json_eq "cproj: every tool step's bundle id is recorded" \
	'[s.get("bundleId", "")[:7] for s in b["steps"]]' '["sha256:","sha256:","sha256:","sha256:","sha256:",""]' "$RESULT"
C_TRACE=$TMP/c-task.trace.jsonl

run "$L" trace replay --verify "$C_TRACE"
check_eq "cproj: trace replay --verify exits 0" 0 "$RC"
check_contains "cproj: replay re-ran the episode and compared bundles and rewards" "$OUT" \
	"verified: agent run"
check_contains "cproj: 5 tool bundles, 3 step rewards and the episode reward" "$OUT" \
	"5 tool bundles and 4 rewards"
check_eq "cproj: the replay left the user's tree alone" "" "$(git -C "$C" status --porcelain)"
check_not_contains "cproj: the trace never holds an API key" "$(cat "$C_TRACE")" "sk-test-secret"

# an edited recorded reward: the replay finds it
"$PY" - "$C_TRACE" "$TMP/edited.jsonl" <<'EOF'
import json, sys
out = []
done = False
for line in open(sys.argv[1]):
    e = json.loads(line)
    if not done and e.get("type") == "reward" and e.get("kind") == "step" and e.get("step") == 4:
        e["reward"] = 0.5
        done = True
    out.append(json.dumps(e, sort_keys=True, separators=(",", ":")))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF
run "$L" trace replay --verify "$TMP/edited.jsonl"
check_eq "cproj: an edited step reward: replay exits 76" 76 "$RC"
check_contains "cproj: ... naming the reward event" "$ERR" "reward event"

# --- Python: Circle.area through an error and back, scaled renamed
cat >"$TMP/p.json" <<'EOF'
{"turns": [
 {"reply": {"content": "Looking.", "tool_calls": [{"id": "p1", "name": "def", "arguments": {"args": ["py://shapes.circle#Circle.scaled"]}}]}},
 {"reply": {"tool_calls": [{"id": "p2", "name": "edit", "arguments": {"args": ["py://shapes.circle#Circle.area:body"], "text": "return math.pi * self.radius ** 2 + undefined_name"}}]}},
 {"reply": {"tool_calls": [{"id": "p3", "name": "edit", "arguments": {"args": ["py://shapes.circle#Circle.area:body"], "text": "return math.pi * (self.radius ** 2)"}}]}},
 {"reply": {"tool_calls": [{"id": "p4", "name": "rename", "arguments": {"args": ["py://shapes.circle#Circle.scaled", "scaled_by"]}}]}},
 {"reply": {"tool_calls": [{"id": "p5", "name": "test", "arguments": {}}]}},
 {"reply": {"tool_calls": [{"id": "p6", "name": "finish", "arguments": {"summary": "done"}}]}}
]}
EOF
episode p.json "$P" p-task "Parenthesise Circle.area, rename scaled to scaled_by."
check_episode pyproj "$P"
check_json_eq "pyproj: the rename reached the callers" \
	'sorted(l[len("+++ b/"):] for l in b["diff"].splitlines() if l.startswith("+++ "))' \
	'["app.py","shapes/circle.py","tests/test_shapes.py"]' "$RESULT"
run "$L" trace replay --verify "$TMP/p-task.trace.jsonl"
check_eq "pyproj: trace replay --verify exits 0" 0 "$RC"
check_contains "pyproj: replay verified the episode" "$OUT" "verified: agent run"
check_contains "pyproj: ... 5 tool bundles and 4 rewards" "$OUT" "5 tool bundles and 4 rewards"

# --- rollouts: K=4 samples of 2 tasks, 2 at a time
# Each sample asks the model once (an edit and finish in one reply); the fake
# server answers requests in the order they come, alternately with an edit
# that is right and one that breaks a test, so a group's rewards differ
# (which sample gets which is up to the timing: nothing below depends on it).
rollout_script "$TMP/roll.json"
start_agent_fake "$TMP/roll.json" || fail "rollouts: the fake model server started" "no port"
printf '{"id": "ta", "instruction": "a"}\n{"id": "tb", "instruction": "b", "budgets": {"steps": 5}}\n' >"$TMP/tasks.jsonl"
(cd "$C" && run "$L" --root "$C" --trace "$TMP/roll.trace.jsonl" agent --tasks "$TMP/tasks.jsonl" \
	--samples 4 --jobs 2 --out "$TMP/results.jsonl" --model-url "$FAKE_URL"
 printf '%s\n' "$RC" >"$TMP/rc"; printf '%s' "$ERR" >"$TMP/err")
RC=$(cat "$TMP/rc")
check_eq "rollouts: exit 0" 0 "$RC"
[ "$RC" = 0 ] || echo "# stderr: $(_clip "$(cat "$TMP/err")")"
RES=$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/results.jsonl" 2>/dev/null)
# a worker that failed: its error record, to the log
"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "error" in r: print("# worker error:", json.dumps(r)[:600]); sys.exit(1)' "$TMP/results.jsonl" 2>/dev/null ||
	echo "# stderr: $(_clip "$(cat "$TMP/err")")"
check_json_eq "rollouts: 8 result lines, four per task" \
	'sorted((r["group"], r["sample"]) for r in b)' \
	'[["ta","ta-s1"],["ta","ta-s2"],["ta","ta-s3"],["ta","ta-s4"],["tb","tb-s1"],["tb","tb-s2"],["tb","tb-s3"],["tb","tb-s4"]]' "$RES"
check_json_eq "rollouts: every sample in a worktree of its own" \
	'len(set(r["meta"]["volatile"]["worktree"] for r in b))' 8 "$RES"
check_json_eq "rollouts: half the samples pass their tests, half do not" \
	'sorted(r["tests"]["status"] for r in b)' '["failed","failed","failed","failed","passed","passed","passed","passed"]' "$RES"
check_json_eq "rollouts: every sample finished, with an episode reward and per-step rewards" \
	'all(r["stop"] == "finish" and isinstance(r["rewards"]["episode"]["reward"], (int, float)) and len(r["rewards"]["steps"]) == 1 for r in b)' \
	true "$RES"
for g in ta tb; do
	"$PY" -c 'import json,sys; rs=[json.loads(l) for l in open(sys.argv[1])]; print(json.dumps({"id": sys.argv[2], "rewards": [r["rewards"]["episode"]["reward"] for r in rs if r["group"] == sys.argv[2]]}))' \
		"$TMP/results.jsonl" "$g" >"$TMP/group-$g.jsonl"
	run "$L" advantages --in "$TMP/group-$g.jsonl"
	check_json_eq "rollouts $g: advantages equal 'lanser advantages' on the same rewards" \
		"json.dumps(b[\"advantages\"])" \
		"$(json "json.dumps([r['advantage'] for r in b if r['group'] == '$g'])" "$RES")"
done
check_eq "rollouts: the user's tree is untouched" "" "$(git -C "$C" status --porcelain)"
stop_fake
run "$L" trace replay --verify "$TMP/roll.trace.jsonl"
check_eq "rollouts: the trace (every worker's episode a run of its own) replays: exit 0" 0 "$RC"
check_eq "rollouts: ... all 8 episodes verified" 8 "$(printf '%s\n' "$OUT" | grep -c '^verified: agent run')"

# A test run builds in the agent's worktree: what it leaves there (here the
# test binary, not ignored by this copy's .gitignore) is not the agent's
# change. Before, the final diff carried the binary, which no patch applier
# takes: R_format 0 for an episode that changed nothing but ran the tests.
A=$(fixture cproj artefacts)
printf '*.o\ncompile_commands.json\n.cache/\n' >"$A/.gitignore"
(cd "$A" && $GIT add -A && $GIT commit -qm base) || exit 1
cat >"$TMP/artefacts.json" <<'EOF2'
{"turns": [
 {"reply": {"tool_calls": [{"id": "call_1", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\t/* the larger of the two */\n\treturn a > b ? a : b;\n}"}}]}},
 {"reply": {"tool_calls": [{"id": "call_2", "name": "test", "arguments": {}}]}},
 {"reply": {"tool_calls": [{"id": "call_3", "name": "finish", "arguments": {"summary": "done"}}]}}
]}
EOF2
episode artefacts.json "$A" art "Run the tests."
check_eq "build products: exit 0" 0 "$RC"
check_json_eq "build products: the tests ran and passed" .tests.status passed
check_json_eq "build products: the final diff is the edit alone" \
	'sorted(l[len("diff --git a/"):].split(" ")[0] for l in b["diff"].splitlines() if l.startswith("diff --git"))' \
	'["src/util.c"]'
check_json_eq "build products: R_format 1 (the diff applies)" .rewards.episode.terms.format 1
check_eq "build products: the user's tree is untouched" "" "$(git -C "$A" status --porcelain)"
stop_fake
