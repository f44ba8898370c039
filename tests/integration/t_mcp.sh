#!/usr/bin/env bash
# `lanser mcp` (docs/mcp.md): the official MCP TypeScript SDK client
# (tests/mcp/client.mjs) drives whole sessions on the C fixture (through the
# warm daemon) and the Python fixture (--no-daemon, then --read-only): every
# tool, schemas, bundleIds against the CLI's, resources, rename preview and
# apply, bad calls, cancellation with progress. Nothing is left running.
# Protocol abuse is t_mcp_proto.sh.
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
import json, subprocess, sys
sel, root = "$defsel", "$root"
calls = {
  "def": {"args": [sel]}, "refs": {"args": [sel]}, "hover": {"args": [sel]},
  "symbols": {"args": ["$ofile"]}, "outline": {"args": ["$ofile"]}, "diag": {"args": ["$ofile"]},
  "locate": {"args": [sel]}, "actions": {"args": [sel]},
  "rename": {"args": ["$rsel", "$rnew"]}, "patch": {"args": ["good.diff"]},
  "test": {}, "eval": {"patches": ["good.diff"]},
  "read": {"args": ["$ofile"]}, "search": {"args": ["import|include"]},
  "edit": {"args": ["c://#list_len:body"], "text": "{ return 0; }"} if root.endswith("cproj") else
          {"args": ["py://shapes.circle#Circle.area:body"], "text": "        return 0.0\\n"},
}
json.dump({
  "label": "$label", "lanser": "$L", "root": root, "extraArgs": json.loads('$extra'),
  "calls": calls,
  "expectTools": ["def", "refs", "hover", "symbols", "outline", "diag", "locate", "read", "search"] +
                 ([] if "$ro" == "1" else ["rename", "actions", "patch", "edit", "test", "eval"]),
  "def": {"arguments": {"args": [sel]}, "cliBundleId": "$cli_id"},
  "rename": {"arguments": {"args": ["$rsel", "$rnew"]}, "file": "$rfile", "newName": "$rnew"},
  "escape": json.loads('$escape'),
  "notFound": {"tool": "def", "arguments": {"args": ["c://#no_such_function_anywhere"] if root.endswith("cproj")
                                            else ["py://shapes.circle#Circle.no_such_method"]}},
  "cancel": None if "$ro" == "1" else {"tool": "test", "arguments": {"task": "slow.json"}, "marker": "$MARK"},
  "readOnly": "$ro" == "1",
  # every query asked of the CLI too (through the daemon): the same bundleIds
  "cliIds": {t: json.loads(subprocess.run(["$L", "--root", root, "--json", t] + calls[t]["args"],
                                          capture_output=True, text=True, timeout=300).stdout)["bundleId"]
             for t in ["def", "refs", "hover", "symbols", "outline", "diag", "locate", "read", "search"]},
  # no code action at the def selector of either fixture: the answer is "not found"
  "expectError": {"actions": True},
  # test and eval read as words (status, counts, the command; verdict,
  # reward, diagnostics), not as the outcome record's JSON
  "expectText": {"test": [r"^tests passed: [0-9]+ passed, 0 failed", r"^test: \\S+"],
                 "eval": [r"^verdict: accepted", r"^reward [0-9.]+ \\(p-grpo: format 1, outcome 1",
                          r"^patch: usable \\(OK\\): modified ", r"^diagnostics: weight ",
                          r"^tests passed: "],
                 "def": [r":[0-9]+:[0-9]+"], "read": [r"\\(lines 1-"],
                 # a Python body sent back as whole lines is indented once
                 **({} if root.endswith("cproj") else {"edit": [r"^\\+        return 0\\.0\n"]})},
  "rejectText": {"test": [r"outcomeFrom", r"^outcome: "], "eval": [r"rOutcome", r"^outcome: "],
                 **({} if root.endswith("cproj") else {"edit": [r"^\\+ {9,}return", r"^\\+[ \t]*\n"]})},
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
