#!/usr/bin/env bash
# Relocation suite: selectors written against a commit are resolved with
# `lanser locate SEL --at HEAD` after real edits of the working tree (insert
# lines above, reformat, rename a neighbour, move a function, duplicate a
# function, delete the target), on the C and Python fixtures. Each case
# expects the right place (computed here from the edited text, never
# hard-coded), AMBIGUOUS (exit 4) or NOT_FOUND (exit 3). The suite prints
# the accuracy it measures: "relocation accuracy: N/M".
. "$(dirname "$0")/lib.sh"

total=0
right=0

# expect FILE SPEC : the range [l,c,l,c] (codepoints, 1-based, end exclusive)
# that SPEC names in FILE. SPEC is JSON: find (text where the place starts),
# nth (1-based occurrence of find, default 1), from (start at the first
# occurrence of this text after find), skip (bytes added to the start),
# len (bytes) or until (end after the first occurrence of this text after
# the start).
expect() {
	"$PY" - "$1" "$2" <<'EOF'
import json, sys
text = open(sys.argv[1], encoding="utf-8").read()
spec = json.loads(sys.argv[2])
pos = -1
for _ in range(spec.get("nth", 1)):
    pos = text.index(spec["find"], pos + 1)
if "from" in spec:
    pos = text.index(spec["from"], pos)
start = pos + spec.get("skip", 0)
if "until" in spec:
    end = text.index(spec["until"], start) + len(spec["until"])
else:
    end = start + spec.get("len", 0)
def lc(off):
    line = text.count("\n", 0, off) + 1
    col = off - (text.rfind("\n", 0, off) + 1) + 1
    return [line, col]
print(json.dumps(lc(start) + lc(end), separators=(",", ":")))
EOF
}

# case NAME WS SELECTOR WANT [SPEC] : WANT is "place" (SPEC required),
# "ambiguous" or "notfound".
case_() {
	local name=$1 ws=$2 sel=$3 want=$4 spec=${5-}
	local got wantr
	total=$((total + 1))
	# cursor and range paths are relative to the current directory
	cd "$ws" || return
	run "$L" --json locate "$sel" --at HEAD
	cd "$LANSER_REPO_ROOT" || return
	case $want in
	place)
		wantr=$(expect "$ws/$FILE" "$spec")
		got=$(json .resolution.range)
		if [ "$RC" = 0 ] && [ "$got" = "$wantr" ]; then
			right=$((right + 1)); ok "$name: $sel -> $wantr"
		else
			fail "$name: $sel -> $wantr" "exit $RC, range $got"$'\n'"$ERR"$'\n'"$(json .resolution.candidates)"
		fi ;;
	ambiguous)
		if [ "$RC" = 4 ] && [ "$(json '[len(b["resolution"]["candidates"]) >= 2, b["meta"]["status"]]')" = '[true,"AMBIGUOUS"]' ]; then
			right=$((right + 1)); ok "$name: $sel is ambiguous (exit 4, alternatives listed)"
		else
			fail "$name: $sel is ambiguous (exit 4, alternatives listed)" "exit $RC: $(json .resolution 2>&1 | head -c 600)"
		fi ;;
	notfound)
		if [ "$RC" = 3 ]; then
			right=$((right + 1)); ok "$name: $sel is not found (exit 3)"
		else
			fail "$name: $sel is not found (exit 3)" "exit $RC: $(json .resolution.candidates 2>&1 | head -c 600)"
		fi ;;
	esac
}

# scenario FIXTURE EDIT-NAME PYTHON-EDIT : a fresh copy, committed, then
# edited in the working tree; prints the copy's path.
scenario() {
	local ws
	ws=$(fixture "$1" "$1-$2") || return 1
	git -C "$ws" add -A >/dev/null && git -C "$ws" -c user.email=t@t -c user.name=t commit -qm base || return 1
	(cd "$ws" && "$PY" -c "$3") || return 1
	printf '%s\n' "$ws"
}

# ---- C: tests/fixtures/cproj/src/list.c ------------------------------------
FILE=src/list.c
S1='src/list.c@L15:C5'                     # the name of list_push
S2='src/list.c@R(20,2->20,72)'             # a statement inside list_push
S3='c://src/list.c#list_pop'               # a whole definition
S4='anchor://src/list.c#"self->len--;"?line=34&ctx=2'
S5='ast://src/list.c#function_definition[name=list_len]/compound_statement'
P1='{"find":"int list_push(","skip":4}'
P2='{"find":"n->value = clamp_int(value, limits[0], limits[ARRAY_LEN(limits) - 1]);","len":70}'
P3='{"find":"int list_pop(","until":"\n}"}'
P4='{"find":"self->len--;","len":12}'
P5='{"find":"size_t list_len(","from":"{","until":"\n}"}'

c_all_place() { # EDIT WS
	case_ "relocate C $1" "$2" "$S1" place "$P1"
	case_ "relocate C $1" "$2" "$S2" place "$P2"
	case_ "relocate C $1" "$2" "$S3" place "$P3"
	case_ "relocate C $1" "$2" "$S4" place "$P4"
	case_ "relocate C $1" "$2" "$S5" place "$P5"
}

ws=$(scenario cproj insert "
s = open('src/list.c').read()
s = s.replace('#include <stdlib.h>\n', '#include <stdlib.h>\n#include <string.h>\n\n/* three lines were inserted above */\n', 1)
open('src/list.c', 'w').write(s)") && c_all_place "insert lines above" "$ws"

ws=$(scenario cproj reformat "
s = open('src/list.c').read()
s = s.replace('\t', '    ').replace(')\n{', ') {').replace('if (!n)\n        return -1;', 'if (!n) return -1;')
open('src/list.c', 'w').write(s)") && c_all_place "reformat" "$ws"

ws=$(scenario cproj rename "
s = open('src/list.c').read()
s = s.replace('list_init', 'list_setup').replace('list_free', 'list_clear')
open('src/list.c', 'w').write(s)") && c_all_place "rename a neighbour" "$ws"

ws=$(scenario cproj move "
s = open('src/list.c').read()
a = s.index('int list_push('); b = s.index('\n}\n', a) + 3
fn = s[a:b]; s = s[:a] + s[b + 1:] + '\n' + fn
open('src/list.c', 'w').write(s)") && c_all_place "move a function to the end" "$ws"

ws=$(scenario cproj duplicate "
s = open('src/list.c').read()
a = s.index('int list_push('); b = s.index('\n}\n', a) + 3
s = s[:b] + '\n' + s[a:b] + s[b:]
open('src/list.c', 'w').write(s)") && {
	case_ "relocate C duplicate a function" "$ws" "$S1" ambiguous
	case_ "relocate C duplicate a function" "$ws" "$S2" ambiguous
	case_ "relocate C duplicate a function" "$ws" "$S3" place "$P3"
	case_ "relocate C duplicate a function" "$ws" "$S4" place "$P4"
	case_ "relocate C duplicate a function" "$ws" "$S5" place "$P5"
}

ws=$(scenario cproj delete "
s = open('src/list.c').read()
a = s.index('int list_push('); b = s.index('\n}\n', a) + 3
s = s[:a] + s[b + 1:]
open('src/list.c', 'w').write(s)") && {
	case_ "relocate C delete the target" "$ws" "$S1" notfound
	case_ "relocate C delete the target" "$ws" "$S2" notfound
	case_ "relocate C delete the target" "$ws" "$S3" place "$P3"
	case_ "relocate C delete the target" "$ws" "$S4" place "$P4"
	case_ "relocate C delete the target" "$ws" "$S5" place "$P5"
}

# ---- Python: tests/fixtures/pyproj/shapes/base.py --------------------------
FILE=shapes/base.py
Q1='shapes/base.py@L10:C9'                  # the name of Shape.area
Q2='shapes/base.py@R(17,9->17,36)'          # the statement of Shape.kind
Q3='py://shapes.base#Shape.describe'
Q4='anchor://shapes/base.py#"raise NotImplementedError"?line=12'
Q5='ast://shapes/base.py#class_definition[name=Shape]/function_definition[name=kind]'
R1='{"find":"def area(","skip":4}'
R2='{"find":"return cls.__name__.lower()","len":27}'
R3='{"find":"def describe(","until":"self.area())"}'
R4='{"find":"raise NotImplementedError","len":25}'
R5='{"find":"def kind(","until":"lower()"}'

py_all_place() {
	case_ "relocate Python $1" "$2" "$Q1" place "$R1"
	case_ "relocate Python $1" "$2" "$Q2" place "$R2"
	case_ "relocate Python $1" "$2" "$Q3" place "$R3"
	case_ "relocate Python $1" "$2" "$Q4" place "$R4"
	case_ "relocate Python $1" "$2" "$Q5" place "$R5"
}

ws=$(scenario pyproj insert "
s = open('shapes/base.py').read()
s = s.replace('\n\n\nclass', '\n\nimport abc\nimport sys\n\n\nclass', 1)
open('shapes/base.py', 'w').write(s)") && py_all_place "insert lines above" "$ws"

ws=$(scenario pyproj reformat "
s = open('shapes/base.py').read()
s = s.replace('    ', '  ').replace('-> float:', ' -> float :').replace('(self) -> str:', '(self)->str:')
open('shapes/base.py', 'w').write(s)") && py_all_place "reformat" "$ws"

ws=$(scenario pyproj rename "
s = open('shapes/base.py').read()
s = s.replace('def __init__(self, name: str) -> None:\n        self.name = name', 'def __init__(self, title: str) -> None:\n        self.name = title')
open('shapes/base.py', 'w').write(s)") && py_all_place "rename a neighbour" "$ws"

ws=$(scenario pyproj move "
s = open('shapes/base.py').read()
a = s.index('    def area('); b = s.index('    @classmethod')
fn = s[a:b]; s = s[:a] + s[b:].rstrip('\n') + '\n\n' + fn.rstrip('\n') + '\n'
open('shapes/base.py', 'w').write(s)") && py_all_place "move a method to the end" "$ws"

ws=$(scenario pyproj duplicate "
s = open('shapes/base.py').read()
a = s.index('    def area('); b = s.index('    @classmethod')
s = s[:b] + s[a:b] + s[b:]
open('shapes/base.py', 'w').write(s)") && {
	case_ "relocate Python duplicate a method" "$ws" "$Q1" ambiguous
	case_ "relocate Python duplicate a method" "$ws" "$Q2" place "$R2"
	case_ "relocate Python duplicate a method" "$ws" "$Q3" place "$R3"
	case_ "relocate Python duplicate a method" "$ws" "$Q4" ambiguous
	case_ "relocate Python duplicate a method" "$ws" "$Q5" place "$R5"
}

ws=$(scenario pyproj delete "
s = open('shapes/base.py').read()
a = s.index('    def area('); b = s.index('    @classmethod')
s = s[:a] + s[b:]
open('shapes/base.py', 'w').write(s)") && {
	case_ "relocate Python delete the target" "$ws" "$Q1" notfound
	case_ "relocate Python delete the target" "$ws" "$Q2" place "$R2"
	case_ "relocate Python delete the target" "$ws" "$Q3" place "$R3"
	case_ "relocate Python delete the target" "$ws" "$Q4" notfound
	case_ "relocate Python delete the target" "$ws" "$Q5" place "$R5"
}

# ---- what the bundle records ---------------------------------------------------
ws=$(scenario cproj bundle "
s = open('src/list.c').read()
open('src/list.c', 'w').write('/* one */\n/* two */\n' + s)")
cd "$ws" || exit 1
run "$L" --json locate "$S1" --at HEAD
check_json_eq "relocate bundle records the origin, the resolved range, score, features, weights and tau" \
	'[b["resolution"]["origin"]["range"], b["resolution"]["range"], b["resolution"]["method"], sorted(b["resolution"]["candidates"][0]["features"]), b["resolution"]["weights"], b["resolution"]["tau"], b["request"]["at"] == __import__("subprocess").check_output(["git", "-C", "'"$ws"'", "rev-parse", "HEAD"], text=True).strip()]' \
	'[[15,5,15,5],[17,5,17,5],"relocate",["J_token","s_ast","s_module","s_prox"],{"J_token":0.2,"s_ast":0.5,"s_module":0.2,"s_prox":0.1},0.7,true]'
id1=$(json .bundleId)
run "$L" --json locate "$S1" --at HEAD
check_eq "relocate the same request gives the same bundleId" "$id1" "$(json .bundleId)"
check_rc_as "relocate --at a revision that does not exist: exit 3" 3 "$L" locate "$S1" --at no-such-rev
check_contains "relocate --at a bad revision names it" "$ERR" "no-such-rev"
ws2=$(scenario cproj same "pass")
run "$L" --root "$ws2" --json locate "$S3" --at HEAD
check_json_eq "relocate unchanged file: exact snapshot map, confidence 1" \
	'[b["resolution"]["candidates"][0]["via"], b["resolution"]["confidence"]]' '["snapshot",1.0]'

echo "relocation accuracy: $right/$total"
if [ "$right" = "$total" ]; then ok "relocation accuracy $right/$total"; else fail "relocation accuracy $right/$total"; fi
