#!/usr/bin/env bash
# TypeScript and JavaScript grammars (issue 12, item 12): `outline` on
# .ts, .tsx, .js and .jsx files and ts:// / js:// selectors, from
# tree-sitter alone (no server). tests/fixtures/tsgrammar holds one file
# of each kind with the constructs the outline knows (interfaces, type
# aliases, enums, classes with fields and methods, abstract members,
# namespaces, overloads, arrow functions, generators, JSX); tsrefs is the
# TypeScript project the server tests use.
. "$(dirname "$0")/lib.sh"
need_lanser

G=$(fixture tsgrammar) || { fail "tsgrammar: copy the fixture" "fixture failed"; exit 1; }
R=$(fixture tsrefs) || { fail "tsgrammar: copy tsrefs" "fixture failed"; exit 1; }
QK='[(f.get("container", "") + "." if f.get("container") else "") + f["name"] + ":" + f["symbolKind"] + ("" if f["definition"] else "(decl)") for f in b["facts"]]'

check_rc_as "outline of a .ts file" 0 "$L" --root "$G" --no-daemon --json outline src/shapes.ts
check_json_eq "outline .ts: every declaration, members under their container, no locals" "$QK" \
	'["Shape:interface","Shape.name:field","Shape.area:method(decl)","Pair:type","Color:enum","Color.Red:enumerator","Color.Green:enumerator","Circle:class","Circle.name:field","Circle.constructor:method","Circle.area:method","Base:class","Base.describe:method(decl)","Geometry:namespace","Geometry.unit:function","total:function(decl)","total:function","double:function","counter:variable"]'
check_json_eq "outline .ts: the pinned grammar versions are recorded" \
	'[p["name"] for p in b["environment"]["parsers"]]' \
	'["tree-sitter","tree-sitter-c","tree-sitter-python","tree-sitter-typescript","tree-sitter-javascript"]'
check_json_eq "outline .ts: the class's range and name" \
	'[f["range"] + f["selectionRange"] for f in b["facts"] if f["name"] == "Circle"][0]' '[15,8,23,2,15,14,15,20]'
if "$PY" -c "import jsonschema" 2>/dev/null; then
	"$L" schema bundle >"$TMP/bundle.schema.json"
	printf '%s' "$OUT" >"$TMP/outline.json"
	check_rc_as "outline .ts: the bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/outline.json')), json.load(open('$TMP/bundle.schema.json')))"
else
	skip "outline .ts: bundle schema validation" "python3 has no jsonschema module"
fi
check_rc_as "outline of a .tsx file" 0 "$L" --root "$G" --no-daemon --json outline src/view.tsx
check_json_eq "outline .tsx: JSX parses, the component and the class" "$QK" \
	'["CircleView:function","Panel:class","Panel.render:method"]'
check_rc_as "outline of a .js file" 0 "$L" --root "$G" --no-daemon --json outline web/app.js
check_json_eq "outline .js: class fields, methods, generators, function expressions" "$QK" \
	'["Counter:class","Counter.count:field","Counter.increment:method","ids:function","greet:function"]'
check_rc_as "outline of a .jsx file" 0 "$L" --root "$G" --no-daemon --json outline web/widget.jsx
check_json_eq "outline .jsx: the component" "$QK" '["Widget:function"]'
run "$L" --root "$G" --no-daemon outline src/shapes.ts
check_contains "outline .ts: human form" "$OUT" "method     Circle.area  src/shapes.ts:19:3"

# selectors
loc() { # NAME SELECTOR EXPECTED-[path,startLine]
	check_rc_as "$1: exit 0" 0 "$L" --root "$G" --no-daemon --json locate "$2"
	check_json_eq "$1: lands on its definition" '[b["resolution"]["path"], b["facts"][0]["range"][0]]' "$3"
}
loc "ts:// with a path" 'ts://src/shapes.ts#Circle.area' '["src/shapes.ts",19]'
loc "ts:// across the workspace" 'ts://#Geometry.unit' '["src/shapes.ts",30]'
loc "ts:// an enum member" 'ts://#Color.Green' '["src/shapes.ts",11]'
loc "ts:// an overloaded function: the implementation" 'ts://#total' '["src/shapes.ts",36]'
loc "ts:// reads .tsx files" 'ts://#Panel.render' '["src/view.tsx",8]'
loc "js:// a method" 'js://#Counter.increment' '["web/app.js",5]'
loc "js:// reads .jsx files" 'js://#Widget' '["web/widget.jsx",1]'
check_rc_as "js:// does not search TypeScript files" 3 "$L" --root "$G" --no-daemon locate 'js://#Circle'
check_rc_as "ts:// does not search JavaScript files" 3 "$L" --root "$G" --no-daemon locate 'ts://#Counter'

# the TypeScript project of the server tests
check_rc_as "tsrefs: outline" 0 "$L" --root "$R" --no-daemon --json outline src/lib.ts
check_json_eq "tsrefs: outline names the exported function" "$QK" '["add:function"]'
loc_r() {
	check_rc_as "$1: exit 0" 0 "$L" --root "$R" --no-daemon --json locate "$2"
	check_json_eq "$1: lands on its definition" '[b["resolution"]["path"], b["facts"][0]["range"][0]]' "$3"
}
loc_r "tsrefs: ts://#add" 'ts://#add' '["src/lib.ts",1]'

check_rc_as "doctor" 0 "$L" --root "$G" --json doctor
check_json_eq "doctor: the TypeScript, TSX and JavaScript grammars load" \
	'sorted(g["name"] for g in b["treeSitter"]["grammars"] if g["loads"])' '["c","javascript","python","tsx","typescript"]'
