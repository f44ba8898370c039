#!/usr/bin/env bash
# The warm daemon (docs/daemon.md): one per workspace even under concurrent
# first calls, recovery from a killed daemon and a killed language server,
# sync with edits on disk, the answer cache and its invalidation, peers of
# another uid and foreign sockets refused, malformed and oversized requests,
# idle and root-gone shutdown, mixed C + Python workspaces, batch, and the
# same bundleId with and without the daemon.
. "$(dirname "$0")/lib.sh"
need_lanser

ws=$(fixture cproj) || { fail "daemon: copy the cproj fixture" "fixture cproj failed"; exit 1; }
cd "$ws" || exit 1

# status --json field via python
st() { "$L" daemon status --json 2>/dev/null | json "$1" -; }
# the state folder of the cproj workspace (set once its daemon runs)
SD=
wsdir() { printf '%s' "$SD"; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# wait_until SECONDS CMD... : polls CMD every 0.1 s
wait_until() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}
daemon_procs() { pgrep -f -- "--root $1 daemon run" | wc -l; }

# --- no daemon yet -------------------------------------------------------------
check_rc_as "daemon status without a daemon exits 3 (NOT_FOUND)" 3 "$L" daemon status
check_rc_as "daemon stop without a daemon exits 0" 0 "$L" daemon stop
check_contains "daemon stop without a daemon says so" "$OUT" "no daemon runs"

# --- concurrent first calls start exactly one daemon -------------------------
for i in 1 2 3 4 5; do
	("$L" def src/main.c@L23:C10 >"$TMP/c$i.out" 2>"$TMP/c$i.err"; echo $? >"$TMP/c$i.rc") &
done
wait
all_ok=1
for i in 1 2 3 4 5; do
	[ "$(cat "$TMP/c$i.rc")" = 0 ] && [ "$(cat "$TMP/c$i.out")" = "src/util.c:3:5" ] || all_ok=0
done
check_eq "daemon five concurrent first calls all answer src/util.c:3:5" 1 "$all_ok"
check_eq "daemon five concurrent first calls start exactly one daemon" 1 "$(daemon_procs "$ws")"
SD=$(st .daemon.stateDir)
check_eq "daemon the state folder is under the runtime dir, not in the workspace" \
	"$XDG_RUNTIME_DIR/lanser/ws-" "${SD%????????????????}"
check_eq "daemon the log shows one start" 1 "$(grep -c 'listening on' "$(wsdir)/daemon.log")"
check_not_contains "daemon no call fell back to in-process" "$(cat "$TMP"/c*.err)" "without the daemon"

# --- status -------------------------------------------------------------------
run "$L" daemon status --json
check_eq "daemon status exits 0" 0 "$RC"
check_json_eq "daemon status: root is this workspace" '.daemon.root' "$ws"
check_json_eq "daemon status: clangd is running and ready" \
	'[(s["profile"], s["state"], s["ready"]) for s in b["servers"]]' '[["clangd","running",true]]'
check_json_eq "daemon status: clangd's version is known" \
	'"clangd" in b["servers"][0]["version"]' true
check_json_eq "daemon status: daemon RSS is reported and under 30 MB" \
	'0 < b["daemon"]["rssKiB"] < 30 * 1024' true
run "$L" daemon status
check_contains "daemon status (human) names the server and its readiness" "$OUT" "clangd"
check_contains "daemon status (human) shows readiness" "$OUT" "ready"
dpid=$(st .daemon.pid)
spid=$(st .servers.0.pid)
check_eq "daemon: the daemon is not the child of any test shell (detached: ppid 1 or a subreaper)" \
	1 "$([ "$(awk '{print $4}' /proc/"$dpid"/stat)" != $$ ] && echo 1)"
check_eq "daemon: the daemon is in a session of its own (setsid), not ours" 1 \
	"$([ "$(ps -o sid= -p "$dpid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ] && echo 1)"
check_eq "daemon: the daemon's stdout is its log, not our pipe" \
	"$(wsdir)/daemon.log" "$(readlink /proc/"$dpid"/fd/1)"

# --- the same bundles with and without the daemon -----------------------------
for q in "def src/main.c@L23:C10" "refs src/util.c@L3:C5" "hover src/main.c@L14:C2" \
	 "symbols src/list.c" "symbols --workspace list_" "diag src/main.c"; do
	# shellcheck disable=SC2086
	run "$L" --json $q
	a=$(json .bundleId)
	dm=$(json .meta.volatile.daemon)
	# shellcheck disable=SC2086
	run "$L" --no-daemon --json $q
	check_eq "daemon '$q': same bundleId through the daemon and --no-daemon" "$a" "$(json .bundleId)"
	check_eq "daemon '$q': meta.volatile.daemon says where it ran" "true false" \
		"$dm $(json .meta.volatile.daemon)"
done

# --- the answer cache ---------------------------------------------------------
run "$L" --json def src/main.c@L14:C2
run "$L" --json def src/main.c@L14:C2
id=$(json .bundleId)
check_eq "daemon a repeated query is answered from the cache" true "$(json .meta.volatile.cacheHit)"
run "$L" --json --no-cache def src/main.c@L14:C2
check_eq "daemon --no-cache asks the server again" false "$(json .meta.volatile.cacheHit)"
check_eq "daemon the cached and the fresh answer have the same bundleId" "$id" "$(json .bundleId)"

# single flight: identical concurrent queries cost one server request
before=$(st .servers.0.requestsSent)
for i in 1 2 3 4; do "$L" --json refs src/list.c@L15:C5 >"$TMP/sf$i" & done
wait
after=$(st .servers.0.requestsSent)
check_eq "daemon four identical concurrent refs cost one server request" 1 $((after - before))
check_eq "daemon ...and got the same bundle" 1 \
	"$(for i in 1 2 3 4; do json .bundleId <"$TMP/sf$i" -; done | sort -u | wc -l)"

# --- edits on disk between calls ----------------------------------------------
run "$L" def src/main.c@L23:C10
check_eq "daemon def clamp_int before the edit" "src/util.c:3:5" "$OUT"
sed -i '1i /* two lines\n   inserted above */' src/util.c
run "$L" def src/main.c@L23:C10
check_eq "daemon def clamp_int after two lines were inserted above it (another program's edit)" \
	"src/util.c:5:5" "$OUT"
run "$L" --json diag src/util.c
check_eq "daemon diag src/util.c is clean" 0 "$(json '.facts#')"
printf 'int broken(void) { return "text"; }\n' >>src/util.c
run "$L" --json diag src/util.c
check_json_eq "daemon diag sees the conversion appended on disk" \
	'[f["range"][0] for f in b["facts"]]' "[$(wc -l <src/util.c)]"
check_eq "daemon diag after the edit was not answered from the cache" false \
	"$(json .meta.volatile.cacheHit)"
git checkout -q -- src/util.c 2>/dev/null || sed -i '1,2d;$d' src/util.c
run "$L" def src/main.c@L23:C10
check_eq "daemon def after the edit was undone" "src/util.c:3:5" "$OUT"

# --- a language server killed under the daemon --------------------------------
kill -9 "$spid"
sleep 1.5 # the daemon's loop notices within its 1 s poll
check_eq "daemon the killed clangd is reaped by the daemon (no zombie)" 0 \
	"$(ps -o stat= -p "$spid" 2>/dev/null | grep -c Z)"
run "$L" --no-cache def src/main.c@L14:C2
check_eq "daemon after clangd was killed, the next call is answered (restart)" "0 src/list.c:15:5" \
	"$RC $OUT"
check_eq "daemon status counts the restart" 1 "$(st .servers.0.restarts)"
spid2=$(st .servers.0.pid)
check_eq "daemon the new clangd is another process" 1 "$([ "$spid2" != "$spid" ] && echo 1)"

# --- the daemon itself killed -------------------------------------------------
kill -9 "$dpid"
wait_until 5 bash -c "! kill -0 $dpid 2>/dev/null" && ok "daemon SIGKILL ends the daemon" ||
	fail "daemon SIGKILL ends the daemon" "pid $dpid still there"
wait_until 5 bash -c "! kill -0 $spid2 2>/dev/null" &&
	ok "daemon its clangd dies with it (PR_SET_PDEATHSIG)" ||
	fail "daemon its clangd dies with it (PR_SET_PDEATHSIG)" "clangd $spid2 still runs"
check_eq "daemon the dead daemon's socket is still there (stale)" 1 "$([ -S "$(wsdir)/sock" ] && echo 1)"
run "$L" def src/main.c@L14:C2
check_eq "daemon the next call starts a new daemon and answers" "0 src/list.c:15:5" "$RC $OUT"
dpid2=$(st .daemon.pid)
check_eq "daemon the new daemon is another process" 1 "$([ -n "$dpid2" ] && [ "$dpid2" != "$dpid" ] && echo 1)"

# --- malformed and oversized requests -----------------------------------------
cat >"$TMP/raw.py" <<'EOF'
import socket, struct, sys, json
path, what = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(path)
def send(data):
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused at once: the reply is already waiting
if what == "oversized":
    send(struct.pack(">I", 0xFFFFFFF0))
elif what == "garbage":
    body = b"{not json"
    send(struct.pack(">I", len(body)) + body)
elif what == "unknown-op":
    body = b'{"op":"format-disk"}'
    send(struct.pack(">I", len(body)) + body)
elif what == "bad-argv":
    body = json.dumps({"op": "run", "argv": [1, 2], "cwd": "/"}).encode()
    send(struct.pack(">I", len(body)) + body)
elif what == "bad-timeout":
    body = json.dumps({"op": "ready", "timeoutMs": "soon"}).encode()
    send(struct.pack(">I", len(body)) + body)
elif what == "negative-timeout":
    body = json.dumps({"op": "ready", "timeoutMs": -5}).encode()
    send(struct.pack(">I", len(body)) + body)
elif what == "silent":
    import time
    time.sleep(float(sys.argv[3]))
    print("silent-done")
    sys.exit(0)
hdr = b""
while len(hdr) < 16:
    chunk = s.recv(16 - len(hdr))
    if not chunk:
        print("closed-without-reply"); sys.exit(0)
    hdr += chunk
magic, code, ol, el = hdr[:4], *struct.unpack(">III", hdr[4:])
data = b""
while len(data) < ol + el:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(magic.decode(), code, data[ol:].decode().strip())
EOF
for what in oversized garbage unknown-op bad-argv bad-timeout negative-timeout; do
	out=$("$PY" "$TMP/raw.py" "$(wsdir)/sock" "$what" 2>&1)
	check_contains "daemon a $what request gets an error reply with exit 80 (DAEMON)" "$out" "LNR1 80 lanser:"
done
# a peer that connects and says nothing does not block the others
"$PY" "$TMP/raw.py" "$(wsdir)/sock" silent 3 >/dev/null &
sleep 0.3
run "$L" def src/main.c@L14:C2
check_eq "daemon answers while another connection stays silent" "0 src/list.c:15:5" "$RC $OUT"
wait
check_eq "daemon still the same daemon after the bad requests" "$dpid2" "$(st .daemon.pid)"

# --- idle connections cannot lock clients out ----------------------------------
# 80 connections of our own uid that never send a request, re-opened as soon
# as the daemon drops one (a peer that keeps the table full on purpose).
cat >"$TMP/flood.py" <<'EOF'
import os, socket, sys, time
os.setsid()
path, n, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    return s
socks = [conn() for _ in range(n)]
with open(ready + ".tmp", "w") as f:
    f.write(str(len(socks)))
os.rename(ready + ".tmp", ready)
while True:
    for i, s in enumerate(socks):
        try:
            s.recv(64)          # b"" (closed) or a reply: open another
            s.close()
            socks[i] = conn()
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            socks[i] = conn()
    time.sleep(0.02)
EOF
fdpid=$(st .daemon.pid)
"$PY" "$TMP/flood.py" "$(wsdir)/sock" 80 "$TMP/flood.ready" </dev/null >/dev/null 2>&1 &
fpid=$!
wait_until 20 test -e "$TMP/flood.ready"
check_eq "daemon flood: 80 idle connections are open" 80 "$(cat "$TMP/flood.ready" 2>/dev/null)"
run "$L" --no-daemon --json def src/main.c@L23:C10
want=$(json .bundleId)
for i in 1 2 3; do
	run "$L" --json --no-cache def src/main.c@L23:C10
	check_eq "daemon flood: call $i answers (exit 0) with --no-daemon's bundleId" "0 $want" "$RC $(json .bundleId)"
done
run "$L" def src/main.c@L23:C10
check_eq "daemon flood: a text answer too" "0 src/util.c:3:5" "$RC $OUT"
check_not_contains "daemon flood: no exit-80 error" "$ERR" "lanser: the daemon is busy ("
kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null
run "$L" --json --no-cache def src/main.c@L23:C10
check_eq "daemon flood: after it the daemon answers again" "0 true $want" \
	"$RC $(json .meta.volatile.daemon) $(json .bundleId)"
check_eq "daemon flood: still the same daemon" "$fdpid" "$(st .daemon.pid)"
check_eq "daemon flood: it evicted idle connections (status says so)" 1 \
	"$([ "$(st .daemon.evictedIdle)" -gt 0 ] 2>/dev/null && echo 1)"

# A daemon that says "busy" (LNB1): the client answers in-process instead
# of failing; a stand-in speaks for it, on the daemon's own socket.
"$L" daemon stop >/dev/null
cat >"$TMP/busy.py" <<'EOF'
import os, socket, struct, sys
os.setsid()
path, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
open(ready, "w").close()
msg = b"the daemon evicted this idle connection\n"
while True:
    c, _ = s.accept()
    c.sendall(b"LNB1" + struct.pack(">III", 80, 0, len(msg)) + msg)
    c.close()
EOF
"$PY" "$TMP/busy.py" "$(wsdir)/sock" "$TMP/busy.ready" </dev/null >/dev/null 2>&1 &
bpid=$!
wait_until 20 test -e "$TMP/busy.ready"
run "$L" --json def src/main.c@L23:C10
check_eq "daemon busy: the client answers in-process with the same bundleId" "0 false $want" \
	"$RC $(json .meta.volatile.daemon) $(json .bundleId)"
check_contains "daemon busy: and says why" "$ERR" "the daemon is busy (the daemon evicted this idle connection); answering without the daemon"
kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null
rm -f "$(wsdir)/sock"

# --- foreign sockets and peers ------------------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	# A socket in our folder that belongs to someone else is not used.
	"$L" daemon stop >/dev/null
	"$PY" - "$(wsdir)/sock" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chown(sys.argv[1], 65534, 65534)
EOF
	run "$L" daemon status
	check_eq "daemon a socket owned by another uid is refused (71)" 71 "$RC"
	check_contains "daemon ...with a message naming it" "$ERR" "not a socket owned by uid 0"
	rm -f "$(wsdir)/sock"

	# A daemon of another user refuses root (SO_PEERCRED; permission bits
	# would not stop root).
	other=$TMP/other
	mkdir -p "$other/run" && chmod 755 "$TMP" "$other" && chown 65534 "$other/run" && chmod 700 "$other/run"
	"$PY" - "$L" "$other" <<'EOF' &
import os, sys
os.setgid(65534); os.setuid(65534)
os.environ["XDG_RUNTIME_DIR"] = sys.argv[2] + "/run"
os.environ["LANSER_DAEMON_IDLE_MS"] = "20000"
os.execv(sys.argv[1], [sys.argv[1], "--root", sys.argv[2], "daemon", "start"])
EOF
	wait
	osock=$(ls "$other"/run/lanser/ws-*/sock 2>/dev/null | head -1)
	if [ -S "$osock" ]; then
		out=$("$PY" "$TMP/raw.py" "$osock" unknown-op 2>&1)
		check_contains "daemon another uid's daemon refuses root with exit 80" "$out" "LNR1 80 lanser: refused"
		opid=$(head -1 "$(dirname "$osock")/daemon.pid")
		check_eq "daemon ...and the refused peer did not stop it" 1 "$(alive "$opid" && echo 1)"
		kill "$opid" 2>/dev/null
		wait_until 5 bash -c "! kill -0 $opid 2>/dev/null"
	else
		fail "daemon another uid's daemon starts" "no socket under $other/run"
	fi
else
	echo "# skipped (needs root and a 'nobody' user): foreign socket and foreign peer checks"
fi

# --- mixed C + Python workspace -------------------------------------------------
mixed=$(fixture mixed) || { fail "daemon: copy the mixed fixture" "fixture mixed failed"; exit 1; }
cd "$mixed" || exit 1
run "$L" def native/main.c@L9:C17
check_eq "daemon mixed: C definition through the daemon" "0 native/geom.c:8:5" "$RC $OUT"
run "$L" def tools/report.py@L5:C20
check_eq "daemon mixed: Python definition through the same daemon" "0 tools/stats.py:4:5" "$RC $OUT"
check_eq "daemon mixed: one daemon for the workspace" 1 "$(daemon_procs "$mixed")"
run "$L" daemon status --json
check_json_eq "daemon mixed: clangd and pyright side by side" \
	'sorted(s["profile"] for s in b["servers"])' '["clangd","pyright"]'
run "$L" --json symbols --workspace a
check_json_eq "daemon mixed: workspace symbols merge both servers" \
	'sorted(set(f["path"].split("/")[0] for f in b["facts"] if not f.get("external")))' \
	'["native","tools"]'
s1=$(json .bundleId)
run "$L" --no-daemon --json symbols --workspace a
check_eq "daemon mixed: merged workspace symbols are the same without the daemon" "$s1" "$(json .bundleId)"
run "$L" --json diag
check_json_eq "daemon mixed: workspace diagnostics cover both languages' files" \
	'sorted(d["path"] for d in b["inputs"]["documents"])' \
	'["native/geom.c","native/geom.h","native/main.c","tools/__init__.py","tools/report.py","tools/stats.py"]'

# --- batch ----------------------------------------------------------------------
cat >"$TMP/req.jsonl" <<'EOF'
{"id": 1, "command": "def", "args": ["native/main.c@L9:C17"]}
{"id": "two", "command": "def", "args": ["tools/report.py@L5:C20"], "options": {"indexIo": "utf-16"}}
{not json

{"command": "rm", "args": ["-rf", "/"]}
{"command": "def", "args": ["native/main.c@L9"]}
{"command": "refs", "args": ["native/geom.c@L8:C5"], "options": {"noDecl": true}}
{"command": "hover", "args": ["../outside.c@L1:C1"]}
{"command": "def", "args": ["native/main.c@L9:C17"], "options": {"bogus": 1}}
EOF
run "$L" batch --in "$TMP/req.jsonl" --out "$TMP/out.jsonl"
check_eq "daemon batch exits 0 when every line got a bundle" 0 "$RC"
check_eq "daemon batch: one output line per request line (blank lines skipped)" 8 "$(wc -l <"$TMP/out.jsonl")"
"$PY" - "$TMP/out.jsonl" >"$TMP/batch.sum" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line)
    print(b["request"]["command"], b["meta"]["exitCode"], b["meta"]["volatile"]["batch"]["line"],
          json.dumps(b["meta"]["volatile"]["batch"].get("id")))
EOF
check_eq "daemon batch: commands, exit codes, line numbers and ids in order" \
"def 0 1 1
def 0 2 \"two\"
batch 129 3 null
batch 129 5 null
def 2 6 null
refs 0 7 null
hover 71 8 null
def 129 9 null" "$(cat "$TMP/batch.sum")"
run "$L" --json def native/main.c@L9:C17
check_eq "daemon batch line 1 has the bundleId of the same single call" "$(json .bundleId)" \
	"$(head -1 "$TMP/out.jsonl" | json .bundleId -)"
run "$L" --no-daemon batch --in "$TMP/req.jsonl" --out "$TMP/out2.jsonl"
check_eq "daemon batch --no-daemon exits 0" 0 "$RC"
check_eq "daemon batch --no-daemon gives the same bundleIds line by line" \
	"$(while read -r l; do json .bundleId - <<<"$l"; done <"$TMP/out.jsonl")" \
	"$(while read -r l; do json .bundleId - <<<"$l"; done <"$TMP/out2.jsonl")"
# A line over the cap (1 MiB) is refused before it is stored, a NUL byte is
# refused, and the lines after them are still answered.
{ head -c 2000000 /dev/zero | tr '\0' 'a'; printf '\n{"command":"def",\0"args":[]}\n'
  printf '{"command": "def", "args": ["native/main.c@L9:C17"]}\n'; } >"$TMP/long.jsonl"
run "$L" batch --in "$TMP/long.jsonl" --out "$TMP/long.out"
check_eq "daemon batch: an over-long line and a NUL byte do not stop the batch" 0 "$RC"
"$PY" - "$TMP/long.out" >"$TMP/long.sum" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line)
    print(b["meta"]["exitCode"], b["meta"]["volatile"]["batch"]["line"], b["meta"]["volatile"].get("message", ""))
EOF
check_eq "daemon batch: the over-long line and the NUL byte are errors naming their line" \
"77 1 line 1 is longer than 1048576 bytes
77 2 line 2 holds a NUL byte
0 3 " "$(cat "$TMP/long.sum")"
run "$L" batch --in "$TMP/missing.jsonl" --out "$TMP/x.jsonl"
check_eq "daemon batch with a missing input file exits 3" 3 "$RC"

# --- start --wait-ready, batch on standard input and output ------------------------
cd "$ws" || exit 1
"$L" daemon stop >/dev/null 2>&1
run "$L" daemon start --wait-ready
check_eq "daemon start --wait-ready exits 0 once the servers are ready" 0 "$RC"
check_contains "daemon start --wait-ready names the ready server" "$OUT" "clangd     ready"
check_json_eq "daemon ...and status agrees" '[s["ready"] for s in b["servers"]]' '[true]' \
	"$("$L" daemon status --json)"
spid0=$(st .daemon.pid)
run "$L" daemon start
check_eq "daemon start with a daemon running keeps it" "0 $spid0" "$RC $(st .daemon.pid)"
out=$(printf '%s\n' '{"command":"def","args":["src/main.c@L14:C2"]}' | "$L" batch --in - --out - 2>"$TMP/b.err")
check_json_eq "daemon batch --in - --out - answers on standard output" \
	'[b["facts"][0]["path"], b["meta"]["volatile"]["batch"]["line"]]' '["src/list.c",1]' "$out"
check_contains "daemon batch reports its count on stderr" "$(cat "$TMP/b.err")" "1 request, 0 failed"

# --- configuration changes ---------------------------------------------------------
cd "$ws" || exit 1
"$L" def src/main.c@L14:C2 >/dev/null 2>&1
cpid=$(st .daemon.pid)
printf '{"servers": {"clangd": {"enabled": "no"}}}\n' >.lanser.json
run "$L" def src/main.c@L14:C2
check_eq "daemon a broken .lanser.json is answered with 78 by the daemon" 78 "$RC"
check_not_contains "daemon ...not by falling back in-process" "$ERR" "without the daemon"
printf '{"jail": {"deny": ["*.lock"]}}\n' >.lanser.json
run "$L" --json def src/main.c@L14:C2
check_eq "daemon the fixed configuration answers again" "0 src/list.c:15:5" \
	"$RC $(json '"%s:%d:%d" % (b["facts"][0]["path"], b["facts"][0]["range"][0], b["facts"][0]["range"][1])')"
check_eq "daemon ...in the same daemon" "$cpid" "$(st .daemon.pid)"
d1=$(json .environment.configDigest)
rm -f .lanser.json
run "$L" --json def src/main.c@L14:C2
check_eq "daemon the config digest follows the file (jail counts, it changes edit answers)" 1 \
	"$([ "$d1" != "$(json .environment.configDigest)" ] && echo 1)"

# --- stop: nothing left behind --------------------------------------------------
cd "$ws" || exit 1
dpid=$(st .daemon.pid)
spid=$(st .servers.0.pid)
run "$L" daemon stop
check_eq "daemon stop exits 0" 0 "$RC"
check_eq "daemon stop: the daemon is gone when stop returns" 0 "$(alive "$dpid" && echo 1 || echo 0)"
check_eq "daemon stop: its clangd is gone too (no zombie either)" 0 "$(alive "$spid" && echo 1 || echo 0)"
check_eq "daemon stop removes the socket" 0 "$([ -e "$(wsdir)/sock" ] && echo 1 || echo 0)"
check_rc_as "daemon status after stop exits 3" 3 "$L" daemon status

# --- idle shutdown and a vanished workspace --------------------------------------
idle=$(fixture cproj idle)
cd "$idle" || exit 1
printf '{"daemon": {"idleMs": 1500}}\n' >.lanser.json
run "$L" def src/main.c@L14:C2
check_eq "daemon (idle 1.5 s) answers" "0 src/list.c:15:5" "$RC $OUT"
ipid=$("$L" daemon status --json | json .daemon.pid -)
wait_until 10 bash -c "! kill -0 $ipid 2>/dev/null" && ok "daemon stops by itself after daemon.idleMs" ||
	fail "daemon stops by itself after daemon.idleMs" "pid $ipid still there after 10 s"

gone=$(fixture cproj gone)
cd "$gone" || exit 1
run "$L" def src/main.c@L14:C2
gpid=$("$L" daemon status --json | json .daemon.pid -)
cd "$TMP" || exit 1
rm -rf "$gone"
wait_until 10 bash -c "! kill -0 $gpid 2>/dev/null" && ok "daemon stops when its workspace root is removed" ||
	fail "daemon stops when its workspace root is removed" "pid $gpid still there after 10 s"

# --all stops this lanser's daemons only: one started by another copy of
# lanser (another checkout) sharing this state folder is listed, left alone.
mkdir -p "$TMP/copy"
cp "$LANSER_REPO_ROOT/lanser" "$LANSER_REPO_ROOT/lanser-engine" "$TMP/copy/"
cws=$(fixture cproj copyws)
"$L" --root "$ws" daemon start >/dev/null
"$TMP/copy/lanser" --root "$cws" daemon start >/dev/null
cpid=$("$TMP/copy/lanser" --root "$cws" daemon status --json | json .daemon.pid -)
mpid=$("$L" --root "$ws" daemon status --json | json .daemon.pid -)
run "$L" --root "$ws" daemon stop --all
check_eq "daemon stop --all exits 0" 0 "$RC"
check_contains "daemon stop --all names the daemon it stops" "$OUT" "stopped the daemon for $ws (pid $mpid)"
check_contains "daemon stop --all names the other lanser's daemon it leaves" "$OUT" \
	"left alone: the daemon for $cws (pid $cpid) runs $TMP/copy/lanser-engine"
check_eq "daemon stop --all: this lanser's daemon is gone, the other one runs" "0 1" \
	"$(alive "$mpid" && echo 1 || echo 0) $(alive "$cpid" && echo 1 || echo 0)"
"$TMP/copy/lanser" --root "$cws" daemon stop >/dev/null
# stop returns when the daemon let go of its lock; the process itself may
# still be exiting (seen on a loaded machine): give it a moment
for _ in $(seq 50); do alive "$cpid" || break; sleep 0.1; done
check_eq "daemon the other lanser stops its own" 0 "$(alive "$cpid" && echo 1 || echo 0)"

# --- readiness when no index will come (issue 12, item 7) ----------------------
# A Python project with a C file and no compilation database: clangd starts
# for the C file but will never index; --wait-ready must not time out on it.
pyc=$(fixture pyc) || { fail "daemon: copy the pyc fixture" "fixture pyc failed"; exit 1; }
t0=$(date +%s%N)
run "$L" --root "$pyc" daemon start --wait-ready --wait-index 20000
t1=$(date +%s%N)
check_eq "daemon start --wait-ready in a Python project with a C file and no database exits 0" \
	0 "$RC"
check_contains "daemon ...and names clangd as having no index" "$OUT" "clangd     no-index"
check_contains "daemon ...and pyright as ready" "$OUT" "pyright    ready"
elapsed=$(( (t1 - t0) / 1000000 ))
if [ "$elapsed" -lt 15000 ]; then
	ok "daemon start --wait-ready with no index to wait for returns before --wait-index (${elapsed} ms)"
else
	fail "daemon start --wait-ready with no index to wait for returns before --wait-index" \
		"took ${elapsed} ms"
fi
"$L" --root "$pyc" daemon stop >/dev/null 2>&1

"$L" --root "$mixed" daemon stop --all >/dev/null
check_eq "daemon stop --all leaves no daemon of this test" 0 "$(pgrep -f -- "--root $TMP/" | wc -l)"

# Under the sanitizer build (LANSER_BIN=lanser-asan) the daemons report into
# their logs, not to this script: read them.
bad=$(grep -lE 'Sanitizer|runtime error' "$XDG_RUNTIME_DIR"/lanser/ws-*/daemon.log 2>/dev/null)
check_eq "daemon logs carry no sanitizer report" "" "$bad"
