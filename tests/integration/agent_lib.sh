# agent_lib.sh - the scripted model server for the agent tests
# (t_agent.sh, t_agent_bad.sh): tests/model/fake_openai.py on 127.0.0.1,
# started detached (setsid, stdio to files) and killed on exit.
#
#   start_fake SCRIPT.json   -> $FAKE_URL (…/v1), $FAKE_LOG (one JSON line per request)
#   stop_fake
#   fake_request N EXPR      -> json EXPR over log line N (1-based; b["body"] is the request)

FAKE_PID=
FAKE_URL=
FAKE_LOG=
FAKE_N=0

stop_fake() {
	if [ -n "$FAKE_PID" ]; then
		kill "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
	fi
	FAKE_PID=
}

_agent_cleanup() {
	local rc=$?
	stop_fake
	(exit "$rc")
	_lib_cleanup
}
trap _agent_cleanup EXIT

start_fake() {
	local port i
	stop_fake
	FAKE_N=$((FAKE_N + 1))
	FAKE_LOG=$TMP/fake$FAKE_N.log
	rm -f "$TMP/fake$FAKE_N.port"
	setsid "$PY" "$LANSER_REPO_ROOT/tests/model/fake_openai.py" --script "$1" \
		--port-file "$TMP/fake$FAKE_N.port" --log "$FAKE_LOG" \
		</dev/null >"$TMP/fake$FAKE_N.out" 2>&1 &
	FAKE_PID=$!
	for i in $(seq 100); do
		[ -s "$TMP/fake$FAKE_N.port" ] && break
		sleep 0.1
	done
	port=$(cat "$TMP/fake$FAKE_N.port" 2>/dev/null)
	FAKE_URL=http://127.0.0.1:$port/v1
	[ -n "$port" ]
}

# fake_request N EXPR : EXPR (see json in lib.sh) over the log line of the
# Nth request the fake server received (b["body"] is the request's body).
fake_request() {
	sed -n "${1}p" "$FAKE_LOG" | json "$2" -
}
