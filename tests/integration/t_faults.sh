#!/usr/bin/env bash
# Fault injection with the fake language server (tests/fakels/fakels, modes
# listed at the top of tests/fakels/fakels.c): every way a server can fail
# maps to its exit code and a "lanser: " message, the command ends in bounded
# time, and no server process is left running or unreaped afterwards.
#
# Each lanser run is the child of a subreaper (run_reaped in lib.sh), so a
# server lanser forgot to kill or to wait for is re-parented to the test and
# seen; the fake binary is copied under this script's scratch directory, so
# `pgrep -f "$TMP"` finds any copy of it that is still running.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$FAKELS" ]; then
	fail "faults: the fake server is built" "$FAKELS is missing: run 'make tests/fakels/fakels'"
	exit 1
fi
mkdir -p "$TMP/bin" && cp "$FAKELS" "$TMP/bin/fakels" || exit 1
FAKE=$TMP/bin/fakels

ws=$TMP/ws
mkdir -p "$ws" && git -C "$ws" init -q && printf 'hello world\n' >"$ws/a.fake"
cd "$ws" || exit 1

# fake_config ARGS... : .lanser.json that runs the copied fake with ARGS.
fake_config() {
	"$PY" -c '
import json, sys
print(json.dumps({"servers": {"fake": {"command": sys.argv[1:], "fileTypes": {"*.fake": "fake"},
                                        "readiness": "none"}},
                  "timeouts": {"initMs": 3000}}))' "$FAKE" "$@" >"$ws/.lanser.json"
	"$L" --root "$ws" trust >/dev/null  # a server command runs only when trusted
}

# fault NAME EXPECTED_RC MAX_SECONDS FAKE_ARGS... : one run of
# `lanser --timeout 2000 def a.fake@L1:C1` against the fake.
fault() {
	local name=$1 want=$2 max=$3
	shift 3
	rm -f "$TMP/fake.log"
	fake_config "$@" --log "$TMP/fake.log"
	run_reaped 20 "$L" --timeout 2000 def a.fake@L1:C1
	if [ "$RC" = "$want" ]; then
		ok "fault $name: exits $want"
	else
		fail "fault $name: exits $want" "$(_rc_details "$want")"
	fi
	if [ "$want" = 0 ]; then
		check_eq "fault $name: prints the fake's answer" "a.fake:1:1" "$OUT"
		check_eq "fault $name: nothing on stderr" "" "$ERR"
	else
		if [[ "$ERR" =~ ^lanser:\ [^[:space:]] ]]; then
			ok "fault $name: a 'lanser: ' message on stderr"
		else
			fail "fault $name: a 'lanser: ' message on stderr" "stderr: '$(_clip "$ERR")'"
		fi
		check_eq "fault $name: nothing on stdout" "" "$OUT"
	fi
	if "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$ELAPSED" "$max"; then
		ok "fault $name: ends within ${max}s"
	else
		fail "fault $name: ends within ${max}s" "took ${ELAPSED}s (killed at 20s: exit 124)"
	fi
	if [ "$ORPHANS" = 0 ] && [ "$ZOMBIES" = 0 ]; then
		ok "fault $name: no server process left running or unreaped"
	else
		fail "fault $name: no server process left running or unreaped" \
			"$ORPHANS left running, $ZOMBIES never waited for: $LEFTOVERS"
	fi
	check_no_procs "fault $name: pgrep finds no fakels afterwards" "$TMP/bin/fakels"
}

fault "ok" 0 5 --mode ok
check_eq "fault ok: lanser shuts the server down politely (shutdown, then exit)" \
	"shutdown
exit" "$(tail -n 2 "$TMP/fake.log" 2>/dev/null)"

fault "server-requests" 0 5 --mode server-requests
check_contains "fault server-requests: lanser answered the server's own requests" \
	"$(cat "$TMP/fake.log" 2>/dev/null)" "server-requests answered"

fault "crash-on-request" 65 5 --mode crash-on-request
check_contains "fault crash-on-request: the message says the server exited" "$ERR" "exited"
fault "segv-on-request" 65 5 --mode segv-on-request
check_contains "fault segv-on-request: the message names the signal" "$ERR" "signal"
fault "garbage" 65 5 --mode garbage
fault "bad-header" 65 5 --mode bad-header
fault "oversized" 65 8 --mode oversized
fault "exit-after-init" 65 5 --mode exit-after-init

fault "hang" 64 8 --mode hang
check_contains "fault hang: the message says what timed out" "$ERR" "within 2000 ms"
fault "hang --ignore-term (needs SIGKILL)" 64 10 --mode hang --ignore-term
fault "no-init" 64 8 --mode no-init
check_contains "fault no-init: the message names initialize" "$ERR" "initialize"
fault "no-init --ignore-term (needs SIGKILL)" 64 10 --mode no-init --ignore-term

export FAKELS_DELAY_MS=5000
# LANSER_DEBUG_FRAMES=FILE makes lanser append every frame it sends (">") and
# receives ("<"); the fake's own log cannot tell, since lanser may kill it
# before it reads the cancellation.
export LANSER_DEBUG_FRAMES=$TMP/frames
fault "slow (5 s per answer, --timeout 2000)" 64 8 --mode slow
check_eq "fault slow: lanser sends \$/cancelRequest for the request it gave up on" 1 \
	"$(grep -c '^> .*\$/cancelRequest' "$TMP/frames" 2>/dev/null)"
unset LANSER_DEBUG_FRAMES
export FAKELS_DELAY_MS=300
fault "slow (0.3 s per answer)" 0 5 --mode slow
unset FAKELS_DELAY_MS

# --json on a fault still prints an error bundle.
fake_config --mode hang
run_reaped 20 "$L" --json --timeout 2000 def a.fake@L1:C1
check_eq "fault hang --json: exits 64" 64 "$RC"
check_json_eq "fault hang --json: error bundle with exitCode 64, SERVER_TIMEOUT, no facts" \
	'[b["meta"]["exitCode"], b["meta"]["status"], b["facts"]]' '[64,"SERVER_TIMEOUT",[]]'
check_contains "fault hang --json: the bundle's message explains the timeout" \
	"$(json .meta.volatile.message)" "did not answer"
check_eq "fault hang --json: no server process left" "0 0" "$ORPHANS $ZOMBIES"

fake_config --mode garbage
run_reaped 20 "$L" --json --timeout 2000 def a.fake@L1:C1
check_json_eq "fault garbage --json: error bundle with exitCode 65, SERVER_CRASH" \
	'[b["meta"]["exitCode"], b["meta"]["status"]]' '[65,"SERVER_CRASH"]'

# A server command that does not exist.
"$PY" -c '
import json
print(json.dumps({"servers": {"fake": {"command": ["/nonexistent/fakels-missing"],
                  "fileTypes": {"*.fake": "fake"}, "readiness": "none"}}}))' >"$ws/.lanser.json"
"$L" --root "$ws" trust >/dev/null
run_reaped 20 "$L" --timeout 2000 def a.fake@L1:C1
check_eq "fault a configured server that is not installed exits 79" 79 "$RC"
check_contains "fault server not installed: 'lanser: ' message" "$ERR" "lanser: "

check_no_procs "fault no fakels copy of this test is left at the end" "$TMP/bin/fakels"
