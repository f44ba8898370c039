#!/usr/bin/env bash
# The commands the tool layer added for models (issues 15, 17): read,
# search and edit by selector, on the command line and as batch lines;
# their jail and bounds against hostile input; their schemas.
# (The tool layer itself, agent/tools.c, is unit-tested in
# tests/unit/test_tools.c; the agent and lanser mcp drive it end to end.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

# Each fixture is its own workspace root (an empty .lanser.json), whatever a
# folder above it holds.
C=$(fixture cproj); echo '{}' >"$C/.lanser.json"; git_commit_all "$C"
P=$(fixture pyproj); echo '{}' >"$P/.lanser.json"; git_commit_all "$P"
"$L" schema bundle >"$TMP/bundle.schema.json"
# validate NAME FILE : FILE (one bundle) satisfies the bundle schema
validate() {
	if "$PY" -c "
import json, jsonschema, sys
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))" \
		"$2" "$TMP/bundle.schema.json" 2>"$TMP/verr"; then ok "$1"
	else fail "$1" "$(tail -3 "$TMP/verr")"; fi
}
cd "$C" || exit 1

# ---- read ----
run "$L" read src/list.c --lines 9-13
rc_is "read: a line range of a file" 0
check_eq "read: ... numbered, exactly those lines" \
	"$(printf '     9  void list_init(struct list *self)\n    10  {\n    11  \tself->head = NULL;\n    12  \tself->len = 0;\n    13  }')" "$OUT"
run "$L" read 'c://#list_push:body'
rc_is "read: a selector (a function body)" 0
check_contains "read: ... starts at the body's first line" "$(head -1 <<<"$OUT")" "    16  {"
check_contains "read: ... ends at its last" "$(tail -1 <<<"$OUT")" "    25  }"
run "$L" --json read src/list.c --lines 40-
printf '%s\n' "$OUT" >"$TMP/read.json"
check_json_eq "read --json: a lines fact, from line 40" '[b["facts"][0]["kind"], b["facts"][0]["firstLine"], b["facts"][0]["totalLines"]]' \
	"[\"lines\",40,$(($(wc -l <src/list.c) + 1))]"
validate "read --json: the bundle satisfies the bundle schema" "$TMP/read.json"
run "$L" read src/list.c --lines 500
rc_is "read: --lines past the end is a bad position (2)" 2
run "$L" read src/list.c --lines 5-3
rc_is "read: --lines backwards is a usage error" 129
run "$L" read 'c://#list_push:body' --lines 1-2
rc_is "read: --lines with a selector is a usage error" 129
# a long file is cut, and says how to read on
"$PY" -c "print('\n'.join('x%d = %d' % (i, i) for i in range(5000)))" >long.py
run "$L" --json read long.py
check_json_eq "read: a long file is cut at 2000 lines" '.facts.0.lastLine' 2000
check_json_eq "read: ... marked incomplete" '.complete' false
check_contains "read: ... the reason names the lines that read on" "$(json .incomplete.0)" "--lines 2001-5000"
"$PY" -c "print('y' * 200000)" >wide.txt
run "$L" --json read wide.txt
check_contains "read: a single huge line is cut, and says so" "$(json .incomplete.0)" "line 1 is cut after 65536"
rm -f long.py wide.txt

# hostile reads: outside the workspace, .git, symlinks out, binary
run "$L" read ../pyproj/app.py
rc_is "read: a path outside the workspace is refused (71)" 71
run "$L" read /etc/passwd
rc_is "read: an absolute path outside is refused (71)" 71
run "$L" read .git/config
rc_is "read: .git is refused (71)" 71
run "$L" read '.git/HEAD@L1:C1'
rc_is "read: a selector into .git is refused (71)" 71
ln -s /etc/passwd escape.txt
run "$L" read escape.txt
rc_is "read: a symlink out of the workspace is refused (71)" 71
rm escape.txt
printf 'ab\0cd\n' >blob.bin
run "$L" read blob.bin
rc_is "read: a binary file is refused (77)" 77

# ---- search ----
run "$L" search 'list_(push|pop)\('
rc_is "search: a regex over the workspace" 0
check_contains "search: ... file:line:col: line" "$OUT" "src/list.c:15:5: int list_push(struct list *self, int value)"
check_contains "search: ... in the header too" "$OUT" "include/list.h:"
check_not_contains "search: ... binary files are skipped" "$OUT" "blob.bin"
run "$L" search 'list_' --glob '*.h'
check_not_contains "search: --glob on the file name" "$OUT" "src/list.c"
check_contains "search: ... keeps what matches" "$OUT" "include/list.h"
run "$L" search 'list_' --glob 'src/*'
check_not_contains "search: --glob with a / on the path" "$OUT" "include/"
echo 'list_ignored();' >ignored.c; echo 'ignored.c' >.gitignore
run "$L" search 'list_ignored'
check_eq "search: .gitignore'd files are not searched" "" "$OUT"
rm -f ignored.c .gitignore
run "$L" --json search 'self' --max 3
printf '%s\n' "$OUT" >"$TMP/search.json"
check_json_eq "search --max: at most N matches" '.facts#' 3
check_json_eq "search --max: ... marked incomplete" '.complete' false
check_json_eq "search: a match fact's range is the match" '.facts.0.kind' match
validate "search --json: the bundle satisfies the bundle schema" "$TMP/search.json"
run "$L" search "$("$PY" -c "print('a' * 5000)")"
rc_is "search: a huge regex is refused (129)" 129
run "$L" search '(a{200}){200}{200}'
rc_is "search: too many repetitions are refused (129)" 129
run "$L" search 'a{1000}'
rc_is "search: a huge repetition count is refused (129)" 129
run "$L" search 'x' --glob '*a*a*a*a*a*a*a*a*a*a*b'
rc_is "search: a --glob with too many '*' is refused (129)" 129
run "$L" search '(x)\1'
rc_is "search: back references are refused (129)" 129
run "$L" search '('
rc_is "search: a malformed regex is a usage error" 129
check_contains "search: ... with regcomp's reason" "$ERR" "bad regular expression"
rm -f blob.bin

# ---- edit ----
snapshot "$C" >"$TMP/before"
run "$L" edit 'c://#list_len:body' --text '{
	return self->len + 0;
}'
rc_is "edit: a preview exits 0" 0
check_contains "edit: ... is a diff of the body" "$OUT" "+	return self->len + 0;"
snapshot "$C" >"$TMP/now"
cmp -s "$TMP/before" "$TMP/now" && ok "edit: a preview writes nothing" || fail "edit: a preview writes nothing"
run "$L" --json edit 'c://#list_len:body' --text '{ return self->len; }'
printf '%s\n' "$OUT" >"$TMP/edit.json"
check_json_eq "edit --json: the decision is preview" '.edit.decision' preview
validate "edit --json: the bundle satisfies the bundle schema" "$TMP/edit.json"
# the selector survives line drift: lines added above the function
{ printf '/* one */\n/* two */\n/* three */\n'; cat src/list.c; } >src/list.c.new && mv src/list.c.new src/list.c
git -C "$C" -c user.email=t@lanser -c user.name=t commit -qam drift
run "$L" edit 'c://#list_len:body' --text '{
	return self->len;	/* counted */
}' --apply
rc_is "edit --apply: written" 0
check_contains "edit --apply: ... in the function, after the drift" "$(sed -n '/^size_t list_len/,/^}/p' src/list.c)" "/* counted */"
check_eq "edit --apply: ... nothing else changed" "1" "$(git diff --numstat | awk '{print $2}')"
git -C "$C" -c user.email=t@lanser -c user.name=t commit -qam counted
# a breaking edit, verified by the diagnostics: rolled back
snapshot "$C" >"$TMP/before"
run "$L" edit 'c://#list_len:body' --text '{ return no_such_variable; }' --apply --verify
if [ "$RC" = 79 ]; then
	skip "edit --verify rolls back a breaking edit" "no C language server (exit 79)"
else
	rc_is "edit --apply --verify: a new error rolls back (82)" 82
	snapshot "$C" >"$TMP/now"
	cmp -s "$TMP/before" "$TMP/now" && ok "edit --verify: ... the tree is as before" ||
		fail "edit --verify: ... the tree is as before" "$(diff "$TMP/before" "$TMP/now")"
fi
run "$L" edit src/list.c --text 'x'
rc_is "edit: a file name instead of a selector is refused (2)" 2
run "$L" edit 'c://#no_such_function:body' --text 'x'
rc_is "edit: a selector that resolves nowhere changes nothing (3)" 3
run "$L" edit 'c://#list_len:body'
rc_is "edit: without --text or --with is a usage error" 129
head -c 10000000 /dev/zero | tr '\0' a >"$TMP/big.txt"
run "$L" edit 'c://#list_len:body' --with "$TMP/big.txt"
rc_is "edit: a 10 MB new text is refused (77)" 77
printf 'bad \377 byte' >"$TMP/bad.txt"
run "$L" edit 'c://#list_len:body' --with "$TMP/bad.txt"
rc_is "edit: new text that is not UTF-8 is refused (77)" 77
run "$L" edit '.git/HEAD@R(1,1->1,2)' --text 'x' --apply
rc_is "edit: a selector into .git is refused (71)" 71
snapshot "$C" >"$TMP/now"
cmp -s "$TMP/before" "$TMP/now" && ok "edit: refused edits wrote nothing" || fail "edit: refused edits wrote nothing"

# whole lines, as `read` shows them and a model sends them back: a Python
# body starts after its indentation and ends before its newline, and new
# text with that indentation and a final newline is not indented twice nor
# followed by a new blank line
cd "$P" || exit 1
run "$L" read 'py://shapes.circle#Circle.area:body'
check_contains "edit (Python): read shows the body's whole lines" "$OUT" "    17          return math.pi"
run "$L" edit 'py://shapes.circle#Circle.area:body' --text '        return 0.0
' --apply
rc_is "edit (Python): whole lines with their indentation are written" 0
check_eq "edit (Python): ... indented once, no blank line added" \
	"    def area(self) -> float:|        return 0.0||    def scaled(self, factor: float) -> Circle:" \
	"$(sed -n '16,19p' shapes/circle.py | tr '\n' '|' | sed 's/|$//')"
git checkout -q -- shapes/circle.py
run "$L" edit 'py://shapes.circle#Circle.area:body' --text 'return 0.0' --apply
check_eq "edit (Python): the bare range's text gives the same lines" \
	"    def area(self) -> float:|        return 0.0||    def scaled(self, factor: float) -> Circle:" \
	"$(sed -n '16,19p' shapes/circle.py | tr '\n' '|' | sed 's/|$//')"
git checkout -q -- shapes/circle.py
cd "$C" || exit 1

# patch --diff: the diff itself (a model names no file): a new file
git -C "$C" status --porcelain | grep -q . && git -C "$C" checkout -q .
D=$(printf 'diff --git a/src/new.c b/src/new.c\nnew file mode 100644\n--- /dev/null\n+++ b/src/new.c\n@@ -0,0 +1 @@\n+int fresh(void) { return 1; }\n')
run "$L" patch --diff "$D"
rc_is "patch --diff: a preview" 0
check_contains "patch --diff: ... the new file's line" "$OUT" "+int fresh(void) { return 1; }"
[ ! -e src/new.c ] && ok "patch --diff: ... nothing written" || fail "patch --diff: ... nothing written"
run "$L" patch --diff "$D" --apply
rc_is "patch --diff --apply: written" 0
check_eq "patch --diff --apply: ... the file" "int fresh(void) { return 1; }" "$(cat src/new.c 2>&1)"
git -C "$C" -c user.email=t@lanser -c user.name=t add -A >/dev/null
git -C "$C" -c user.email=t@lanser -c user.name=t commit -qm fresh
run "$L" patch src/x.diff --diff "$D"
rc_is "patch: a file and --diff is a usage error" 129

# ---- batch lines ----
{
	echo '{"id": 1, "command": "read", "args": ["src/list.c"], "options": {"lines": "1-3"}}'
	echo '{"id": 2, "command": "search", "args": ["list_push"], "options": {"glob": "*.c", "max": 2}}'
	echo '{"id": 3, "command": "edit", "args": ["c://#list_len:body"], "options": {"text": "{ return 0; }"}}'
	echo '{"id": 4, "command": "read", "args": ["../pyproj/app.py"]}'
	echo '{"id": 5, "command": "search", "args": ["x"], "options": {"max": "many"}}'
	echo '{"id": 6, "command": "search", "args": ["->next"], "options": {"glob": "*.c"}}'
} >"$TMP/req.jsonl"
"$PY" -c "import json; print(json.dumps({'id': 7, 'command': 'edit', 'args': ['c://#list_len:body'], 'options': {'text': 'a' * 10000000}}))" >>"$TMP/req.jsonl"
snapshot "$C" >"$TMP/before"
run "$L" --no-daemon batch --in "$TMP/req.jsonl" --out "$TMP/out.jsonl"
rc_is "batch: read, search and edit lines" 0
n=$(wc -l <"$TMP/out.jsonl")
check_eq "batch: one bundle per line" 7 "$n"
line() { sed -n "$1p" "$TMP/out.jsonl"; }
check_json_eq "batch: read line" '[b["meta"]["exitCode"], b["facts"][0]["lastLine"]]' '[0,3]' "$(line 1)"
check_json_eq "batch: search line" '[b["meta"]["exitCode"], len(b["facts"])]' '[0,2]' "$(line 2)"
check_json_eq "batch: edit line previews" '[b["meta"]["exitCode"], b["edit"]["decision"]]' '[0,"preview"]' "$(line 3)"
check_json_eq "batch: a read outside the workspace is refused (71)" '.meta.exitCode' 71 "$(line 4)"
check_json_eq "batch: a wrong type is a usage error" '.meta.exitCode' 129 "$(line 5)"
check_json_eq "batch: an argument that starts with - is an argument, not an option" \
	'[b["meta"]["exitCode"], b["facts"][0]["text"]]' '[0,"\tn->next = self->head;"]' "$(line 6)"
check_json_eq "batch: a 10 MB --text line is refused, not run" '.meta.exitCode' 77 "$(line 7)"
snapshot "$C" >"$TMP/now"
cmp -s "$TMP/before" "$TMP/now" && ok "batch: the edit line wrote nothing" || fail "batch: the edit line wrote nothing"
# through the daemon: the same answers
run "$L" batch --in "$TMP/req.jsonl" --out "$TMP/out2.jsonl"
check_eq "batch (daemon): the same bundles" "$(jq -c '.bundleId' "$TMP/out.jsonl" 2>/dev/null || "$PY" -c "
import json,sys
for l in open(sys.argv[1]): print(json.loads(l)['bundleId'])" "$TMP/out.jsonl")" \
	"$(jq -c '.bundleId' "$TMP/out2.jsonl" 2>/dev/null || "$PY" -c "
import json,sys
for l in open(sys.argv[1]): print(json.loads(l)['bundleId'])" "$TMP/out2.jsonl")"
"$L" daemon stop >/dev/null 2>&1

# ---- Python ----
cd "$P" || exit 1
run "$L" read 'py://shapes.circle#Circle.area:body'
rc_is "read: a Python method body" 0
check_contains "read: ... its line" "$OUT" "return math.pi * self.radius ** 2"
run "$L" edit 'py://shapes.circle#Circle.area:body' --text 'return 3.0 * self.radius ** 2'
rc_is "edit: a Python body, preview" 0
check_contains "edit: ... the diff" "$OUT" "+        return 3.0 * self.radius ** 2"
run "$L" search '^class ' --glob '*.py'
check_contains "search: Python classes" "$OUT" "shapes/circle.py:9:1: class Circle(Shape):"

# ---- schemas ----
for cmd in read search edit; do
	"$L" schema command "$cmd" >"$TMP/$cmd.schema.json"
	if "$PY" -c "
import json, jsonschema, sys
s = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(s)
ok = {'read': {'args': ['src/a.c'], 'lines': '1-5'},
      'search': {'args': ['x+'], 'glob': '*.c', 'max': 5},
      'edit': {'args': ['c://#f:body'], 'text': '{}', 'apply': True}}[sys.argv[2]]
jsonschema.validate(ok, s)
bad = dict(ok, bogus=1)
try:
    jsonschema.validate(bad, s)
    sys.exit('an unknown member passed')
except jsonschema.ValidationError:
    pass" "$TMP/$cmd.schema.json" "$cmd" 2>"$TMP/serr"; then
		ok "schema command $cmd: a valid schema that takes its arguments and no others"
	else
		fail "schema command $cmd: a valid schema that takes its arguments and no others" "$(tail -3 "$TMP/serr")"
	fi
done
