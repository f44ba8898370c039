#!/usr/bin/env bash
# Analysis Bundles: determinism of bundleId (separate processes, another
# current directory, another absolute location of the same snapshot), its
# sensitivity to the document text, the published JSON Schema, validation of
# real bundles (answers and errors) against it, and an independent
# recomputation of bundleId in Python.
. "$(dirname "$0")/lib.sh"

ws=$(fixture cproj) || { fail "bundle: copy the cproj fixture" "fixture cproj failed"; exit 1; }
cd "$ws" || exit 1

bundle_id() { json .bundleId; }

# --- determinism -------------------------------------------------------------
run "$L" --json def src/main.c@L14:C2
id1=$(bundle_id)
check_eq "bundle def exits 0" 0 "$RC"
if [[ "$id1" =~ ^sha256:[0-9a-f]{64}$ ]]; then
	ok "bundle bundleId has the form sha256:<64 hex>"
else
	fail "bundle bundleId has the form sha256:<64 hex>" "got '$id1'"
fi
run "$L" --json def src/main.c@L14:C2
check_eq "bundle the same def in a second process gives the same bundleId" "$id1" "$(bundle_id)"

(cd src && run "$L" --json def main.c@L14:C2 && printf '%s\n%s\n' "$RC" "$(bundle_id)") >"$TMP/sub"
check_eq "bundle the same def from the src/ subdirectory (path relative to it) gives the same bundleId" \
	"0
$id1" "$(cat "$TMP/sub")"

(cd / && run "$L" --root "$ws" --json def "$ws/src/main.c@L14:C2" && printf '%s\n%s\n' "$RC" "$(bundle_id)") >"$TMP/abs"
check_eq "bundle the same def with --root and an absolute path from / gives the same bundleId" \
	"0
$id1" "$(cat "$TMP/abs")"

ws2=$(fixture cproj elsewhere/deeper/cproj) || fail "bundle: second copy" "fixture failed"
(cd "$ws2" && run "$L" --json def src/main.c@L14:C2 && printf '%s\n%s\n' "$RC" "$(bundle_id)") >"$TMP/ws2"
check_eq "bundle the same snapshot at another absolute path gives the same bundleId" \
	"0
$id1" "$(cat "$TMP/ws2")"

run "$L" --json refs src/main.c@L14:C2
rid1=$(bundle_id)
run "$L" --json refs src/main.c@L14:C2
check_eq "bundle refs twice gives the same bundleId" "$rid1" "$(bundle_id)"

run "$L" --json --index-io utf-16 def src/main.c@L14:C2
check_json_eq "bundle the request unit is hashed: --index-io utf-16 gives another bundleId" \
	'b["bundleId"] != "'"$id1"'"' true

cp src/main.c "$TMP/main.c.orig"
printf '/* a comment that changes the snapshot */\n' >>src/main.c
run "$L" --json def src/main.c@L14:C2
check_eq "bundle after editing main.c the def still answers list.c:15:5" \
	"definition src/list.c 15:5-15:14" "$(facts_lines)"
id_changed=$(bundle_id)
if [ -n "$id_changed" ] && [ "$id_changed" != "$id1" ]; then
	ok "bundle changing the file content changes bundleId"
else
	fail "bundle changing the file content changes bundleId" "before $id1, after '$id_changed'"
fi
cp "$TMP/main.c.orig" src/main.c
run "$L" --json def src/main.c@L14:C2
check_eq "bundle restoring the content restores the original bundleId" "$id1" "$(bundle_id)"

pws=$(fixture pyproj) || fail "bundle: copy the pyproj fixture" "fixture failed"
(cd "$pws" && run "$L" --json def app.py@L7:C13 && json .bundleId) >"$TMP/py1"
(cd "$pws" && run "$L" --json def app.py@L7:C13 && json .bundleId) >"$TMP/py2"
if grep -qE '^sha256:[0-9a-f]{64}$' "$TMP/py1" && cmp -s "$TMP/py1" "$TMP/py2"; then
	ok "bundle pyright def twice gives the same bundleId (dynamic registrations excluded)"
else
	fail "bundle pyright def twice gives the same bundleId (dynamic registrations excluded)" \
		"first $(cat "$TMP/py1"), second $(cat "$TMP/py2")"
fi

# --- the schema ---------------------------------------------------------------
have_jsonschema=0
if "$PY" -c 'import jsonschema' 2>/dev/null; then
	have_jsonschema=1
	ok "bundle python3 jsonschema module is importable"
else
	fail "bundle python3 jsonschema module is importable" \
		"/usr/bin/python3 cannot import jsonschema: install python3-jsonschema ('make deps')"
fi

run "$L" schema bundle
check_eq "bundle 'lanser schema bundle' exits 0" 0 "$RC"
printf '%s' "$OUT" >"$TMP/schema.json"
check_json_eq "bundle 'lanser schema bundle' is a JSON object" 'type(b).__name__' dict
if [ "$have_jsonschema" = 1 ]; then
	run "$PY" -c '
import json, sys, jsonschema
s = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(s).check_schema(s)
print(jsonschema.validators.validator_for(s).__name__)' "$TMP/schema.json"
	check_eq "bundle the schema is itself a valid JSON Schema (draft 2020-12)" \
		"0 Draft202012Validator" "$RC $OUT"
else
	fail "bundle the schema is itself a valid JSON Schema (draft 2020-12)" "jsonschema is missing"
fi

# check_bundle NAME : the bundle in $OUT, printed by a command that exited
# $RC, validates against the schema, its bundleId is the SHA-256 of its
# canonical JSON without bundleId and meta.volatile, and meta.exitCode is the
# exit code.
check_bundle() {
	local name=$1 f=$TMP/bundle.json res
	printf '%s' "$OUT" >"$f"
	if [ "$have_jsonschema" = 1 ]; then
		res=$("$PY" -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
try:
    b = json.load(open(sys.argv[2]))
except Exception as e:
    print("not JSON: %s" % e); sys.exit(0)
errs = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(b), key=lambda e: list(e.path))
for e in errs[:5]:
    print("%s: %s" % ("/".join(str(p) for p in e.path) or "(top)", e.message[:300]))
if not errs:
    print("valid")' "$TMP/schema.json" "$f" 2>&1)
		check_eq "$name: validates against 'lanser schema bundle'" valid "$res"
	else
		fail "$name: validates against 'lanser schema bundle'" "jsonschema is missing"
	fi
	res=$("$PY" -c '
import hashlib, json, sys
try:
    b = json.load(open(sys.argv[1]))
    bid = b.pop("bundleId")
    b["meta"].pop("volatile", None)
except Exception as e:
    print("cannot read the bundle: %s: %s" % (type(e).__name__, e)); sys.exit(0)
canon = json.dumps(b, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
want = "sha256:" + hashlib.sha256(canon.encode("utf-8")).hexdigest()
print("match" if want == bid else "bundleId %s, recomputed %s" % (bid, want))' "$f" 2>&1)
	check_eq "$name: bundleId equals sha256 of the canonical JSON without bundleId and meta.volatile" \
		match "$res"
	check_json_eq "$name: meta.exitCode is the exit code ($RC)" .meta.exitCode "$RC"
}

run "$L" --json def src/main.c@L14:C2
check_bundle "bundle def (clangd)"
run "$L" --json def src/main.c@L19:C2
check_bundle "bundle def with an external fact (printf)"
run "$L" --json refs src/main.c@L14:C2
check_bundle "bundle refs (clangd)"
run "$L" --json refs --no-decl src/main.c@L14:C2
check_bundle "bundle refs --no-decl (clangd)"
run "$L" --json hover src/main.c@L23:C10
check_bundle "bundle hover (clangd, non-ASCII markdown)"
run "$L" --json symbols src/list.c
check_bundle "bundle symbols (clangd)"
run "$L" --json symbols --workspace list_
check_bundle "bundle workspace symbols (clangd)"
run "$L" --json diag
check_bundle "bundle diag of a clean workspace (clangd)"

ews=$(fixture cproj-errors) || fail "bundle: copy cproj-errors" "fixture failed"
(cd "$ews" && run "$L" --json diag bad.c && printf '%s' "$OUT") >"$TMP/diag.json"
OUT=$(cat "$TMP/diag.json")
RC=$(json .meta.exitCode)
check_json_eq "bundle diag with two errors has 2 facts" .facts# 2
check_bundle "bundle diag with errors (clangd)"

(cd "$pws" && run "$L" --json symbols shapes/circle.py && printf '%s\n%s' "$RC" "$OUT") >"$TMP/pysym"
RC=$(head -n1 "$TMP/pysym")
OUT=$(tail -n +2 "$TMP/pysym")
check_bundle "bundle symbols with containers (pyright)"

run "$L" --json def src/main.c@L0:C1
check_bundle "bundle error bundle: malformed selector (exit 2)"
run "$L" --json def src/main.c@L99:C1
check_bundle "bundle error bundle: line past the end of the file (exit 2)"
check_json_eq "bundle error bundle: status BAD_SELECTOR and no facts" \
	'[b["meta"]["status"], b["facts"]]' '["BAD_SELECTOR",[]]'
check_contains "bundle error bundle: meta.volatile.message explains the error" \
	"$(json .meta.volatile.message)" "past the end of the file"
run "$L" --json def nope.c@L1:C1
check_bundle "bundle error bundle: missing file (exit 3)"
run "$L" --json def /etc/passwd@L1:C1
check_bundle "bundle error bundle: path outside the workspace (exit 71)"
run "$L" --json def src/main.c@L12:C1
check_bundle "bundle error bundle: no definition found (exit 3)"

fws=$TMP/fake
mkdir -p "$fws" && git -C "$fws" init -q && echo "hello" >"$fws/a.fake"
printf '{"servers":{"fake":{"command":["%s","--mode","crash-on-request"],"fileTypes":{"*.fake":"fake"},"readiness":"none"}},"timeouts":{"initMs":3000}}\n' \
	"$FAKELS" >"$fws/.lanser.json"
"$L" --root "$fws" trust >/dev/null  # a configured server command runs only when trusted
(cd "$fws" && run "$L" --json --timeout 2000 def a.fake@L1:C1 && printf '%s\n%s' "$RC" "$OUT") >"$TMP/crash"
RC=$(head -n1 "$TMP/crash")
OUT=$(tail -n +2 "$TMP/crash")
check_eq "bundle error bundle: a crashing server exits 65" 65 "$RC"
check_bundle "bundle error bundle: server crash (exit 65)"

# Two error bundles for the same failure are as deterministic as answers.
run "$L" --json def src/main.c@L99:C1
e1=$(bundle_id)
run "$L" --json def src/main.c@L99:C1
check_eq "bundle the same error twice gives the same bundleId" "$e1" "$(bundle_id)"
(cd src && run "$L" --json def main.c@L99:C1 && bundle_id) >"$TMP/esub"
check_eq "bundle the same bad-position error from src/ gives the same bundleId" "$e1" "$(cat "$TMP/esub")"

# A missing file inside the workspace: the request is hashed like any other,
# so it must not carry the workspace's absolute path nor depend on the cwd.
run "$L" --json def "$ws/src/nope.c@L1:C1"
check_eq "bundle missing file given by absolute path exits 3" 3 "$RC"
check_not_contains "bundle missing-file error bundle: no absolute workspace path outside meta.volatile" \
	"$(json '{k: v for k, v in b.items() if k != "meta"}')" "$ws"
run "$L" --json def src/nope.c@L1:C1
n1=$(bundle_id)
(cd src && run "$L" --json def nope.c@L1:C1 && bundle_id) >"$TMP/nsub"
check_eq "bundle the same missing file asked from src/ gives the same bundleId" "$n1" "$(cat "$TMP/nsub")"

# A file name that is not UTF-8 cannot be held by a bundle: a clear error
# (and an error bundle), never an abort and never a silently missing target.
printf 'int x;\n' >"$ws/$(printf 'bad\377.c')"
for cmd in outline symbols; do
	run "$L" --no-daemon --json "$cmd" "$(printf 'bad\377.c')"
	check_eq "bundle $cmd of a non-UTF-8 file name is a usage error (129) with an error bundle" \
		"129 USAGE" "$RC $(json .meta.status)"
done
run "$L" --no-daemon --json diag "$(printf 'bad\377.c')"
check_eq "bundle diag of a non-UTF-8 file name is a usage error (129), not a silently empty answer" \
	"129 USAGE" "$RC $(json .meta.status)"
rm -f "$ws/$(printf 'bad\377.c')"
