# serve_lib.sh - what the `lanser serve` scripts share (source after lib.sh):
# detached servers, readiness, the process tree under a server.
#
#   serve_start NAME ARGS...   a detached `lanser serve` (setsid, stdio to
#                              $TMP/NAME.{out,err}); pid in $TMP/NAME.pid,
#                              port in $TMP/NAME.port once it listens
#   serve_ready NAME           until /readyz answers 200 (1 if it died)
#   serve_port NAME            its port
#   serve_descendants PID      every process under PID (the tree, not names:
#                              other sessions' servers are not ours)
#   serve_ls_pids NAME COMM    the descendants of server NAME whose comm is COMM
#   serve_fixture              C: the C fixture committed at $TMP/c (the
#                              workspace "c" of the tasks files), and
#                              $TMP/good.diff: a patch to it whose reward
#                              is 2.625 (tests pass, no new diagnostic)
#   serve_task ID MEMBERS      $TMP/ID.json: the task {"schema", "id": ID,
#                              MEMBERS (JSON text)}, and $TMP/tasks.jsonl:
#                              that one task on workspace "c"
#
# Servers are killed (their process group) when the script exits.
SERVE_PIDS=()
_serve_lib_cleanup() {
	local rc=$? p
	for p in "${SERVE_PIDS[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null
	done
	for p in "${SERVE_PIDS[@]}"; do
		{ wait "$p"; } 2>/dev/null
	done
	return $rc
}
trap '_serve_lib_cleanup; _lib_cleanup' EXIT

serve_start() {
	local name=$1; shift
	rm -f "$TMP/$name.port"
	setsid "$L" serve --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	echo $! >"$TMP/$name.pid"
	SERVE_PIDS+=("$!")
}

serve_port() { cat "$TMP/$1.port"; }

serve_ready() {
	local i
	for i in $(seq 1 600); do
		if [ -s "$TMP/$1.port" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' \
			"http://127.0.0.1:$(serve_port "$1")/readyz")" = 200 ]; then
			return 0
		fi
		kill -0 "$(cat "$TMP/$1.pid")" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

serve_fixture() {
	C=$(fixture_base cproj c) || return 1
	(cd "$C" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c &&
		git diff >"$TMP/good.diff" && git checkout -q -- .)
}

serve_task() {
	printf '{"schema": "lanser.task/1", "id": "%s", %s}\n' "$1" "$2" >"$TMP/$1.json"
	printf '{"id": "%s", "workspace": "c", "task": "%s.json"}\n' "$1" "$1" >"$TMP/tasks.jsonl"
}

serve_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		serve_descendants "$c"
	done
}

serve_ls_pids() {
	local p
	for p in $(serve_descendants "$(cat "$TMP/$1.pid")"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] && echo "$p"
	done
}
