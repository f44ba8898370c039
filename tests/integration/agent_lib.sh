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
