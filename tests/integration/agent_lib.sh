# agent_lib.sh - the agent tests' (t_agent.sh, t_agent_bad.sh) use of the
# scripted model server helpers (tests/model/fake.sh: started detached on
# 127.0.0.1, stopped on exit). Source it after lib.sh.
#
#   start_agent_fake SCRIPT.json -> $FAKE_URL (…/v1), $FAKE_LOG (one JSON line per request)
#   fake_request N EXPR          -> json EXPR over log line N (1-based; b["body"] is the request)

. "$LANSER_REPO_ROOT/tests/model/fake.sh"

FAKE_URL=
FAKE_LOG=
_AGENT_FAKE_N=0

start_agent_fake() {
	_AGENT_FAKE_N=$((_AGENT_FAKE_N + 1))
	start_fake "agent$_AGENT_FAKE_N" "@$1" || return 1
	FAKE_URL=$URL
	FAKE_LOG=$LOG
}

fake_request() {
	sed -n "${1}p" "$FAKE_LOG" | json "$2" -
}

# rollout_script FILE : the rollout tests' model script (t_agent.sh,
# t_agent_export.sh): 8 replies, each an edit and finish in one reply,
# alternately an edit that is right and one that breaks a test, so that a
# group's rewards differ (which sample gets which is up to the timing).
rollout_script() {
	"$PY" - "$1" <<'PYEOF'
import json, sys
good = {"args": ["c://src/util.c#max_int:body"], "text": "{\n\treturn b < a ? a : b;\n}"}
bad = {"args": ["c://src/util.c#clamp_int:body"],
       "text": "{\n\tif (v < lo)\n\t\treturn lo;\n\tif (v > hi)\n\t\treturn hi - 1;\n\treturn v;\n}"}
fin = {"id": "r2", "name": "finish", "arguments": {"summary": "ok"}}
turns = [{"reply": {"tool_calls": [{"id": "r1", "name": "edit", "arguments": a}, fin]}}
         for a in [good, bad] * 4]
json.dump({"turns": turns}, open(sys.argv[1], "w"))
PYEOF
}
