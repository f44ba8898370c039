# fake.sh - start and stop the scripted model server (tests/model/fake_openai.py)
# from an integration test. Source it after tests/integration/lib.sh:
#
#     . "$(dirname "$0")/lib.sh"
#     . "$LANSER_REPO_ROOT/tests/model/fake.sh"
#     start_fake NAME '{"turns": [{"reply": {"content": "hi"}}]}'   # or @FILE
#     ... OPENAI_BASE_URL=$URL lanser ...; fake_log .0.body.model ...
#
# start_fake NAME SCRIPT : (re)starts the server on a free loopback port with
#   SCRIPT (JSON text, or @PATH of a script file); sets FAKE_PID, PORT,
#   URL (http://127.0.0.1:PORT/v1) and LOG (its request log, JSON lines).
#   The server runs detached (setsid, stdio to files under $TMP/fake-NAME).
# stop_fake : stops it (also done on exit: this file chains its stop before
#   lib.sh's cleanup).
# fake_log EXPR : `json EXPR` over the request log as one list of records.
# fake_state EXPR : `json EXPR` over GET /_fake/state ({"requests", "turns",
#   "next_turn", "left"}), e.g. to check that a script was used up.

FAKE_PY=$LANSER_REPO_ROOT/tests/model/fake_openai.py
FAKE_PID=
PORT=
URL=
LOG=
# loopback only: no proxy of the environment in between
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

stop_fake() {
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
		FAKE_PID=
	fi
}
trap 'stop_fake; _lib_cleanup' EXIT

start_fake() {
	stop_fake
	local d=$TMP/fake-$1 i
	rm -rf "$d" && mkdir -p "$d"
	case $2 in
	@*) cp "${2#@}" "$d/script.json" ;;
	*) printf '%s\n' "$2" >"$d/script.json" ;;
	esac
	LOG=$d/log.jsonl
	setsid "$PY" "$FAKE_PY" --script "$d/script.json" --port-file "$d/port" --log "$LOG" \
		>"$d/stdout" 2>"$d/stderr" </dev/null &
	FAKE_PID=$!
	for i in $(seq 1 300); do
		[ -s "$d/port" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.1
	done
	PORT=$(cat "$d/port" 2>/dev/null)
	URL=http://127.0.0.1:$PORT/v1
	if [ -z "$PORT" ]; then
		fail "fake model server $1 starts" "$(cat "$d/stderr")"
		return 1
	fi
}

fake_log() {
	"$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$LOG" | json "$1" -
}

fake_state() {
	"$PY" -c 'import sys, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:%s/_fake/state" % sys.argv[1], timeout=10).read().decode())' "$PORT" | json "$1" -
}
