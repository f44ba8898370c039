# lib.sh - helpers for the integration tests (tests/integration/t_*.sh).
#
# Source it first thing in a test:
#
#     . "$(dirname "$0")/lib.sh"
#
# Every check prints exactly one line, "ok NAME" or "FAIL NAME: DETAILS"
# (details continue on lines starting with "#   "); tests/integration/run.sh
# counts the lines that start with "ok " and "FAIL ". A test script also exits
# non-zero when any of its checks failed, so it can be run alone:
#
#     bash tests/integration/t_clangd.sh
#
# Scratch files live in one temporary directory per script ($TMP), removed on
# exit unless LANSER_KEEP_TMP=1 (then its path is printed).
#
# Running a command:  run CMD...        -> $RC, $OUT (stdout), $ERR (stderr)
# Checks:             ok / fail / skip / check_eq / check_contains / check_not_contains
#                     check_rc / check_rc_as / check_json_eq / check_no_procs
# Fixtures:           fixture NAME [DEST]  -> prints the path of a prepared copy
# JSON:               json EXPR [JSON|-]   -> prints a field of JSON ($OUT by
#                                           default; "-" reads stdin)

set -u

if [ -z "${LANSER_REPO_ROOT:-}" ]; then
	LANSER_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
export LANSER_REPO_ROOT
L=${LANSER_BIN:-$LANSER_REPO_ROOT/lanser}
FAKELS=$LANSER_REPO_ROOT/tests/fakels/fakels
PY=/usr/bin/python3
FIXTURES=$LANSER_REPO_ROOT/tests/fixtures
# Upper bound in seconds for one command run through `run`; a hung lanser
# becomes a failed check instead of a hung suite.
RUN_TIMEOUT=${RUN_TIMEOUT:-60}

T_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lanser-it-$T_NAME.XXXXXX") || {
	echo "FAIL $T_NAME: cannot create a scratch directory"
	exit 1
}
# Physical path: the workspace root lanser finds is the real path, and the
# tests compare against it.
TMP=$(cd "$TMP" && pwd -P)
# Each script gets its own runtime folder, so its daemons (one per
# workspace) are its own; they are stopped on exit.
export XDG_RUNTIME_DIR=$TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
# ... and its own trust store (core/trust.h): nothing a test trusts leaks
# into the user's ~/.local/state.
export XDG_STATE_HOME=$TMP/state

# lanser for an unprivileged uid. Root runs some checks as uid 65534
# (setpriv); when the checkout sits under a folder other users cannot enter
# (a clone in /root, mode 0700) that uid cannot exec "$L". Then the binary,
# the engine next to it and the pinned servers it finds next to itself
# (deps/node_modules, hard-linked where the file system allows) are copied
# to a folder every user can reach, and L points there: the same build,
# reachable. run.sh makes the copy once per run (LANSER_REACHABLE_DIR).
_lib_reachable_by_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$1" 2>/dev/null
}
_lib_reachable_copy() { # DIR: fills DIR with a reachable copy of $L
	local d=$1 src
	src=$(dirname "$L")
	mkdir -p "$d/tests/fakels" "$d/deps" || return 1
	cp -p "$L" "$d/" || return 1
	[ -x "$src/lanser-engine" ] && cp -p "$src/lanser-engine" "$d/"
	[ -x "$FAKELS" ] && cp -p "$FAKELS" "$d/tests/fakels/"
	if [ -d "$src/deps/node_modules" ]; then
		cp -al "$src/deps/node_modules" "$d/deps/" 2>/dev/null ||
			{ rm -rf "$d/deps/node_modules"; cp -a "$src/deps/node_modules" "$d/deps/"; } || return 1
	fi
	chmod -R go+rX "$d"
}
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -x "$L" ] &&
	! _lib_reachable_by_nobody "$L"; then
	if [ -z "${LANSER_REACHABLE_DIR:-}" ] || [ ! -d "$LANSER_REACHABLE_DIR" ]; then
		LANSER_REACHABLE_DIR=$(mktemp -d /tmp/lanser-reach.XXXXXX) || exit 1
		_LIB_OWN_REACH=$LANSER_REACHABLE_DIR
	fi
	if [ ! -x "$LANSER_REACHABLE_DIR/$(basename "$L")" ]; then
		chmod 755 "$LANSER_REACHABLE_DIR" && _lib_reachable_copy "$LANSER_REACHABLE_DIR" || {
			echo "FAIL $T_NAME: cannot copy lanser to a folder an unprivileged user can reach"
			exit 1
		}
	fi
	L=$LANSER_REACHABLE_DIR/$(basename "$L")
	[ -x "$LANSER_REACHABLE_DIR/tests/fakels/fakels" ] && FAKELS=$LANSER_REACHABLE_DIR/tests/fakels/fakels
fi
T_FAILS=0
T_CHECKS=0
RC=0
OUT=
ERR=

_lib_cleanup() {
	local rc=$?
	"$L" daemon stop --all >/dev/null 2>&1
	[ -n "${_LIB_OWN_REACH:-}" ] && rm -rf "$_LIB_OWN_REACH"
	if [ "${LANSER_KEEP_TMP:-0}" = 1 ]; then
		echo "# kept scratch directory $TMP"
	else
		rm -rf "$TMP"
	fi
	if [ "$T_FAILS" -gt 0 ] && [ "$rc" = 0 ]; then
		exit 1
	fi
	exit "$rc"
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM

# ok NAME
ok() {
	T_CHECKS=$((T_CHECKS + 1))
	echo "ok $1"
}

# skip NAME REASON: a check this machine cannot make, said visibly;
# run.sh counts these lines ("skip ...") apart from ok and FAIL.
skip() {
	echo "skip $1: $2"
}

# fail NAME [DETAILS...]
fail() {
	local name=$1
	shift
	T_CHECKS=$((T_CHECKS + 1))
	T_FAILS=$((T_FAILS + 1))
	local details="$*"
	local first=${details%%$'\n'*}
	echo "FAIL $name${first:+: $first}"
	if [ "$first" != "$details" ]; then
		printf '%s\n' "${details#*$'\n'}" | head -n 40 | sed 's/^/#   /'
	fi
}

# Shortens a value for a failure message.
_clip() {
	local s=$1
	if [ "${#s}" -gt 2000 ]; then
		s="${s:0:2000}... (${#s} bytes)"
	fi
	printf '%s' "$s"
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		fail "$1" "values differ"$'\n'"expected: $(_clip "$2")"$'\n'"actual:   $(_clip "$3")"
	fi
}

# check_contains NAME HAYSTACK NEEDLE
check_contains() {
	if [[ "$2" == *"$3"* ]]; then
		ok "$1"
	else
		fail "$1" "does not contain '$3'"$'\n'"text: $(_clip "$2")"
	fi
}

# check_not_contains NAME HAYSTACK NEEDLE
check_not_contains() {
	if [[ "$2" != *"$3"* ]]; then
		ok "$1"
	else
		fail "$1" "unexpectedly contains '$3'"$'\n'"text: $(_clip "$2")"
	fi
}

# run CMD... : runs CMD (bounded by RUN_TIMEOUT seconds) and sets RC, OUT, ERR.
# RC is 124 when the command was killed by the bound.
run() {
	local o=$TMP/.run.out e=$TMP/.run.err
	timeout -k 5 "$RUN_TIMEOUT" "$@" >"$o" 2>"$e" </dev/null
	RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
	return 0
}

# How a command reads in a check name: the lanser binary as "lanser".
_cmd_name() {
	local s="$*"
	s=${s//"$L"/lanser}
	s=${s//"$TMP/"/}
	printf '%s' "$s"
}

_rc_details() {
	printf 'exit %s, expected %s\nstderr: %s\nstdout: %s' "$RC" "$1" "$(_clip "$ERR")" "$(_clip "$OUT")"
}

# check_rc EXPECTED CMD... : runs CMD and checks its exit code; the check is
# named after the command. Leaves RC, OUT, ERR for further checks.
check_rc() {
	local want=$1
	shift
	check_rc_as "$(_cmd_name "$@") exits $want" "$want" "$@"
}

# check_rc_as NAME EXPECTED CMD... : the same with a descriptive name.
check_rc_as() {
	local name=$1 want=$2
	shift 2
	run "$@"
	if [ "$RC" = "$want" ]; then
		ok "$name"
	else
		fail "$name" "$(_rc_details "$want")"
	fi
}

# json EXPR [JSON|-] : parses JSON (the second argument; $OUT when there is
# none; standard input when it is "-") with
# python3's json module and prints EXPR. EXPR is either a path like
# .facts.0.range (object keys and list indexes; "." alone is the whole
# document, "#" after a path is its length, e.g. .facts#) or a Python
# expression over the parsed document `b` (e.g. 'len(b["facts"])').
# Strings print raw, null/true/false as JSON, everything else as compact
# sorted JSON. Exit status 1 (and "json-error: ...") on bad input or a
# missing field.
json() {
	local expr=$1
	local script='
import json, sys
expr = sys.argv[1]
try:
    b = json.loads(sys.stdin.read())
except Exception as e:
    print("json-error: not JSON: %s" % e)
    sys.exit(1)
try:
    if expr.startswith("."):
        count = expr.endswith("#")
        path = expr[:-1] if count else expr
        v = b
        for part in [p for p in path.split(".") if p != ""]:
            if isinstance(v, list):
                v = v[int(part)]
            else:
                v = v[part]
        if count:
            v = len(v)
    else:
        v = eval(expr, {"json": json}, {"b": b})
except Exception as e:
    print("json-error: %s: %s: %s" % (expr, type(e).__name__, e))
    sys.exit(1)
if isinstance(v, str):
    print(v)
else:
    print(json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
'
	if [ "${2-}" = - ]; then
		"$PY" -c "$script" "$expr"
	else
		printf '%s' "${2-$OUT}" | "$PY" -c "$script" "$expr"
	fi
}

# check_json_eq NAME EXPR EXPECTED [JSON] : json EXPR (on $OUT by default)
# must print EXPECTED.
check_json_eq() {
	local got
	got=$(json "$2" "${4-$OUT}")
	check_eq "$1" "$3" "$got"
}

# The facts of the bundle in $OUT (or $1), in the bundle's order, as lines
# "kind path sL:sC-eL:eC".
facts_lines() {
	json '"\n".join("%s %s %d:%d-%d:%d" % ((f["kind"], f["path"]) + tuple(f["range"])) for f in b["facts"])' "${1-$OUT}"
}

# fixture NAME [DEST] : copies tests/fixtures/NAME to $TMP/DEST (default
# NAME) without any .cache/ or generated compilation database, writes
# compile_commands.json from compile_commands.json.in, makes the copy a git
# work tree of its own, and prints its path.
fixture() {
	local name=$1 dest=$TMP/${2:-$1}
	if [ ! -d "$FIXTURES/$name" ]; then
		echo "fixture: no such fixture: $name" >&2
		return 1
	fi
	mkdir -p "$(dirname "$dest")" || return 1
	rm -rf "$dest"
	cp -R "$FIXTURES/$name" "$dest" || return 1
	rm -rf "$dest/.cache" "$dest/compile_commands.json" "$dest/.git"
	if [ -f "$dest/compile_commands.json.in" ]; then
		sed "s#@ROOT@#$dest#g" "$dest/compile_commands.json.in" >"$dest/compile_commands.json" || return 1
	fi
	git -C "$dest" init -q || return 1
	printf '%s\n' "$dest"
}

# fixture_base NAME [DEST] : fixture, then everything in it committed as
# "base" (author t <t@example.com>); prints its path.
fixture_base() {
	local dest
	dest=$(fixture "$@") || return 1
	git -C "$dest" -c user.email=t@example.com -c user.name=t add -A || return 1
	git -C "$dest" -c user.email=t@example.com -c user.name=t commit -qm base || return 1
	printf '%s\n' "$dest"
}

# need_lanser : fails the script at once when the binary is missing.
need_lanser() {
	if [ ! -x "$L" ]; then
		fail "$T_NAME: lanser is built" "$L is missing: run 'make lanser tests/fakels/fakels'"
		exit 1
	fi
}

# check_no_procs NAME MARKER : no process whose command line contains
# MARKER is left (pgrep -f).
check_no_procs() {
	local left
	left=$(pgrep -af -- "$2" 2>/dev/null | grep -v -e pgrep)
	if [ -z "$left" ]; then
		ok "$1"
	else
		fail "$1" "processes left behind:"$'\n'"$left"
		# Ours to clean up: they carry this script's scratch path.
		pgrep -f -- "$2" | while read -r pid; do kill -9 "$pid" 2>/dev/null; done
	fi
}

# run_reaped SECONDS CMD... : runs CMD as the child of a python3 process that
# is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that whatever CMD
# leaves behind is re-parented to it instead of to init. Sets RC, OUT, ERR,
# ELAPSED (seconds, float), ORPHANS (processes still running after CMD
# exited) and ZOMBIES (children CMD never waited for: exited, unreaped),
# with LEFTOVERS describing them. Leftovers are killed and reaped here.
# The command runs with LANSER_NO_DAEMON=1: the daemon is meant to outlive
# the call, so only the in-process path can promise to leave nothing behind
# (t_daemon.sh checks the daemon's own clean-up).
run_reaped() {
	local secs=$1
	shift
	local o=$TMP/.run.out e=$TMP/.run.err r=$TMP/.run.reap
	LANSER_NO_DAEMON=1 "$PY" - "$secs" "$o" "$e" "$r" "$@" <<'EOF'
import ctypes, os, signal, subprocess, sys, time

secs, out, err, rep = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cmd = sys.argv[5:]
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    print("prctl failed", file=sys.stderr)
me = os.getpid()

def children():
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cl = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        rest = st[st.rindex(")") + 2:].split()
        if int(rest[1]) == me:
            kids.append((int(d), rest[0], st[st.index("(") + 1:st.rindex(")")], cl))
    return kids

t0 = time.monotonic()
with open(out, "wb") as o, open(err, "wb") as e:
    p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    try:
        rc = p.wait(secs)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = 124
elapsed = time.monotonic() - t0
orphans, zombies, lines = 0, 0, []
for pid, state, comm, cl in children():
    if state == "Z":
        zombies += 1
        lines.append("zombie pid %d (%s)" % (pid, comm))
    else:
        orphans += 1
        lines.append("orphan pid %d state %s: %s" % (pid, state, cl or comm))
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
# Reap everything that was re-parented to us.
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        time.sleep(0.05)
with open(rep, "w") as f:
    f.write("%d\n%.3f\n%d\n%d\n%s\n" % (rc, elapsed, orphans, zombies, "; ".join(lines)))
EOF
	{
		read -r RC
		read -r ELAPSED
		read -r ORPHANS
		read -r ZOMBIES
		read -r LEFTOVERS
	} <"$r"
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e" "$r"
}

need_lanser
