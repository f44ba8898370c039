#!/usr/bin/env bash
# `lanser mcp` (docs/mcp.md): the official MCP TypeScript SDK client
# (tests/mcp/client.mjs) drives whole sessions on the C fixture (through the
# warm daemon) and the Python fixture (--no-daemon, then --read-only), and a
# raw driver abuses the protocol (malformed JSON, an oversized line, a batch,
# requests before initialize, unknown methods, bad params): every abuse gets
# its JSON-RPC error and the server keeps serving. Nothing is left running.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
SDK=$LANSER_REPO_ROOT/deps/node_modules/@modelcontextprotocol/sdk
C=$(fixture cproj)
P=$(fixture pyproj)
MARK="lanser-mcp-slow-$$"
# the patches eval, test and patch take, and a slow task to cancel, inside
# the workspaces (a tool call names files in the workspace)
for d in "$C" "$P"; do
	(cd "$d" && $GIT add -A && $GIT commit -qm base) || exit 1
done
(cd "$C" && sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >good.diff &&
	git checkout -q -- .)
(cd "$P" && sed -i 's/return math.pi \* self.radius \*\* 2/return math.pi * (self.radius ** 2)/' \
	shapes/circle.py && git diff >good.diff && git checkout -q -- .)
for d in "$C" "$P"; do
	[ -s "$d/good.diff" ] || fail "mcp: a patch for $d" "good.diff is empty"
	printf '{"schema": "lanser.task/1", "test": ["/bin/sh", "-c", "sleep 40; echo %s"]}\n' "$MARK" \
		>"$d/slow.json"
	(cd "$d" && $GIT add -A && $GIT commit -qm "patch and task") || exit 1
done
cd "$TMP" || exit 1

if ! command -v node >/dev/null || [ ! -f "$SDK/dist/esm/client/index.js" ]; then
	skip "mcp: the SDK client sessions" "node or deps/node_modules/@modelcontextprotocol/sdk missing (make deps)"
else
	# plan FILE LABEL ROOT EXTRA-ARGS-JSON DEF-SEL RENAME-SEL NEW-NAME RENAME-FILE OUTLINE-FILE ESCAPE-JSON READONLY
	plan() {
		local out=$1 label=$2 root=$3 extra=$4 defsel=$5 rsel=$6 rnew=$7 rfile=$8 ofile=$9
		local escape=${10} ro=${11} cli_id
		cli_id=$("$L" --root "$root" --json def "$defsel" | json .bundleId -)
		"$PY" - "$out" <<EOF
import json, sys
sel, root = "$defsel", "$root"
calls = {
  "def": {"args": [sel]}, "refs": {"args": [sel]}, "hover": {"args": [sel]},
  "symbols": {"args": ["$ofile"]}, "outline": {"args": ["$ofile"]}, "diag": {"args": ["$ofile"]},
  "locate": {"args": [sel]}, "actions": {"args": [sel]},
  "rename": {"args": ["$rsel", "$rnew"]}, "patch": {"args": ["good.diff"]},
  "test": {}, "eval": {"patches": ["good.diff"]},
  "read": {"args": ["$ofile"]}, "search": {"args": ["import|include"]},
}
json.dump({
  "label": "$label", "lanser": "$L", "root": root, "extraArgs": json.loads('$extra'),
  "calls": calls,
  "expectTools": ["def", "refs", "hover", "symbols", "outline", "diag", "locate"] +
                 ([] if "$ro" == "1" else ["rename", "actions", "patch", "test", "eval"]),
  "def": {"arguments": {"args": [sel]}, "cliBundleId": "$cli_id"},
  "rename": {"arguments": {"args": ["$rsel", "$rnew"]}, "file": "$rfile", "newName": "$rnew"},
  "escape": json.loads('$escape'),
  "cancel": None if "$ro" == "1" else {"tool": "test", "arguments": {"task": "slow.json"}, "marker": "$MARK"},
  "readOnly": "$ro" == "1",
  # no code action at the def selector of either fixture: the answer is "not found"
  "expectError": {"actions": True},
}, open(sys.argv[1], "w"))
EOF
	}
	# session PLAN NAME : runs the SDK client; its ok/FAIL lines count here
	session() {
		local log=$TMP/$2.log pid n
		timeout 900 node "$LANSER_REPO_ROOT/tests/mcp/client.mjs" "$1" >"$log" 2>&1
		grep -E '^(ok |FAIL |#   )' "$log"
		n=$(grep -c '^FAIL ' "$log")
		T_FAILS=$((T_FAILS + n))
		if ! grep -q '^# pid ' "$log"; then
			fail "$2: the client ran to its end" "$(tail -20 "$log")"
			return
		fi
		pid=$(sed -n 's/^# pid //p' "$log")
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			fail "$2: lanser mcp exits when its stdin closes" "pid $pid still running"
			kill -9 "$pid"
		else
			ok "$2: lanser mcp exits when its stdin closes"
		fi
	}

	plan "$TMP/c.json" "mcp C (daemon)" "$C" '[]' src/main.c@L14:C2 src/main.c@L14:C2 list_append \
		src/main.c src/main.c '{"tool": "patch", "arguments": {"args": ["../../../etc/passwd"]}}' 0
	session "$TMP/c.json" "mcp C"
	# the daemon stays warm (as after a CLI call); once stopped, no server is left
	"$L" --root "$C" daemon stop >/dev/null 2>&1
	sleep 1
	check_no_procs "mcp C: no clangd, daemon or test left once the daemon is stopped" "$C"
	check_no_procs "mcp C: the cancelled test's processes are gone" "$MARK"

	plan "$TMP/p.json" "mcp Python (no daemon)" "$P" '["--no-daemon"]' app.py@L7:C13 app.py@L7:C13 Round \
		app.py app.py '{"tool": "outline", "arguments": {"args": ["../../../etc/passwd"]}}' 0
	session "$TMP/p.json" "mcp Python"
	"$L" --root "$P" daemon stop >/dev/null 2>&1 # started by the CLI's def (plan)
	check_no_procs "mcp Python: no pyright or test left (in-process servers stopped)" "$P"

	plan "$TMP/r.json" "mcp read-only" "$P" '["--no-daemon", "--read-only"]' app.py@L7:C13 app.py@L7:C13 Round2 \
		app.py app.py '{"tool": "outline", "arguments": {"args": ["/etc/passwd"]}}' 1
	session "$TMP/r.json" "mcp read-only"
	"$L" --root "$P" daemon stop >/dev/null 2>&1
	check_no_procs "mcp read-only: nothing left" "$P"
fi

# ---- raw protocol abuse (python3 driver): errors, and the server keeps serving
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
[ -s "$TMP/raw.err" ] && fail "raw: the driver ran without error" "$(tail -5 "$TMP/raw.err")"
check_no_procs "raw: no server left after the raw sessions" "$C"
