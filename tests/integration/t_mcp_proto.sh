#!/usr/bin/env bash
# `lanser mcp` (docs/mcp.md) against a raw driver: malformed JSON, an
# oversized line, a batch, a NUL byte, requests before initialize, unknown
# methods and bad params each get their JSON-RPC error and the server keeps
# serving; version negotiation; "readOnly" in .lanser.json; the trace as a
# resource. No language server is needed (only tools/list and resources), so
# this script also runs against the sanitizer build (tests/run-all.sh).
. "$(dirname "$0")/lib.sh"
need_lanser

C=$(fixture cproj)
cd "$TMP" || exit 1

"$PY" - "$L" "$C" >"$TMP/raw.out" 2>"$TMP/raw.err" <<'EOF'
import json, os, subprocess, sys, time
lanser, root = sys.argv[1], sys.argv[2]
p = subprocess.Popen([lanser, "--root", root, "mcp", "--no-daemon"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(b):
    p.stdin.write(b if isinstance(b, bytes) else b.encode()); p.stdin.flush()
def recv():
    while True:
        line = p.stdout.readline()
        if not line:
            return None
        m = json.loads(line)
        if "method" in m:
            continue  # notifications (logs)
        return m
def say(name, m):
    print(name, json.dumps(m, sort_keys=True))
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}}
send('{"jsonrpc":"2.0","id":"a","method":"tools/list"}\n'); say("before-init", recv())
send('{"jsonrpc":"2.0","id":"b","method":"ping"}\n'); say("ping-before-init", recv())
send(json.dumps(init) + "\n"); say("init", recv())
send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
send(json.dumps(dict(init, id=2)) + "\n"); say("init-again", recv())
send('{"jsonrpc":"2.0","id":3,"method":"tools/list"\n'); say("malformed", recv())
send(b'{"jsonrpc":"2.0","id":4,"method":"ping","params":{"pad":"' + b"x" * (5 << 20) + b'"}}\n')
say("oversized", recv())
send('[{"jsonrpc":"2.0","id":5,"method":"ping"}]\n'); say("batch", recv())
send('{"jsonrpc":"2.0","id":6,"method":"no/such"}\n'); say("unknown-method", recv())
send('{"jsonrpc":"1.0","id":7,"method":"ping"}\n'); say("bad-version", recv())
send('{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}\n'); say("bad-id", recv())
send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{}}}\n'); say("call-no-name", recv())
send('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"def","arguments":[1]}}\n'); say("call-args-array", recv())
send('{"jsonrpc":"2.0","id":10,"method":"logging/setLevel","params":{"level":"loud"}}\n'); say("bad-level", recv())
send('{"jsonrpc":"2.0","id":11,"method":"tools/list","params":7}\n'); say("params-not-object", recv())
send('{"jsonrpc":"2.0","id":12,"method":"resources/read","params":{"uri":"lanser://nothing"}}\n'); say("no-resource", recv())
send(b'{"jsonrpc":"2.0","id":13,"method":"ping"\x00}\n'); say("nul", recv())
send('\n  \n{"jsonrpc":"2.0","method":"unknown/notification"}\n')
send('{"jsonrpc":"2.0","id":14,"method":"tools/list"}\n'); m = recv()
say("still-serving", {"tools": len(m.get("result", {}).get("tools", []))})
init3 = dict(init, id=1); init3["params"] = dict(init["params"], protocolVersion="2099-01-01")
q = subprocess.Popen([lanser, "--root", root, "mcp", "--no-daemon"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
q.stdin.write((json.dumps(init3) + "\n").encode()); q.stdin.close()
say("unknown-version", json.loads(q.stdout.readline())); q.wait(timeout=30)
p.stdin.close()
print("exit", p.wait(timeout=30))
EOF
R=$(cat "$TMP/raw.out")
raw() { printf '%s\n' "$R" | sed -n "s/^$1 //p"; }
rcode() { raw "$1" | json 'b["error"]["code"]' -; }
check_eq "raw: a request before initialize is -32600" -32600 "$(rcode before-init)"
check_eq "raw: ping before initialize is answered" '{}' "$(raw ping-before-init | json 'json.dumps(b["result"])' -)"
check_eq "raw: initialize answers the client's version when supported (2025-06-18)" 2025-06-18 \
	"$(raw init | json 'b["result"]["protocolVersion"]' -)"
check_eq "raw: an unknown version is answered with the newest (2025-11-25)" 2025-11-25 \
	"$(raw unknown-version | json 'b["result"]["protocolVersion"]' -)"
check_eq "raw: initialize twice is -32600" -32600 "$(rcode init-again)"
check_eq "raw: malformed JSON is -32700 with id null" "-32700 None" "$(raw malformed | json '"%s %s" % (b["error"]["code"], b["id"])' -)"
check_eq "raw: a 5 MiB line is -32600 (over the 4 MiB cap)" -32600 "$(rcode oversized)"
check_contains "raw: ... and says it is too long" "$(raw oversized)" "longer than"
check_eq "raw: a batch array is -32600" -32600 "$(rcode batch)"
check_eq "raw: an unknown method is -32601" -32601 "$(rcode unknown-method)"
check_eq "raw: jsonrpc 1.0 is -32600" -32600 "$(rcode bad-version)"
check_eq "raw: an object id is -32600 with id null" "-32600 None" "$(raw bad-id | json '"%s %s" % (b["error"]["code"], b["id"])' -)"
check_eq "raw: tools/call without a name is -32602" -32602 "$(rcode call-no-name)"
check_eq "raw: tools/call with array arguments is -32602" -32602 "$(rcode call-args-array)"
check_eq "raw: an unknown log level is -32602" -32602 "$(rcode bad-level)"
check_eq "raw: params that are not an object is -32602" -32602 "$(rcode params-not-object)"
check_eq "raw: an unknown resource is -32002" -32002 "$(rcode no-resource)"
check_eq "raw: a NUL byte in a line is -32600" -32600 "$(rcode nul)"
check_eq "raw: the server still serves after all that (tools/list)" 1 \
	"$(raw still-serving | json 'int(b["tools"] > 5)' -)"
check_eq "raw: lanser mcp exits 0 when stdin closes" 0 "$(raw exit)"
# the instructions a client hands its model: every selector they show parses
# (a file or symbol that is not there is 3, a malformed selector would be 2)
raw init | json 'b["result"]["instructions"]' - >"$TMP/instructions.txt"
"$PY" - "$TMP/instructions.txt" >"$TMP/sels.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
for m in re.findall(r"(?:[\w./]+@L\d+:C\d+|[\w./]+@R\([^)]*\)|(?:(?:c|py|ts)://)?[\w./]*#[\w.]+)", text):
    print(m)
EOF
bad=
while read -r sel; do
	(cd "$C" && "$L" --no-daemon locate "$sel" >/dev/null 2>&1); rc=$?
	[ "$rc" = 2 ] && bad="$bad $sel"
	(cd "$C" && "$L" --no-daemon locate "$sel:body" >/dev/null 2>&1); rc=$?
	case $sel in *://*) [ "$rc" = 2 ] && bad="$bad $sel:body" ;; esac
done <"$TMP/sels.txt"
check_eq "raw: the instructions show at least 6 selector forms" 1 "$([ "$(wc -l <"$TMP/sels.txt")" -ge 6 ] && echo 1 || echo 0)"
check_eq "raw: ... and every one parses (none is a bad selector, exit 2)" "" "$bad"
[ -s "$TMP/raw.err" ] && fail "raw: the driver ran without error" "$(tail -5 "$TMP/raw.err")"
check_no_procs "raw: no server left after the raw sessions" "$C"

# ---- docs/mcp.md's client snippets: each parses, and the server it starts
# (lanser on PATH, the workspace for ${workspaceFolder} or /path/to/repo)
# answers initialize and lists the tools
mkdir -p "$TMP/bin" && ln -sf "$L" "$TMP/bin/lanser"
PATH="$TMP/bin:$PATH" "$PY" - "$LANSER_REPO_ROOT/docs/mcp.md" "$C" >"$TMP/snip.out" 2>&1 <<'EOF'
import json, re, shlex, subprocess, sys, tomllib
doc, root = open(sys.argv[1]).read(), sys.argv[2]
part = doc.split("## Adding it to a client")[1].split("## Protocol")[0]
blocks = re.findall(r"```(\w*)\n(.*?)```", part, re.S)
servers = []
for kind, text in blocks:
    if kind == "json":
        j = json.loads(text)
        s = (j.get("mcpServers") or j.get("servers"))["lanser"]
        servers.append(("json", s["command"], s["args"]))
    elif kind == "toml":
        s = tomllib.loads(text)["mcp_servers"]["lanser"]
        servers.append(("toml", s["command"], s["args"]))
    else:
        for line in text.splitlines():
            if line.startswith("claude mcp add"):
                argv = shlex.split(line.split("#")[0])
                servers.append(("claude", argv[argv.index("--") + 1], argv[argv.index("--") + 2:]))
init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
        "capabilities": {}, "clientInfo": {"name": "snippet", "version": "0"}}}
lst = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
for kind, cmd, args in servers:
    args = [a.replace("${workspaceFolder}", root).replace("/path/to/repo", root) for a in args]
    if args[-1] == ".":
        args[-1] = root
    out = subprocess.run([cmd] + args, input=json.dumps(init) + "\n" + json.dumps(lst) + "\n",
                         capture_output=True, text=True, timeout=60, cwd=root).stdout
    ans = {m.get("id"): m for m in map(json.loads, out.splitlines())}
    print(kind, ans[1]["result"]["serverInfo"]["name"], len(ans[2]["result"]["tools"]) > 5)
EOF
check_eq "docs/mcp.md: every client snippet parses and starts a server that answers (claude x2, toml, json x2)" \
	"claude lanser True|claude lanser True|toml lanser True|json lanser True|json lanser True" \
	"$(tr '\n' '|' <"$TMP/snip.out" | sed 's/|$//')"

# ---- "readOnly" in .lanser.json: no mutating tool; another type is exit 78
R=$(fixture pyproj ro)
printf '{"readOnly": true}\n' >"$R/.lanser.json"
"$PY" - "$L" "$R" >"$TMP/ro.out" 2>"$TMP/ro.err" <<'EOF'
import json, subprocess, sys
lanser, root = sys.argv[1], sys.argv[2]
msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
         "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "rename",
         "arguments": {"args": ["app.py@L7:C13", "X"], "apply": True}}}]
out = subprocess.run([lanser, "--root", root, "mcp", "--no-daemon"],
                     input="".join(json.dumps(m) + "\n" for m in msgs),
                     capture_output=True, text=True, timeout=60).stdout
ans = {m["id"]: m for m in map(json.loads, out.splitlines()) if "id" in m}
print(" ".join(sorted(t["name"] for t in ans[2]["result"]["tools"])))
print(ans[3]["error"]["code"])
EOF
check_eq "readOnly: .lanser.json's \"readOnly\": true lists only the queries" \
	"def diag hover locate outline read refs search symbols" "$(sed -n 1p "$TMP/ro.out")"
check_eq "readOnly: calling rename is -32602" -32602 "$(sed -n 2p "$TMP/ro.out")"
check_contains "readOnly: the file is untouched" "$(cat "$R/app.py")" "Circle"
printf '{"readOnly": "yes"}\n' >"$R/.lanser.json"
run "$L" --root "$R" mcp </dev/null
check_eq "readOnly: a string is a configuration error (exit 78)" 78 "$RC"
check_contains "readOnly: ... naming the member" "$ERR" "readOnly"

# ---- --trace (a path relative to where mcp starts): every call appends its
# run, and the trace is a resource
(cd "$TMP" && "$PY" - "$L" "$C" session.trace) >"$TMP/tr.out" 2>&1 <<'EOF'
import json, subprocess, sys
lanser, root, trace = sys.argv[1:4]
msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
         "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "outline",
         "arguments": {"args": ["src/util.c"]}}},
        {"jsonrpc": "2.0", "id": 3, "method": "resources/list"},
        {"jsonrpc": "2.0", "id": 4, "method": "resources/read", "params": {"uri": "lanser://trace"}}]
out = subprocess.run([lanser, "--root", root, "--trace", trace, "mcp", "--no-daemon"],
                     input="".join(json.dumps(m) + "\n" for m in msgs), capture_output=True,
                     text=True, timeout=60).stdout
ans = {m["id"]: m for m in map(json.loads, out.splitlines()) if "id" in m}
print(ans[2]["result"]["structuredContent"]["bundleId"])
print(" ".join(r["uri"] for r in ans[3]["result"]["resources"] if not r["uri"].startswith("lanser://bundle/")))
c = ans[4]["result"]["contents"][0]
print(c["mimeType"], json.loads(c["text"].splitlines()[0])["type"])
EOF
check_eq "trace: resources/list names lanser://trace" "lanser://trace" "$(sed -n 2p "$TMP/tr.out")"
check_eq "trace: resources/read gives the JSONL trace" "application/jsonl header" "$(sed -n 3p "$TMP/tr.out")"
run "$L" trace list "$TMP/session.trace"
check_contains "trace: the outline call is a run of the trace, with its bundle" "$OUT" \
	"bundle   outline $(sed -n 1p "$TMP/tr.out")"
run "$L" trace replay --verify "$TMP/session.trace"
check_eq "trace: the session's trace replays (--verify)" 0 "$RC"
run "$L" --root "$C" mcp extra </dev/null
check_eq "mcp takes no arguments (usage error, exit 129)" 129 "$RC"

# ---- tool calls run on the session's root, never on an ancestor's .lanser.json
mkdir -p "$TMP/outer/ws/src"
printf '{"timeouts": 5}\n' >"$TMP/outer/.lanser.json"
cp "$FIXTURES/cproj/src/util.h" "$TMP/outer/ws/src/"
git -C "$TMP/outer/ws" init -q
"$PY" - "$L" "$TMP/outer/ws" >"$TMP/anc.out" 2>&1 <<'EOF'
import json, subprocess, sys
lanser, root = sys.argv[1:3]
msgs = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
         "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read",
         "arguments": {"args": ["src/util.h"]}}}]
run = subprocess.run([lanser, "--root", root, "mcp", "--no-daemon"],
                     input="".join(json.dumps(m) + "\n" for m in msgs), capture_output=True,
                     text=True, timeout=60)
ans = {m["id"]: m for m in map(json.loads, run.stdout.splitlines()) if "id" in m}
r = ans[2]["result"]
print(r["isError"], r["structuredContent"]["request"]["command"])
print("exit", run.returncode)
EOF
check_eq "root: a call reads the --root workspace, not an ancestor's broken .lanser.json" \
	"False read" "$(sed -n 1p "$TMP/anc.out")"
check_eq "mcp exits 0 once stdin closes and what was sent is answered" "exit 0" "$(sed -n 2p "$TMP/anc.out")"

# ---- while a call runs: ping is answered, the queue is bounded, cancel stops it
S=$TMP/slow
mkdir -p "$S" && git -C "$S" init -q
printf '{"schema": "lanser.task/1", "test": ["/bin/sh", "-c", "sleep 60; echo lanser-mcp-q-%s"]}\n' "$$" >"$S/slow.json"
"$PY" - "$L" "$S" >"$TMP/q.out" 2>&1 <<'EOF'
import json, signal, subprocess, sys, time
lanser, root = sys.argv[1:3]
p = subprocess.Popen([lanser, "--root", root, "mcp", "--no-daemon"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(m):
    p.stdin.write((json.dumps(m) + "\n").encode()); p.stdin.flush()
seen = set()  # ids >= 1000 answered (results or errors)
def until(pred):
    while True:
        m = json.loads(p.stdout.readline())
        if m.get("id") in ("slow", "slow2"):
            print("answered-cancelled-call")
        if isinstance(m.get("id"), int) and m["id"] >= 1000:
            seen.add(m["id"])
        if pred(m):
            return m
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
      "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
until(lambda m: m.get("id") == 1)
# a cancel that comes before the call has started its tests (test takes
# the signal only once its task is loaded) still stops it
t1 = time.time()
send({"jsonrpc": "2.0", "id": "slow2", "method": "tools/call", "params": {"name": "test",
      "arguments": {"task": "slow.json"}}})
send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow2"}})
send({"jsonrpc": "2.0", "id": "after", "method": "tools/list"})
until(lambda m: m.get("id") == "after")
print("early-cancel", time.time() - t1 < 20)
send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {"name": "test",
      "arguments": {"task": "slow.json"}, "_meta": {"progressToken": 7}}})
prog = until(lambda m: m.get("method") == "notifications/progress")
print("progress", prog["params"]["progressToken"], prog["params"]["progress"] >= 1)
t0 = time.time()
send({"jsonrpc": "2.0", "id": "p", "method": "ping"})
until(lambda m: m.get("id") == "p")
print("ping-during-call", time.time() - t0 < 5)
for i in range(300):
    send({"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/list"})
busy = until(lambda m: m.get("id", 0) == 1256)
print("queue-full", busy["error"]["code"])
send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "slow"}})
until(lambda m: len(seen) == 300)
print("all-answered", len(seen), time.time() - t0 < 40)
# the idle server after those cancels: Ctrl-C (SIGINT) ends it, the
# first time (the cancels' signals were caught by test's own handler)
p.send_signal(signal.SIGINT)
try:
    print("sigint-idle", p.wait(timeout=10))
except subprocess.TimeoutExpired:
    print("sigint-idle ignored")
    p.kill(); p.wait()
EOF
check_contains "busy: progress notifications carry the call's token" "$(cat "$TMP/q.out")" "progress 7 True"
check_contains "busy: ping is answered while a call runs" "$(cat "$TMP/q.out")" "ping-during-call True"
check_contains "busy: past 256 queued requests, -32603" "$(cat "$TMP/q.out")" "queue-full -32603"
check_not_contains "busy: a cancelled call gets no answer" "$(cat "$TMP/q.out")" "answered-cancelled-call"
check_contains "busy: after the cancel every queued request is answered, soon" "$(cat "$TMP/q.out")" "all-answered 300 True"
check_contains "busy: a cancel sent right after the call still stops it (well before its 60 s)" \
	"$(cat "$TMP/q.out")" "early-cancel True"
check_contains "busy: after the cancels, one Ctrl-C (SIGINT) ends the idle server" \
	"$(cat "$TMP/q.out")" "sigint-idle -2"
check_no_procs "busy: the cancelled test left nothing" "lanser-mcp-q-$$"

# ---- a Ctrl-C (SIGINT from outside) while test runs ends the server, as it
# ends any program, and the run's processes die with it
"$PY" - "$L" "$S" >"$TMP/int.out" 2>&1 <<'EOF'
import json, signal, subprocess, sys
lanser, root = sys.argv[1:3]
p = subprocess.Popen([lanser, "--root", root, "mcp", "--no-daemon"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
def send(m):
    p.stdin.write((json.dumps(m) + "\n").encode()); p.stdin.flush()
def until(pred):
    while True:
        m = json.loads(p.stdout.readline())
        if pred(m):
            return m
send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25",
      "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
until(lambda m: m.get("id") == 1)
send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {"name": "test",
      "arguments": {"task": "slow.json"}, "_meta": {"progressToken": 1}}})
until(lambda m: m.get("method") == "notifications/progress")
p.send_signal(signal.SIGINT)
try:
    print("sigint-during-call", p.wait(timeout=10))
except subprocess.TimeoutExpired:
    print("sigint-during-call ignored")
    p.kill(); p.wait()
EOF
check_contains "Ctrl-C during a test call ends the server (SIGINT)" "$(cat "$TMP/int.out")" "sigint-during-call -2"
sleep 1
check_no_procs "... and the run's processes are gone" "lanser-mcp-q-$$"
