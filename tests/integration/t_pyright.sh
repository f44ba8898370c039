#!/usr/bin/env bash
# pyright end to end on tests/fixtures/pyproj and pyproj-errors: definitions,
# references across the package and its tests, hover, document symbols and
# diagnostics. pyright costs about a second per call (each lanser call starts
# it anew), so every call here is used for several checks.
. "$(dirname "$0")/lib.sh"

ws=$(fixture pyproj) || { fail "pyright: copy the pyproj fixture" "fixture pyproj failed"; exit 1; }
cd "$ws" || exit 1

# --- definitions -------------------------------------------------------------
run_reaped 60 "$L" def app.py@L7:C13
check_eq "pyright def Circle (app.py:7:13) exits 0" 0 "$RC"
check_eq "pyright def Circle: no pyright process left running or unreaped" \
	"0 0" "$ORPHANS $ZOMBIES${LEFTOVERS:+ ($LEFTOVERS)}"
check_eq "pyright def Circle prints the class definition in shapes/circle.py" \
	"shapes/circle.py:9:7" "$OUT"

run "$L" --json def app.py@L10:C37
check_eq "pyright def scaled (app.py:10:37) exits 0" 0 "$RC"
check_eq "pyright def scaled --json: the method definition with its exact range" \
	"definition shapes/circle.py 19:9-19:15" "$(facts_lines)"
check_json_eq "pyright def --json: environment.servers[0].profile is pyright" \
	.environment.servers.0.profile pyright
check_json_eq "pyright def --json: pyright speaks utf-16" \
	.environment.servers.0.positionEncoding utf-16
check_json_eq "pyright def --json: complete is true" .complete true
check_json_eq "pyright def --json: request target is the workspace-relative cursor" \
	.request.target '{"col":37,"line":10,"path":"app.py"}'

# --- references -------------------------------------------------------------
run "$L" --json refs app.py@L8:C5
check_eq "pyright refs register (app.py:8:5) exits 0" 0 "$RC"
check_eq "pyright refs register: exactly the 10 expected locations (app.py, registry.py, tests), sorted" \
	"reference app.py 3:39-3:47
reference app.py 8:5-8:13
reference app.py 9:5-9:13
reference app.py 10:5-10:13
reference app.py 11:5-11:13
reference shapes/registry.py 12:5-12:13
reference shapes/registry.py 23:12-23:20
reference tests/test_shapes.py 7:47-7:55
reference tests/test_shapes.py 37:9-37:17
reference tests/test_shapes.py 43:5-43:13" "$(facts_lines)"
check_json_eq "pyright refs register: includes the call in shapes/registry.py:23" \
	'[f["range"][:2] for f in b["facts"] if f["path"] == "shapes/registry.py"]' '[[12,5],[23,12]]'
check_json_eq "pyright refs register: facts are sorted by path, then range" \
	'[(f["path"], f["range"]) for f in b["facts"]] == sorted((f["path"], f["range"]) for f in b["facts"])' true
check_json_eq "pyright refs --json: complete is true" .complete true

# --- hover ------------------------------------------------------------------
run "$L" hover app.py@L10:C37
check_eq "pyright hover scaled exits 0" 0 "$RC"
check_contains "pyright hover scaled shows 'def scaled'" "$OUT" "def scaled"
check_contains "pyright hover scaled shows the return type" "$OUT" "-> Circle"

# --- symbols ----------------------------------------------------------------
run "$L" --json symbols shapes/circle.py
check_eq "pyright symbols shapes/circle.py exits 0" 0 "$RC"
check_json_eq "pyright symbols: Circle is a Class at 9:7" \
	'[(f["symbolKind"], f["selectionRange"]) for f in b["facts"] if f["name"] == "Circle"]' \
	'[["Class",[9,7,9,13]]]'
check_json_eq "pyright symbols: scaled is a Method of Circle at 19:9" \
	'[(f["symbolKind"], f.get("container"), f["selectionRange"]) for f in b["facts"] if f["name"] == "scaled"]' \
	'[["Method","Circle",[19,9,19,15]]]'
check_json_eq "pyright symbols: area and __init__ are methods of Circle" \
	'sorted(f["name"] for f in b["facts"] if f["symbolKind"] == "Method" and f.get("container") == "Circle")' \
	'["__init__","area","scaled"]'

# --- diagnostics ------------------------------------------------------------
run "$L" --json diag app.py
check_eq "pyright diag of a clean file exits 0" 0 "$RC"
check_json_eq "pyright diag of a clean file: 0 diagnostics" .facts# 0

ews=$(fixture pyproj-errors) || { fail "pyright: copy the pyproj-errors fixture" "fixture failed"; exit 1; }
cd "$ews" || exit 1
run "$L" --json diag bad.py
check_eq "pyright diag bad.py exits 0" 0 "$RC"
check_eq "pyright diag bad.py: exactly the two errors at the documented ranges" \
	"diagnostic bad.py 18:7-18:23
diagnostic bad.py 19:14-19:15" "$(facts_lines)"
check_json_eq "pyright diag bad.py: severities and rule codes" \
	'sorted((f["severity"], f.get("code")) for f in b["facts"])' \
	'[["error","reportAttributeAccessIssue"],["error","reportCallIssue"]]'
check_json_eq "pyright diag bad.py: messages" \
	'sorted(f["message"].split("\n")[0] for f in b["facts"])' \
	'["Argument missing for parameter \"b\"","Cannot access attribute \"z\" for class \"Point\""]'

# --- references do not depend on what was opened before (issue 12, item 2) ------
# pyright (openFilesOnly) finds references in the files it has analysed: a
# fresh daemon, a daemon that opened the test file first, and --no-daemon
# give the same answer, the tests included.
pr=$(fixture pyproj pyproj-refs) || { fail "pyright: copy the pyproj fixture" "fixture pyproj failed"; exit 1; }
cd "$pr" || exit 1
"$L" daemon stop >/dev/null 2>&1
run "$L" --json refs app.py@L12:C13
fresh=$(json .bundleId)
check_json_eq "pyright refs of total_area from a fresh daemon include the tests" \
	'sorted(set(f["path"] for f in b["facts"]))' '["app.py","shapes/registry.py","tests/test_shapes.py"]'
check_json_eq "pyright refs from a fresh daemon: complete" .complete true
"$L" daemon stop >/dev/null 2>&1
"$L" hover tests/test_shapes.py@L44:C25 >/dev/null 2>&1
run "$L" --json refs app.py@L12:C13
check_eq "pyright refs after the daemon opened the test file: the same bundleId" "$fresh" "$(json .bundleId)"
run "$L" --no-daemon --json refs app.py@L12:C13
check_eq "pyright refs --no-daemon: the same bundleId" "$fresh" "$(json .bundleId)"
"$L" daemon stop >/dev/null 2>&1
