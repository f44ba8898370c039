#!/usr/bin/env bash
# Selectors through the CLI: every form resolves on the C and Python
# fixtures (`lanser locate`), def/refs/hover take any selector against the
# real servers (clangd, pyright), bad selectors exit 2 with the column,
# ambiguity exits 4 with alternatives, and on tests/fixtures/unicode anchors
# and AST paths resolve to exact ranges in every --index-io. Positions come
# from tests/fixtures/README.md.
. "$(dirname "$0")/lib.sh"

c=$(fixture cproj) || { fail "selectors: copy cproj" "fixture failed"; exit 1; }
py=$(fixture pyproj) || { fail "selectors: copy pyproj" "fixture failed"; exit 1; }
uni=$(fixture unicode) || { fail "selectors: copy unicode" "fixture failed"; exit 1; }

# loc NAME WS SELECTOR EXPECTED-RANGE [ENC]
loc() {
	cd "$2" || return
	run "$L" --json --index-io "${5:-codepoint}" locate "$3"
	cd "$LANSER_REPO_ROOT" || return
	if [ "$RC" = 0 ]; then
		check_json_eq "$1: $3 -> $4" '[b["resolution"]["path"]] + b["facts"][0]["range"]' "$4"
	else
		fail "$1: $3 -> $4" "$(_rc_details 0)"
	fi
}

# ---- every form on C --------------------------------------------------------
loc "selectors C symbolic def" "$c" 'c://src/list.c#list_push' '["src/list.c",15,1,25,2]'
loc "selectors C symbolic without a file prefers the definition over the prototype" "$c" \
	'c://#list_push' '["src/list.c",15,1,25,2]'
loc "selectors C symbolic name role" "$c" 'c://#list_push:name' '["src/list.c",15,5,15,14]'
loc "selectors C symbolic in a header (prototype)" "$c" 'c://include/list.h#list_push:name' \
	'["include/list.h",21,5,21,14]'
loc "selectors C struct member" "$c" 'c://#list.head:name' '["include/list.h",13,15,13,19]'
loc "selectors C struct" "$c" 'c://#node:name' '["include/list.h",7,8,7,12]'
loc "selectors C body role" "$c" 'c://src/util.c#max_int:body' '["src/util.c",13,1,15,2]'
loc "selectors C sig role" "$c" 'c://src/list.c#list_len:sig' '["src/list.c",39,1,39,41]'
loc "selectors C doc role (comment above)" "$c" 'c://src/list.c#limits:doc' '["src/list.c",6,1,6,59]'
loc "selectors C static array" "$c" 'c://#limits:name' '["src/list.c",7,18,7,24]'
loc "selectors C macro" "$c" 'c://#ARRAY_LEN:name' '["src/util.h",5,9,5,18]'
loc "selectors C AST path" "$c" 'ast://src/list.c#function_definition[name=list_pop]/compound_statement' \
	'["src/list.c",28,1,37,2]'
loc "selectors C AST path [n]" "$c" 'ast://src/list.c#function_definition[3]' '["src/list.c",27,1,37,2]'
loc "selectors C anchor" "$c" 'anchor://src/list.c#"self->head = n;"' '["src/list.c",22,2,22,17]'
loc "selectors C anchor with line and ctx picks the one in the window" "$c" \
	'anchor://src/list.c#"return 0;"?line=36&ctx=2' '["src/list.c",36,2,36,11]'
loc "selectors C cursor" "$c" 'src/main.c@L14:C2' '["src/main.c",14,2,14,2]'
loc "selectors C range" "$c" 'src/main.c@R(14,2->14,11)' '["src/main.c",14,2,14,11]'

# ---- every form on Python -----------------------------------------------------
loc "selectors Python class" "$py" 'py://shapes.circle#Circle:name' '["shapes/circle.py",9,7,9,13]'
loc "selectors Python method" "$py" 'py://shapes.circle#Circle.scaled:name' '["shapes/circle.py",19,9,19,15]'
loc "selectors Python sig" "$py" 'py://shapes.circle#Circle.scaled:sig' '["shapes/circle.py",19,5,19,47]'
loc "selectors Python docstring" "$py" 'py://shapes.base#Shape.kind:doc' '["shapes/base.py",16,9,16,57]'
loc "selectors Python package __init__ and module-level variable" "$py" \
	'py://shapes.registry#REGISTRY:name' '["shapes/registry.py",9,1,9,9]'
loc "selectors Python without a module" "$py" 'py://#total_area:name' '["shapes/registry.py",26,5,26,15]'
loc "selectors Python AST path" "$py" \
	'ast://shapes/base.py#class_definition[name=Shape]/function_definition[name=describe]' \
	'["shapes/base.py",19,5,20,69]'
loc "selectors Python anchor" "$py" 'anchor://app.py#".scaled(3.0)"' '["app.py",10,36,10,48]'

cd "$py" || exit 1
check_rc_as "selectors Python py://#area is ambiguous (Shape.area and Circle.area): exit 4" 4 \
	"$L" --json locate 'py://#area'
check_json_eq "selectors ambiguity lists both alternatives with their features" \
	'[(k["label"], k["path"], k["features"]["s_ast"]) for k in b["resolution"]["candidates"]]' \
	'[["method Shape.area","shapes/base.py",0.5],["method Circle.area","shapes/circle.py",0.5]]'
check_rc_as "selectors Python ?overload=2 picks the second of the duplicates (file order)" 0 \
	"$L" --json locate 'py://#area?overload=2'
check_json_eq "selectors ?overload=2 resolves to Circle.area" .resolution.path shapes/circle.py
check_rc_as "selectors Python no such symbol: exit 3" 3 "$L" locate 'py://shapes.base#Shape.volume'
check_rc_as "selectors Python no such module: exit 3" 3 "$L" locate 'py://shapes.nope#Shape'
check_rc_as "selectors Python role the symbol lacks (no docstring): exit 3" 3 "$L" locate \
	'py://shapes.circle#Circle.area:doc'
check_rc_as "selectors anchor not in the file: exit 3" 3 "$L" locate 'anchor://app.py#"no such text at all here"'
check_rc_as "selectors fuzzy anchor (a reformatted snippet) still resolves" 0 "$L" --json locate \
	'anchor://shapes/circle.py#"return   Circle(self.name,self.radius*factor)"'
check_json_eq "selectors fuzzy anchor lands on the statement" '[b["resolution"]["candidates"][0]["via"]] + b["facts"][0]["range"]' \
	'["fuzzy",20,9,20,55]'
check_rc_as "selectors bad selector: exit 2" 2 "$L" locate 'py://shapes..x#A'
check_contains "selectors bad selector names the column" "$ERR" "selector:1:13: expected a module name"
check_rc_as "selectors ts:// of a file that is not there: exit 3 (t_tsgrammar resolves real ones)" 3 "$L" locate 'ts://a.ts#A'
check_rc_as "selectors anchor path outside the workspace: exit 71" 71 "$L" locate 'anchor://../x.py#"a"'
run "$L" --json locate 'c://#x'
check_json_eq "selectors C scheme in a Python-only workspace: not found" .meta.status NOT_FOUND
cd "$LANSER_REPO_ROOT" || exit 1

# ---- outline: symbols from tree-sitter alone -----------------------------------
cd "$c" || exit 1
run "$L" --json outline src/list.c
check_json_eq "selectors outline src/list.c: the six symbols with tree-sitter provenance" \
	'[(f["name"], f["symbolKind"], f["selectionRange"][:2], f["provenance"]) for f in b["facts"]]' \
	'[["limits","variable",[7,18],"tree-sitter"],["list_init","function",[9,6],"tree-sitter"],["list_push","function",[15,5],"tree-sitter"],["list_pop","function",[27,5],"tree-sitter"],["list_len","function",[39,8],"tree-sitter"],["list_free","function",[44,6],"tree-sitter"]]'
run "$L" outline include/list.h
check_contains "selectors outline marks prototypes as declarations" "$OUT" "function   list_push  include/list.h:21:5  (declaration)"
check_contains "selectors outline lists struct members with their container" "$OUT" "field      list.head  include/list.h:13:15"
check_rc_as "selectors outline of a file without a grammar: exit 72" 72 "$L" outline Makefile

# ---- def / refs / hover take any selector (real servers) ---------------------
run "$L" --no-daemon --json def 'anchor://src/main.c#"list_push(&numbers"?line=14&ctx=0'
check_eq "selectors clangd def from an anchor exits 0" 0 "$RC"
check_eq "selectors clangd def from an anchor: list_push's definition" "definition src/list.c 15:5-15:14" "$(facts_lines)"
check_json_eq "selectors clangd def records the anchor resolution" \
	'[b["request"]["target"]["kind"], b["resolution"]["method"], b["resolution"]["range"]]' \
	'["anchor","anchor",[14,2,14,20]]'
run "$L" --no-daemon refs 'c://#clamp_int:name'
check_eq "selectors clangd refs from a symbolic selector" "src/list.c:20:13
src/main.c:23:10
src/util.c:3:5
src/util.h:8:5
tests/test_list.c:30:8" "$OUT"
run "$L" --no-daemon --json def 'c://#list_push'
check_json_eq "selectors clangd def from c://#list_push asks at the definition's name" \
	'[b["resolution"]["path"], b["resolution"]["point"], b["meta"]["status"]]' '["src/list.c",[15,5],"OK"]'
check_json_eq "selectors clangd cross-checks the symbolic answer with its document symbols" \
	.resolution.crossCheck '{"agrees":true,"method":"textDocument/documentSymbol","server":"clangd"}'
# def of a definition is that definition: clangd answers the prototype when
# asked at a definition (its editor toggle); lanser asks again from there
run "$L" --no-daemon def 'c://#list_push'
check_eq "selectors clangd def of a function names its definition, not the header's prototype" \
	"src/list.c:15:5" "$OUT"
run "$L" --no-daemon def 'src/list.c@L15:C5'
check_eq "selectors clangd def at a definition's name is that definition" "src/list.c:15:5" "$OUT"
run "$L" --no-daemon def 'include/list.h@L21:C5'
check_eq "selectors clangd def at a prototype is the definition" "src/list.c:15:5" "$OUT"
check_rc_as "selectors clangd def of an ambiguous AST path: exit 4" 4 "$L" --no-daemon def 'ast://src/list.c#function_definition'
cd "$LANSER_REPO_ROOT" || exit 1
cd "$py" || exit 1
run "$L" --no-daemon hover 'py://shapes.circle#Circle.scaled'
check_contains "selectors pyright hover from py://shapes.circle#Circle.scaled" "$OUT" "(method) def scaled("
run "$L" --no-daemon --json hover 'py://shapes.circle#Circle.scaled'
check_json_eq "selectors pyright cross-checks the symbolic answer with its document symbols" \
	.resolution.crossCheck '{"agrees":true,"method":"textDocument/documentSymbol","server":"pyright"}'
run "$L" --no-daemon --json def 'ast://app.py#function_definition[name=main]'
check_eq "selectors pyright def from an AST path: main's own definition" "definition app.py 6:5-6:9" "$(facts_lines)"
cd "$LANSER_REPO_ROOT" || exit 1

# ---- non-ASCII sources: exact ranges in every --index-io ----------------------
# pick ENC CP U16 U8
pick() { case $1 in codepoint) echo "$2" ;; utf-16) echo "$3" ;; utf-8) echo "$4" ;; esac; }
for e in codepoint utf-16 utf-8; do
	loc "selectors unicode anchor after an emoji ($e)" "$uni" 'anchor://uni.py#"target_name = 1"' \
		"[\"uni.py\",7,$(pick $e 10 11 13),7,$(pick $e 25 26 28)]" "$e"
	loc "selectors unicode anchor after e+U+0301 ($e)" "$uni" 'anchor://uni.c#"shout(label)"' \
		"[\"uni.c\",19,$(pick $e 41 41 42),19,$(pick $e 53 53 54)]" "$e"
	loc "selectors unicode percent-encoded CJK anchor ($e)" "$uni" \
		'anchor://uni.py#"shout(%E5%90%8D%E5%89%8D)"' \
		"[\"uni.py\",15,$(pick $e 20 21 23),15,$(pick $e 29 30 36)]" "$e"
	loc "selectors unicode AST path to a CJK identifier ($e)" "$uni" \
		'ast://uni.py#expression_statement[3]/assignment/identifier' \
		"[\"uni.py\",6,1,6,$(pick $e 3 3 7)]" "$e"
	loc "selectors unicode AST path to a declarator after an emoji ($e)" "$uni" \
		'ast://uni.c#declaration[4]/init_declarator/identifier' \
		"[\"uni.c\",9,$(pick $e 43 44 46),9,$(pick $e 54 55 57)]" "$e"
	loc "selectors unicode symbolic name after an emoji ($e)" "$uni" 'c://uni.c#target_name:name' \
		"[\"uni.c\",9,$(pick $e 43 44 46),9,$(pick $e 54 55 57)]" "$e"
done

# ---- issue 12, item 13 ---------------------------------------------------------
loc "selectors Python a method name unique in the project (partial qualname) is not ambiguous" \
	"$py" 'py://#scaled:name' '["shapes/circle.py",19,9,19,15]'
# paths lanser prints are workspace-relative: given back from a subfolder
cd "$c/src" || exit 1
check_rc_as "selectors a workspace-relative path given back from a subfolder resolves" 0 \
	"$L" --json locate src/list.c@L15:C5
check_json_eq "selectors ... to the file it names" '[b["resolution"]["path"]] + b["facts"][0]["range"]' \
	'["src/list.c",15,5,15,5]'
cd "$LANSER_REPO_ROOT" || exit 1
# locate in batch; blank lines are not requests
printf '{"command": "locate", "args": ["c://#list_push"]}\n\n   \n{"command": "locate", "args": ["c://#no_such_thing"]}\n\n' >"$TMP/loc.jsonl"
cd "$c" || exit 1
check_rc_as "selectors batch accepts locate" 0 "$L" --no-daemon batch --in "$TMP/loc.jsonl" --out "$TMP/loc.out"
cd "$LANSER_REPO_ROOT" || exit 1
check_eq "selectors batch: locate answers, exit codes in order" "locate 0
locate 3" "$("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    b = json.loads(l); print(b["request"]["command"], b["meta"]["exitCode"])' "$TMP/loc.out")"
check_contains "selectors batch counts requests, not blank lines" "$ERR" "batch: 2 requests, 1 failed"
# locate and outline bundles validate against the published schema
"$L" schema bundle >"$TMP/bundle.schema.json"
for q in "locate c://#list_push" "outline src/list.c" "locate py://shapes.circle#Circle.scaled:sig"; do
	case $q in *py://*) cd "$py" ;; *) cd "$c" ;; esac
	run "$L" --no-daemon --json $q
	printf '%s' "$OUT" >"$TMP/q.json"
	cd "$LANSER_REPO_ROOT" || exit 1
	check_rc_as "selectors the '$q' bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/q.json')), json.load(open('$TMP/bundle.schema.json')))"
done
