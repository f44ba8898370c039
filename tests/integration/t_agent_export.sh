#!/usr/bin/env bash
# `lanser trace export` of agent runs (docs/trace.md, "Exports of agent
# runs"): a scripted episode on the C fixture (real clangd, real tools,
# sandboxed tests; the model is tests/model/fake_openai.py over real HTTP)
# and rollouts (K=4 samples of 2 tasks) give one multi-turn row per
# episode in every format. Checked against the runs' own results and the
# model server's log: the conversation is the one the model was sent, the
# rewards and step rewards are the result lines', the PRM labels follow the
# documented rule, and each rollout group has K rows whose advantages equal
# `lanser advantages` on the group's rewards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_lanser
RUN_TIMEOUT=300

C=$(fixture_base cproj) || exit 1

# export_all NAME STEM ROWS WHAT : every format of $TMP/STEM.trace.jsonl
# into $TMP/STEM.FORMAT.jsonl, exit 0 and ROWS rows each.
export_all() {
	local f
	for f in trl openrlhf verl prm; do
		run "$L" trace export --format "$f" "$TMP/$2.trace.jsonl"
		check_eq "$1 $f: exit 0" 0 "$RC"
		printf '%s\n' "$OUT" >"$TMP/$2.$f.jsonl"
		check_eq "$1 $f: $4" "$3" "$(grep -c . "$TMP/$2.$f.jsonl")"
	done
}

# --- one episode: def, an edit that breaks the build, one that repairs it, the tests, finish
cat >"$TMP/one.json" <<'EOF'
{"turns": [
 {"reply": {"content": "Where is max_int?", "tool_calls": [{"id": "c1", "name": "def", "arguments": {"args": ["c://src/util.c#max_int"]}}]}},
 {"reply": {"tool_calls": [{"id": "c2", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn a > b ? a : undefined_thing;\n}"}}]}},
 {"reply": {"tool_calls": [{"id": "c3", "name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn b < a ? a : b;\n}"}}]}},
 {"reply": {"tool_calls": [{"id": "c4", "name": "test", "arguments": {}}]}},
 {"reply": {"content": "Done.", "tool_calls": [{"id": "c5", "name": "finish", "arguments": {"summary": "done"}}]}}
]}
EOF
start_agent_fake "$TMP/one.json" || { fail "the fake model server starts" "no port"; exit 1; }
printf '{"id": "one", "instruction": "Rewrite max_int with <.", "budgets": {"steps": 10}}\n' >"$TMP/one.task.json"
(cd "$C" && run "$L" --root "$C" --json --trace "$TMP/one.trace.jsonl" agent --task "$TMP/one.task.json" \
	--model-url "$FAKE_URL" --model fake
 printf '%s\n' "$RC" >"$TMP/rc"; printf '%s' "$OUT" >"$TMP/result.json"; printf '%s' "$ERR" >"$TMP/err")
check_eq "episode: exit 0" 0 "$(cat "$TMP/rc")" || echo "# stderr: $(_clip "$(cat "$TMP/err")")"
RESULT=$(cat "$TMP/result.json")
check_json_eq "episode: the tests passed, two scored edits" \
	'[b["tests"]["status"], len(b["rewards"]["steps"])]' '["passed",2]' "$RESULT"
LASTREQ=$(tail -1 "$FAKE_LOG")

export_all episode one 1 "one row"
ROW=$(cat "$TMP/one.trl.jsonl")
check_json_eq "trl: the reward is the result's episode reward" \
	'b["reward"]' "$(json 'b["rewards"]["episode"]["reward"]' "$RESULT")" "$ROW"
check_json_eq "trl: the step rewards are the result's" \
	'b["step_rewards"]' "$(json '[s["reward"] for s in b["rewards"]["steps"]]' "$RESULT")" "$ROW"
check_json_eq "trl: group = the task id, id = the sample, no advantage for a group of one (trl preset)" \
	'[b["group"], b["id"], b["advantage"]]' '["one","s1",null]' "$ROW"
check_json_eq "trl: the prompt is the system message and the instruction" \
	'[(m["role"], m["content"][:20]) for m in b["prompt"]]' \
	'[["system","You are a coding age"],["user","Rewrite max_int with"]]' "$ROW"
check_json_eq "trl: the completion is the turns: 5 replies with calls, each answered by its tool result" \
	'[(m["role"], m.get("tool_call_id") or [c["id"] for c in m.get("tool_calls", [])]) for m in b["completion"]]' \
	'[["assistant",["c1"]],["tool","c1"],["assistant",["c2"]],["tool","c2"],["assistant",["c3"]],["tool","c3"],["assistant",["c4"]],["tool","c4"],["assistant",["c5"]],["tool","c5"]]' "$ROW"
"$PY" - "$ROW" "$LASTREQ" >"$TMP/same" <<'EOF'
import json, sys
row, req = json.loads(sys.argv[1]), json.loads(sys.argv[2])
conv = row["prompt"] + row["completion"]
sent = req["body"]["messages"]
print(json.dumps([conv[:len(sent)] == sent, len(conv) - len(sent)]))
EOF
check_eq "trl: the conversation is what the model was sent (its last request), then its last reply and the answer" \
	'[true, 2]' "$(cat "$TMP/same")"
check_json_eq "trl: the tool results are the recorded ones (the test run's)" \
	'b["completion"][7]["content"][:40]' "$(json 'b["steps"][3]["text"][:40]' "$RESULT")" "$ROW"
"$PY" - "$(cat "$TMP/one.openrlhf.jsonl")" "$RESULT" >"$TMP/o" <<'EOF'
import json, sys
b, R = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps([len(b["input"]), len(b["output"]), b["reward"] == R["rewards"]["episode"]["reward"],
                  b["step_rewards"] == [s["reward"] for s in R["rewards"]["steps"]]]))
EOF
check_eq "openrlhf: input (2 messages), output (10), reward and step rewards of the result" '[2, 10, true, true]' "$(cat "$TMP/o")"
ROW=$(cat "$TMP/one.verl.jsonl")
check_json_eq "verl: data_source, prompt messages, the reward as ground truth, uid = the group" \
	'[b["data_source"], len(b["prompt"]), b["reward_model"]["ground_truth"] == b["extra_info"]["reward"], b["extra_info"]["uid"], b["extra_info"]["id"], len(b["extra_info"]["messages"])]' \
	'["lanser",2,true,"one","s1",10]' "$ROW"
ROW=$(cat "$TMP/one.prm.jsonl")
check_json_eq "prm: one completion per scored step plus the end; labels: the breaking edit false (D 0 -> 1), the repair true, the end true (tests passed)" \
	'[[c.split(" ")[0] for c in b["completions"]], b["labels"]]' \
	'[["edit","edit","finish"],[false,true,true]]' "$ROW"
check_json_eq "prm: the prompt is the instruction" '[b["prompt"], b["group"]]' '["Rewrite max_int with <.","one"]' "$ROW"
stop_fake

# --- rollouts: K=4 samples of 2 tasks, 2 at a time (as t_agent.sh)
rollout_script "$TMP/roll.json"
start_agent_fake "$TMP/roll.json" || { fail "rollouts: the fake model server starts" "no port"; exit 1; }
printf '{"id": "ta", "instruction": "a"}\n{"id": "tb", "instruction": "b", "budgets": {"steps": 5}}\n' >"$TMP/tasks.jsonl"
(cd "$C" && run "$L" --root "$C" --trace "$TMP/roll.trace.jsonl" agent --tasks "$TMP/tasks.jsonl" \
	--samples 4 --jobs 2 --out "$TMP/results.jsonl" --model-url "$FAKE_URL"
 printf '%s\n' "$RC" >"$TMP/rc"; printf '%s' "$ERR" >"$TMP/err")
check_eq "rollouts: exit 0" 0 "$(cat "$TMP/rc")" || echo "# stderr: $(_clip "$(cat "$TMP/err")")"
stop_fake
RES=$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/results.jsonl" 2>/dev/null)

export_all rollouts roll 8 "8 rows (one per episode; the rollouts' own run gives none)"
ROWS=$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/roll.trl.jsonl")
check_json_eq "rollouts trl: 4 rows per group, ids the samples" \
	'sorted((r["group"], r["id"]) for r in b)' \
	'[["ta","ta-s1"],["ta","ta-s2"],["ta","ta-s3"],["ta","ta-s4"],["tb","tb-s1"],["tb","tb-s2"],["tb","tb-s3"],["tb","tb-s4"]]' "$ROWS"
"$PY" - "$ROWS" "$RES" >"$TMP/cmp" <<'EOF'
import json, sys
rows, res = json.loads(sys.argv[1]), json.loads(sys.argv[2])
by = {r["sample"]: r for r in res}
print(json.dumps([all(r["reward"] == by[r["id"]]["rewards"]["episode"]["reward"] for r in rows),
                  all(r["step_rewards"] == [s["reward"] for s in by[r["id"]]["rewards"]["steps"]] for r in rows)]))
EOF
check_eq "rollouts trl: every row's reward and step rewards are its result line's" '[true, true]' "$(cat "$TMP/cmp")"
for g in ta tb; do
	# `lanser advantages` on the group's rewards, in the rows' order
	json "json.dumps({'id': '$g', 'rewards': [r['reward'] for r in b if r['group'] == '$g']})" "$ROWS" >"$TMP/g-$g.jsonl"
	run "$L" advantages --in "$TMP/g-$g.jsonl"
	check_json_eq "rollouts $g: the rows' advantages equal 'lanser advantages' on the same rewards" \
		"json.dumps(b['advantages'])" "$(json "json.dumps([r['advantage'] for r in b if r['group'] == '$g'])" "$ROWS")"
	"$PY" - "$ROWS" "$RES" "$g" >"$TMP/cmp" <<'EOF'
import json, sys
rows, res, g = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
by = {r["sample"]: r for r in res}
print(json.dumps(all(abs(r["advantage"] - by[r["id"]]["advantage"]) < 1e-9 for r in rows if r["group"] == g)))
EOF
	check_eq "rollouts $g: ... and the rollout's own advantage of each sample" true "$(cat "$TMP/cmp")"
done
check_json_eq "rollouts trl: the advantages are not all zero (the group's rewards differ)" \
	'any(abs(r["advantage"]) > 0.1 for r in b)' true "$ROWS"
check_json_eq "rollouts verl: uid = the task, index 0..3 within it" \
	'sorted((r["extra_info"]["uid"], r["extra_info"]["index"]) for r in b)' \
	'[["ta",0],["ta",1],["ta",2],["ta",3],["tb",0],["tb",1],["tb",2],["tb",3]]' \
	"$("$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/roll.verl.jsonl")"
"$PY" - "$TMP/roll.prm.jsonl" "$RES" >"$TMP/cmp" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["sample"]: r for r in json.loads(sys.argv[2])}
ok = []
for r in rows:
    res = by[r["id"]]
    want = [s["terms"]["S"] == 1 and s["terms"]["D"] <= s["terms"]["D0"] for s in res["rewards"]["steps"]]
    want.append(res["rewards"]["episode"]["terms"]["format"] == 1 and res["tests"]["status"] == "passed")
    ok.append(r["labels"] == want)
print(json.dumps([all(ok), sorted(r["labels"][-1] for r in rows)]))
EOF
check_eq "rollouts prm: labels by the rule (S 1 and D <= D0; the end: usable diff and tests passed), half the ends good" \
	'[true, [false, false, false, false, true, true, true, true]]' "$(cat "$TMP/cmp")"
