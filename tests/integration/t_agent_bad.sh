#!/usr/bin/env bash
# `lanser agent` against a misbehaving model (tests/model/fake_openai.py on
# 127.0.0.1): an unknown tool, arguments that are not JSON, a schema
# violation, a path outside the workspace, an edit inside .git, an argument
# over the cap, the same failing call again and again, an endless loop of
# calls, a token budget -> each reported to the model as the tool's result
# (seen in the next request), budgets enforced, the workspace intact. Then
# network faults: server down, 500s, 429 then success, a cut stream,
# malformed JSON, a reply over the size cap -> retried or a clear error with
# a stable exit code, and the key in no message. Also in the sanitizer pass
# (tests/run-all.sh): it feeds untrusted model output to the loop.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
need_lanser
RUN_TIMEOUT=300

C=$(fixture_base cproj) || exit 1
CONFIG_SUM=$(sha256sum "$C/.git/config")
printf '{"id": "bad", "instruction": "Do something.", "budgets": {"steps": 20}}\n' >"$TMP/task.json"
export OPENAI_API_KEY=sk-test-secret-key

# agent [OPTIONS...] : one episode in $C with the fake server; $OUT is the result
agent() {
	(cd "$C" && run "$L" --root "$C" --json agent --task "$TMP/task.json" --model-url "$FAKE_URL" "$@"
	 printf '%s\n' "$RC" >"$TMP/rc"; printf '%s' "$OUT" >"$TMP/out"; printf '%s' "$ERR" >"$TMP/err")
	RC=$(cat "$TMP/rc")
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# told N TEXT NAME : the Nth request's last message is a tool result holding TEXT
told() {
	local m
	m=$(fake_request "$1" 'b["body"]["messages"][-1]["role"] + ": " + b["body"]["messages"][-1]["content"]')
	if [[ "$m" == "tool: "* && "$m" == *"$2"* ]]; then
		ok "$3"
	else
		fail "$3" "the last message of request $1 is not a tool result holding '$2': $(_clip "$m")"
	fi
}

# --- bad calls, one per turn, then finish
"$PY" - "$TMP/bad.json" <<'EOF'
import json, sys
big = "x" * (2 << 20)
turns = [
    {"name": "frobnicate", "arguments": {}},
    {"name": "def", "arguments": "{not json"},
    {"name": "def", "arguments": {"args": ["c://src/util.c#max_int"], "bogus": 1}},
    {"name": "patch", "arguments": {"args": ["/etc/passwd"]}},
    {"name": "edit", "arguments": {"args": [".git/config@R(1,1->1,2)"], "text": "x"}},
    {"name": "edit", "arguments": {"args": ["c://src/util.c#max_int:body"], "text": big}},
    {"name": "eval", "arguments": {}},
    {"name": "finish", "arguments": {"summary": "gave up"}},
]
json.dump({"turns": [{"reply": {"tool_calls": [dict(id="b%d" % i, **t)]}} for i, t in enumerate(turns)]},
          open(sys.argv[1], "w"))
EOF
start_agent_fake "$TMP/bad.json" || fail "bad calls: the fake model server started" "no port"
agent
check_eq "bad calls: the episode runs to its end (exit 0)" 0 "$RC"
[ "$RC" = 0 ] || echo "# stderr: $(_clip "$ERR")"
check_json_eq "bad calls: stopped by finish" .stop finish
check_json_eq "bad calls: every bad call failed with its code" '[s["code"] for s in b["steps"]]' \
	'["USAGE","USAGE","USAGE","PERMISSION","'"$(json 'b["steps"][4]["code"]')"'","BAD_INPUT_FILE","USAGE","OK"]'
told 2 'error USAGE (exit 129): unknown tool "frobnicate"' "bad calls: an unknown tool is reported to the model, naming the tools"
told 3 "not valid JSON" "bad calls: arguments that are not JSON are reported"
told 4 "bogus" "bad calls: an unknown member is reported, named"
told 5 "outside the workspace" "bad calls: a path outside the workspace is reported"
check_not_contains "bad calls: an edit inside .git fails" "$(json 'b["steps"][4]["code"]')" "OK"
told 7 "at most 1048576 are taken" "bad calls: a 2 MiB argument is refused and reported"
told 8 "not a tool of the agent" "bad calls: eval is not the agent's"
check_json_eq "bad calls: nothing changed: empty diff; the refused patch and .git edit are steps with S 0, D unchanged, reward 0" \
	'[b["diff"], [[s["step"], s["tool"], s["terms"]["S"], s["terms"]["D0"], s["terms"]["D"], s["reward"]] for s in b["rewards"]["steps"]]]' \
	'["",[[4,"patch",0,0,0,0],[5,"edit",0,0,0,0]]]'
check_json_eq "bad calls: an episode without a change earns R_format 0" .rewards.episode.terms.format 0
check_eq "bad calls: the user's tree is untouched" "" "$(git -C "$C" status --porcelain)"
check_eq "bad calls: .git/config untouched" "$CONFIG_SUM" "$(sha256sum "$C/.git/config")"
check_json_eq "bad calls: the key was sent to the server as a bearer token" .authorization \
	"Bearer sk-test-secret-key" "$(sed -n 1p "$FAKE_LOG")"
check_not_contains "bad calls: the key is in no output" "$OUT$ERR" "sk-test-secret"

# --- the same failing call again and again: stuck after 3
cat >"$TMP/stuck.json" <<'EOF'
{"turns": [{"reply": {"tool_calls": [{"id": "s", "name": "def", "arguments": {"args": ["c://src/nope.c#f"]}}]}, "repeat": 10}]}
EOF
start_agent_fake "$TMP/stuck.json"
agent
check_eq "stuck: exit 0" 0 "$RC"
check_json_eq "stuck: stopped after the third identical failure" '[b["stop"], b["budgets"]["steps"]["used"], b["usage"]["requests"]]' '["stuck",3,3]'

# --- an endless loop of good calls: the step budget ends it
cat >"$TMP/loop.json" <<'EOF'
{"turns": [{"reply": {"tool_calls": [{"id": "l", "name": "outline", "arguments": {"args": ["src/util.c"]}}]}, "repeat": 50}]}
EOF
start_agent_fake "$TMP/loop.json"
agent --steps 4
check_eq "endless loop: exit 0" 0 "$RC"
check_json_eq "endless loop: stopped by the step budget (--steps 4)" '[b["stop"], b["budgets"]["steps"]["used"], b["usage"]["requests"]]' '["steps",4,4]'

# --- a reply without a tool call counts as a step; the model is asked to act
cat >"$TMP/talk.json" <<'EOF'
{"turns": [{"reply": {"content": "I think...", "usage": {"prompt_tokens": 60, "completion_tokens": 20}}, "repeat": 50}]}
EOF
start_agent_fake "$TMP/talk.json"
agent --tokens 200
check_eq "token budget: exit 0" 0 "$RC"
check_json_eq "token budget: 80 tokens a turn, --tokens 200: three turns" '[b["stop"], b["budgets"]["tokens"]["used"], b["usage"]["requests"]]' '["tokens",240,3]'
check_contains "token budget: a reply without a call is answered" \
	"$(fake_request 2 'b["body"]["messages"][-1]["content"]')" "Call a tool"

# --- network faults
FAKE_URL=http://127.0.0.1:9/v1
agent
check_eq "server down: exit 86 MODEL_SERVER" 86 "$RC"
check_contains "server down: the message says the server could not be reached" "$ERR" "127.0.0.1"
check_json_eq "server down: the episode is unscorable (a null reward in its group, not a 0)" \
	'[b["stop"], b["rewards"]["episode"]["scorable"], b["rewards"]["episode"]["reward"], b["error"]["exit"]]' \
	'["model-error",false,null,86]'

cat >"$TMP/500.json" <<'EOF'
{"turns": [{"status": 500, "repeat": 10}]}
EOF
start_agent_fake "$TMP/500.json"
OPENAI_API_KEY=sk-test-secret-key agent
check_eq "500s: exit 86 MODEL_SERVER after the retries" 86 "$RC"
check_contains "500s: the message names the status" "$ERR" "500"
check_not_contains "500s: no key in the message" "$ERR" "sk-test-secret"
check_eq "500s: the user's tree is untouched" "" "$(git -C "$C" status --porcelain)"

cat >"$TMP/429.json" <<'EOF'
{"turns": [
 {"status": 429, "headers": {"Retry-After": "0"}},
 {"reply": {"tool_calls": [{"id": "f", "name": "finish", "arguments": {"summary": "ok"}}]}}
]}
EOF
start_agent_fake "$TMP/429.json"
agent
check_eq "429 then success: exit 0" 0 "$RC"
check_json_eq "429 then success: retried (2 attempts for 1 request), finished" '[b["stop"], b["usage"]["requests"], b["usage"]["attempts"]]' '["finish",1,2]'

cat >"$TMP/cut.json" <<'EOF'
{"turns": [{"reply": {"content": "a long answer that will be cut in the middle"}, "stream": true, "truncate_after": 2, "repeat": 10}]}
EOF
start_agent_fake "$TMP/cut.json"
agent --stream
check_eq "a cut stream: exit 86 MODEL_SERVER" 86 "$RC"

cat >"$TMP/junk.json" <<'EOF'
{"turns": [{"raw": "{\"choices\": [", "repeat": 10}]}
EOF
start_agent_fake "$TMP/junk.json"
agent
check_eq "malformed JSON: exit 77 INPUT" 77 "$RC"
check_json_eq "malformed JSON: the result says the model failed" .stop model-error

cat >"$TMP/huge.json" <<'EOF'
{"turns": [{"reply": {"content": "x"}, "pad_bytes": 10485760, "repeat": 10}]}
EOF
start_agent_fake "$TMP/huge.json"
agent
check_eq "a 10 MiB reply: exit 77 INPUT (over the response cap)" 77 "$RC"
check_eq "faults: the user's tree is untouched" "" "$(git -C "$C" status --porcelain)"
stop_fake

# --- usage errors
run "$L" --root "$C" agent
check_eq "no task: exit 129" 129 "$RC"
check_contains "no task: says what to give" "$ERR" "--task"
printf '{"instruction": "x", "frob": 1}\n' >"$TMP/badtask.json"
(cd "$C" && run "$L" --root "$C" agent --task "$TMP/badtask.json" --model-url http://127.0.0.1:9/v1; printf '%s\n%s' "$RC" "$ERR" >"$TMP/r")
check_eq "a task with an unknown member: exit 78" 78 "$(sed -n 1p "$TMP/r")"
check_contains "... naming it" "$(cat "$TMP/r")" '"frob"'
