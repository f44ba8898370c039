#!/usr/bin/env bash
# The model client (agent/llm.h) over real HTTP against the scripted
# OpenAI-compatible server tests/model/fake_openai.py: replies, tool calls
# (whole and streamed in fragments), sampling parameters and usage, retries
# on 429 (honouring Retry-After) and 5xx, 4xx messages, malformed, truncated
# and oversized replies, a server that is down, a timeout, Ctrl-C, where the
# settings come from, and the API key never in any output.
#
# The client runs through the unit-test binary's driver mode
# (tests/unit/run __llm, see tests/unit/test_llm.c); under the sanitizer pass
# (LANSER_BIN=.../lanser-asan) through tests/unit/run-asan.
. "$(dirname "$0")/lib.sh"

DRV=$LANSER_REPO_ROOT/tests/unit/run
case "${LANSER_BIN:-}" in *-asan) DRV=$LANSER_REPO_ROOT/tests/unit/run-asan ;; esac
DRV=${LLM_DRIVER:-$DRV}
if [ ! -x "$DRV" ]; then
	fail "llm: the driver is built" "$DRV is missing: run 'make tests/unit/run'"
	exit 1
fi

KEY="sk-test-$$-SECRETKEY"
export OPENAI_API_KEY=$KEY
unset OPENAI_BASE_URL OPENAI_MODEL
ALL_OUTPUT=$TMP/all-output.txt
: >"$ALL_OUTPUT"

. "$LANSER_REPO_ROOT/tests/model/fake.sh"

# llm ARGS... : one driver run; everything it printed is kept for the key check.
llm() {
	run "$DRV" __llm "$@"
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUTPUT"
}


# --- a plain reply ------------------------------------------------------------
start_fake plain '{"turns": [{"reply": {"content": "Hello from the script."}}]}'
llm --url "$URL" --model m-1 --messages '[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]'
check_eq "plain reply: exit 0" 0 "$RC"
check_json_eq "plain reply: content" .message.content "Hello from the script."
check_json_eq "plain reply: role" .message.role "assistant"
check_json_eq "plain reply: no tool calls" '"tool_calls" in b["message"]' false
check_json_eq "plain reply: finish_reason" .finish_reason "stop"
check_json_eq "plain reply: content handed to on_delta once" .deltas '["Hello from the script."]'
check_json_eq "plain reply: one attempt" .attempts 1
check_json_eq "plain reply: HTTP 200" .http_status 200
want_prompt=$("$PY" -c 'import json; print(len(json.dumps([{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]))//4)')
check_json_eq "plain reply: prompt tokens recorded" .prompt_tokens "$want_prompt"
reply_text="Hello from the script."
check_json_eq "plain reply: completion tokens recorded" .completion_tokens $(( ${#reply_text} / 4 + 1 ))
check_eq "plain reply: the server got the model" "m-1" "$(fake_log .0.body.model)"
check_eq "plain reply: the server got the messages" '[{"content":"be brief","role":"system"},{"content":"hi","role":"user"}]' "$(fake_log .0.body.messages)"
check_eq "plain reply: not streamed" "false" "$(fake_log .0.body.stream)"
check_eq "plain reply: the key is sent as a bearer token" "Bearer $KEY" "$(fake_log .0.authorization)"
check_eq "plain reply: posted to /v1/chat/completions" "/v1/chat/completions" "$(fake_log .0.path)"

# --- tool calls, whole ----------------------------------------------------------
start_fake tools '{"turns": [{"reply": {"content": null, "tool_calls": [
  {"id": "call_a", "name": "def", "arguments": {"selector": "src/a.c@L3:C5"}},
  {"id": "call_b", "name": "read", "arguments": "{\"path\": \"README.md\"}"}]}}]}'
tools='[{"type":"function","function":{"name":"def","parameters":{"type":"object"}}}]'
llm --url "$URL" --tools "$tools"
check_eq "tool calls: exit 0" 0 "$RC"
check_json_eq "tool calls: two calls" '.message.tool_calls#' 2
check_json_eq "tool calls: content null" .message.content null
check_json_eq "tool calls: first id" .message.tool_calls.0.id call_a
check_json_eq "tool calls: first name" .message.tool_calls.0.function.name def
check_json_eq "tool calls: first arguments" 'json.loads(b["message"]["tool_calls"][0]["function"]["arguments"])["selector"]' "src/a.c@L3:C5"
check_json_eq "tool calls: second arguments as sent" .message.tool_calls.1.function.arguments '{"path": "README.md"}'
check_json_eq "tool calls: finish_reason" .finish_reason tool_calls
check_eq "tool calls: the tools were sent" "$(printf '%s' "$tools" | json . -)" "$(fake_log .0.body.tools)"

# --- tool calls, streamed in fragments, and sampling passed through ---------------
start_fake stream '{"turns": [{"chunk_size": 3, "reply": {"content": "Looking up the definition.", "tool_calls": [
  {"id": "call_x", "name": "def", "arguments": {"selector": "main.c@main", "depth": 2}},
  {"id": "call_y", "name": "search", "arguments": {"regex": "foo\\(.*\\)", "unicode": "é→"}}]}}]}'
llm --url "$URL" --stream --model m-s --sampling '{"temperature":0.25,"top_p":0.9,"max_tokens":64,"seed":7}'
check_eq "stream: exit 0" 0 "$RC"
check_json_eq "stream: content assembled" .message.content "Looking up the definition."
check_json_eq "stream: content came in deltas" 'len(b["deltas"]) > 1 and "".join(b["deltas"]) == b["message"]["content"]' true
check_json_eq "stream: two tool calls" '.message.tool_calls#' 2
check_json_eq "stream: ids" '[c["id"] for c in b["message"]["tool_calls"]]' '["call_x","call_y"]'
check_json_eq "stream: first arguments assembled" 'json.loads(b["message"]["tool_calls"][0]["function"]["arguments"])' '{"depth":2,"selector":"main.c@main"}'
check_json_eq "stream: second arguments assembled (UTF-8 split across chunks)" 'json.loads(b["message"]["tool_calls"][1]["function"]["arguments"])["unicode"]' "é→"
check_json_eq "stream: finish_reason" .finish_reason tool_calls
check_json_eq "stream: usage from the last chunk" 'b["prompt_tokens"] > 0 and b["completion_tokens"] > 0' true
check_eq "stream: asked for a stream" "true" "$(fake_log .0.body.stream)"
check_eq "stream: asked for usage" "true" "$(fake_log .0.body.stream_options.include_usage)"
check_eq "sampling: passed through" '[0.25,0.9,64,7]' \
	"$(fake_log '[x["body"][k] for x in b[:1] for k in ("temperature","top_p","max_tokens","seed")]')"
llm --url "$URL" --sampling '{"messages":[]}'
check_eq "sampling: may not set messages (usage error)" 129 "$RC"
check_contains "sampling: says which member" "$ERR" '"messages"'

start_fake anyway '{"turns": [{"stream": true, "reply": {"content": "streamed anyway"}}, {"stream": false, "reply": {"content": "whole anyway"}}]}'
llm --url "$URL"
check_eq "a stream that was not asked for: read" 0 "$RC"
check_json_eq "a stream that was not asked for: content" .message.content "streamed anyway"
llm --url "$URL" --stream
check_eq "a whole reply to a streamed request: read" 0 "$RC"
check_json_eq "a whole reply to a streamed request: content" .message.content "whole anyway"

# --- two chats on one client (kept-alive connection), a check in the script -----------
start_fake keep '{"turns": [{"reply": {"content": "one"}}, {"expect": {"model": "m-k"}, "reply": {"content": "two"}}]}'
llm --url "$URL" --model m-k --chats 2
check_eq "two chats: exit 0" 0 "$RC"
check_eq "two chats: both answers" "one two" "$(printf '%s\n' "$OUT" | while read -r l; do json .message.content "$l"; done | tr '\n' ' ' | sed 's/ $//')"
start_fake expect '{"turns": [{"expect": {"model": "other"}, "reply": {"content": "x"}}]}'
llm --url "$URL" --model m-k
check_eq "script expectation not met: 400 reported" 86 "$RC"
check_contains "script expectation not met: says what" "$ERR" 'expected model = "other", got "m-k"'

# --- retries -----------------------------------------------------------------------
start_fake r429 '{"turns": [{"status": 429, "headers": {"Retry-After": "1"}, "error": "slow down"}, {"reply": {"content": "after the wait"}}]}'
llm --url "$URL" --backoff 10
check_eq "429: retried, exit 0" 0 "$RC"
check_json_eq "429: two attempts" .attempts 2
check_json_eq "429: the answer of the second" .message.content "after the wait"
check_eq "429: Retry-After honoured (second request at least 0.9 s later, backoff was 10 ms)" true \
	"$(fake_log 'b[1]["t"] - b[0]["t"] >= 0.9')"

start_fake r429cap '{"turns": [{"status": 429, "headers": {"Retry-After": "3600"}}, {"reply": {"content": "capped"}}]}'
llm --url "$URL" --max-wait 200
check_eq "429 asking for an hour: the wait is capped (max-wait 200 ms), exit 0" 0 "$RC"
check_json_eq "429 asking for an hour: two attempts" .attempts 2

start_fake r500 '{"turns": [{"status": 500}, {"status": 503}, {"reply": {"content": "third time"}}]}'
llm --url "$URL" --backoff 10
check_eq "500, 503 then success: exit 0" 0 "$RC"
check_json_eq "500, 503 then success: three attempts" .attempts 3

start_fake r500f '{"turns": [{"status": 502, "error": "bad gateway upstream", "repeat": 50}]}'
llm --url "$URL" --backoff 10 --retries 2
check_eq "5xx forever: MODEL_SERVER" 86 "$RC"
check_json_eq "5xx forever: 1 + retries attempts" .attempts 3
check_eq "5xx forever: the server saw 3 requests" 3 "$(fake_log 'len(b)')"
check_contains "5xx forever: the server's message" "$ERR" "bad gateway upstream"
check_contains "5xx forever: the status" "$ERR" "HTTP 502"
check_contains "5xx forever: the attempts" "$ERR" "after 3 attempts"

# --- 4xx: not retried, the server's message ---------------------------------------------
start_fake r400 '{"turns": [{"status": 404, "error": "The model `nope` does not exist."}, {"reply": {"content": "never"}}]}'
llm --url "$URL" --backoff 10
check_eq "4xx: MODEL_SERVER" 86 "$RC"
check_json_eq "4xx: not retried" .attempts 1
check_json_eq "4xx: status recorded" .http_status 404
check_contains "4xx: the server's error.message" "$ERR" 'The model `nope` does not exist.'
start_fake r401 "{\"turns\": [{\"status\": 401, \"error\": \"Incorrect API key provided: $KEY.\"}]}"
llm --url "$URL"
check_eq "401: MODEL_SERVER" 86 "$RC"
check_contains "401: the message, with the key quoted back replaced" "$ERR" "Incorrect API key provided: ***."

# --- malformed, truncated, oversized ----------------------------------------------------
start_fake bad '{"turns": [{"raw": "{\"choices\": [{\"message\": "}, {"raw": "{\"choices\": []}"},
  {"stream": true, "raw": "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {oops\n\n"}]}'
llm --url "$URL"
check_eq "malformed JSON: BAD_INPUT" 77 "$RC"
check_contains "malformed JSON: says so" "$ERR" "not JSON"
llm --url "$URL"
check_eq "no choices: BAD_INPUT" 77 "$RC"
llm --url "$URL" --stream
check_eq "malformed event in a stream: BAD_INPUT" 77 "$RC"

start_fake trunc '{"turns": [{"truncate_after": 3, "reply": {"content": "abcdefghijklmnopqrstuvwxyz"}},
  {"truncate_after": 3, "truncate_mode": "clean", "reply": {"content": "abcdefghijklmnopqrstuvwxyz"}}]}'
llm --url "$URL" --stream --backoff 10
check_eq "truncated stream (connection dropped): MODEL_SERVER" 86 "$RC"
check_json_eq "truncated stream: not retried once text was shown" .attempts 1
check_contains "truncated stream: says so" "$ERR" "broke off its reply"
llm --url "$URL" --stream --backoff 10 --retries -1
check_eq "truncated stream (no [DONE]): MODEL_SERVER" 86 "$RC"
check_contains "truncated stream (no [DONE]): says so" "$ERR" "ended before its end"

start_fake big '{"turns": [{"pad_bytes": 20000, "reply": {"content": "big"}}, {"pad_bytes": 20000, "stream": true, "reply": {"content": "big"}},
  {"pad_bytes": 1000, "reply": {"content": "small enough"}}]}'
llm --url "$URL" --max-response 8192
check_eq "oversized reply: BAD_INPUT" 77 "$RC"
check_contains "oversized reply: names the cap" "$ERR" "larger than 8192 bytes"
llm --url "$URL" --max-response 8192 --stream
check_eq "oversized stream: BAD_INPUT" 77 "$RC"
llm --url "$URL" --max-response 8192
check_eq "reply under the cap: exit 0" 0 "$RC"

# --- the script ends cleanly ----------------------------------------------------------------
start_fake short '{"turns": [{"reply": {"content": "only"}}]}'
llm --url "$URL" --chats 2 --retries -1
check_eq "after the last turn: MODEL_SERVER" 86 "$RC"
check_eq "after the last turn: the state says none left" "2 0" "$(fake_state .requests) $(fake_state .left)"
check_contains "after the last turn: the fake says why" "$ERR" "no turn left"

# --- timeout, cancellation, server down ---------------------------------------------------------
start_fake slow '{"turns": [{"delay_ms": 4000, "reply": {"content": "late"}}, {"delay_ms": 20000, "reply": {"content": "later"}}]}'
llm --url "$URL" --timeout 500 --retries -1
check_eq "slow server: SERVER_TIMEOUT" 64 "$RC"
check_contains "slow server: says the timeout" "$ERR" "within 500 ms"
# Ctrl-C while the server holds the request: the driver's SIGINT handler
# sets the cancel flag (as lanser agent's does).
"$DRV" __llm --url "$URL" >"$TMP/cancel.out" 2>"$TMP/cancel.err" </dev/null &
drv=$!
for i in $(seq 1 300); do
	[ "$(fake_log 'len(b)' 2>/dev/null)" = 2 ] && break
	sleep 0.1
done
kill -INT "$drv"
wait "$drv"
RC=$?
cat "$TMP/cancel.out" "$TMP/cancel.err" >>"$ALL_OUTPUT"
check_eq "Ctrl-C during a request: CANCELLED" 73 "$RC"
check_contains "Ctrl-C during a request: says so" "$(cat "$TMP/cancel.err")" "cancelled"

stop_fake
llm --url "http://127.0.0.1:$PORT/v1" --retries 2 --backoff 10
check_eq "server down: MODEL_SERVER" 86 "$RC"
check_json_eq "server down: retried" .attempts 3
check_contains "server down: says it cannot connect" "$ERR" "cannot talk to the model server at http://127.0.0.1:$PORT"

# --- where the settings come from ---------------------------------------------------------------
start_fake env '{"turns": [{"reply": {"content": "via env"}}, {"reply": {"content": "via config"}}, {"reply": {"content": "via keyenv"}}]}'
OPENAI_BASE_URL=$URL llm
check_eq "OPENAI_BASE_URL: used" 0 "$RC"
check_json_eq "OPENAI_BASE_URL: said so" .base_url_from OPENAI_BASE_URL
ws=$TMP/ws
mkdir -p "$ws" && git -C "$ws" init -q
printf '{"model": {"baseUrl": "%s", "model": "cfg-model", "apiKeyEnv": "MY_LLM_KEY", "sampling": {"temperature": 0}}}\n' "$URL" >"$ws/.lanser.json"
llm --root "$ws"
check_eq "untrusted .lanser.json: its baseUrl is ignored (BAD_CONFIG)" 78 "$RC"
check_contains "untrusted .lanser.json: says where to set it" "$ERR" "OPENAI_BASE_URL"
MY_LLM_KEY=other-key-$$ llm --root "$ws" --trust
check_eq "trusted .lanser.json: baseUrl used" 0 "$RC"
check_json_eq "trusted .lanser.json: said so" .base_url_from .lanser.json
check_eq "trusted .lanser.json: its model" cfg-model "$(fake_log .1.body.model)"
check_eq "trusted .lanser.json: its sampling" 0 "$(fake_log .1.body.temperature)"
check_eq "trusted .lanser.json: the key from apiKeyEnv" "Bearer other-key-$$" "$(fake_log .1.authorization)"
MY_LLM_KEY=other-key-$$ OPENAI_BASE_URL=$URL llm --root "$ws" --model flag-model
check_eq "flag over configuration: model" flag-model "$(fake_log .2.body.model)"
check_eq "untrusted: apiKeyEnv ignored, OPENAI_API_KEY sent" "Bearer $KEY" "$(fake_log .2.authorization)"
stop_fake

# --- the key never reaches an output ----------------------------------------------------------------
if grep -qF -- "$KEY" "$ALL_OUTPUT"; then
	fail "the API key appears in no output of the client" "$(grep -nF -- "$KEY" "$ALL_OUTPUT" | head -3)"
else
	ok "the API key appears in no output of the client"
fi
check_no_procs "no fake server left running" "$FAKE_PY"
