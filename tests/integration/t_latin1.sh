#!/usr/bin/env bash
# A C file that is not UTF-8 (issue 12, item 9), through real clangd:
# tests/fixtures/latin1/a.c is Latin-1 (é, ï, à as single bytes before code
# on the same line), b.c is UTF-8 with an é (2 bytes) before a call. lanser
# reads a.c as Latin-1 (docs/bundle.md, "Files that are not UTF-8"): the
# server is sent its UTF-8 form, columns in a.c are bytes in every
# --index-io unit, the bundle marks the document, edits write bytes back,
# an edit that needs a character above U+00FF is refused, search matches
# its lines in their UTF-8 form (byte columns), tree-sitter keeps a name
# such as caf\xE9 whole (outline, locate, AST paths), and traces replay. b.c keeps the user's unit (its é counts 2 in utf-8).
#
# Byte columns in a.c (1-based): f defined at 1:16; f called at 2:22 and
# 3:31; g called at 3:38; undefined_thing at 4:32 (after "à", one byte).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

if ! command -v clangd >/dev/null 2>&1; then
	skip "latin1: clangd" "clangd is not installed"
	exit 0
fi

ws=$(fixture latin1) || { fail "latin1: copy the latin1 fixture" "fixture latin1 failed"; exit 1; }
git_commit_all "$ws"
cd "$ws" || exit 1
cp a.c "$TMP/a.orig"
cp b.c "$TMP/b.orig"
encs="codepoint utf-16 utf-8"

# --- the fixture is what the test says it is ------------------------------------
check_rc_as "latin1 fixture: a.c is not UTF-8" 1 "$PY" -c "open('a.c','rb').read().decode('utf-8')"

# --- diag on the Latin-1 file: a position after 'à', in bytes in every unit ------
for e in $encs; do
	run "$L" --no-daemon --json --index-io "$e" diag a.c
	check_eq "latin1 diag a.c --index-io $e exits 0 (was 77: invalid UTF-8)" 0 "$RC"
	check_eq "latin1 diag a.c --index-io $e: the error after 'à' at byte column 32" \
		"diagnostic a.c 4:32-4:47" "$(facts_lines)"
done
check_json_eq "latin1 diag: the bundle marks a.c as Latin-1, hashed over its bytes on disk" \
	'[[d["path"], d.get("encoding"), d["sha256"]] for d in b["inputs"]["documents"]]' \
	"[[\"a.c\",\"latin-1\",\"$(sha256sum a.c | cut -d' ' -f1)\"]]"
printf '%s' "$OUT" >"$TMP/diag.json"
"$L" schema bundle >"$TMP/bundle.schema.json"
check_rc_as "latin1 diag: the bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/diag.json')), json.load(open('$TMP/bundle.schema.json')))"

# --- def / hover / refs from the Latin-1 file, every unit, with and without the daemon
for e in $encs; do
	run "$L" --no-daemon --json --index-io "$e" def a.c@L3:C31
	check_eq "latin1 def f from a.c:3:31 (after 'éé') --index-io $e --no-daemon" \
		"0 definition a.c 1:16-1:17" "$RC $(facts_lines)"
	run "$L" --json --index-io "$e" def a.c@L3:C31
	check_eq "latin1 def f from a.c:3:31 --index-io $e through the daemon" \
		"0 definition a.c 1:16-1:17" "$RC $(facts_lines)"
	# b.c:3 has a UTF-8 é before f: its column follows the user's unit
	b3=$([ "$e" = utf-8 ] && echo 44 || echo 43)
	run "$L" --no-daemon --index-io "$e" refs a.c@L1:C16
	check_eq "latin1 refs f from a.c (open) --index-io $e: a.c in bytes, b.c in $e" \
		"0 a.c:1:16
a.c:2:22
a.c:3:31
b.c:1:5
b.c:3:$b3" "$RC $OUT"
	# from b.c, clangd answers a.c out of its index, which read the bytes
	run "$L" --no-daemon --index-io "$e" refs "b.c@L3:C$b3"
	check_eq "latin1 refs f from b.c (a.c not open) --index-io $e: a.c still in bytes" \
		"0 a.c:1:16
a.c:2:22
a.c:3:31
b.c:1:5
b.c:3:$b3" "$RC $OUT"
done
run "$L" --no-daemon hover a.c@L3:C38
check_eq "latin1 hover g at a.c:3:38 exits 0" 0 "$RC"
check_contains "latin1 hover g at a.c:3:38: clangd's answer for g" "$OUT" "int g()"
run "$L" --no-daemon --json hover a.c@L1:C16
check_contains "latin1 hover f: the comment's 'café' reaches the server decoded" "$OUT" "café"
check_json_eq "latin1 hover f: the range is f's, in bytes" '[f["range"] for f in b["facts"] if "range" in f]' \
	'[[1,16,1,17]]'

# --- tree-sitter answers and read: bytes too ----------------------------------------
run "$L" --no-daemon --index-io utf-8 locate 'c://a.c#h'
check_eq "latin1 locate c://a.c#h --index-io utf-8: h's definition in byte columns" \
	"0 a.c:3:10-3:44  confidence 1.000" "$RC $OUT"
run "$L" --no-daemon --json --index-io utf-8 outline a.c
check_json_eq "latin1 outline a.c: names and byte columns" \
	'[[f["name"], f["range"][:2]] for f in b["facts"]]' '[["f",[1,12]],["g",[2,1]],["h",[3,10]],["bad",[4,9]]]'
run "$L" --no-daemon --json read a.c
check_eq "latin1 read a.c exits 0 (was an abort: JSON cannot hold the bytes)" 0 "$RC"
check_json_eq "latin1 read a.c: the lines in UTF-8, the document marked Latin-1" \
	'[b["facts"][0]["text"].split("\n")[1], b["inputs"]["documents"][0]["encoding"]]' \
	'["int g(void) { return f(1); } /* naïve */","latin-1"]'

# --- search: the Latin-1 file is matched in its UTF-8 form, columns in bytes ------
# a.c: "café" at bytes 4-7 of line 1, "naïve" at 33-37 of line 2, "éé */" at
# 4-8 of line 3; b.c: "café" at 4-8 in UTF-8 bytes (its é is 2), 4-7 else
for e in $encs; do
	b3=$([ "$e" = utf-8 ] && echo 9 || echo 8)
	run "$L" --no-daemon --index-io "$e" search 'café|naïve|(é)+ \*/'
	check_eq "latin1 search --index-io $e: a.c searched, its columns in bytes (was: a.c skipped)" \
		"0 a.c:1:4: /* café */ int f(int x) { return x; }
a.c:2:33: int g(void) { return f(1); } /* naïve */
a.c:3:4: /* éé */ int h(void) { return f(2) + g(); }
b.c:3:4: /* café, in UTF-8 */ int k(void) { return f(3) + g(); }" "$RC $OUT"
	run "$L" --no-daemon --json --index-io "$e" search 'café|naïve|(é)+ \*/'
	check_json_eq "latin1 search --index-io $e --json: ranges in bytes in a.c, in $e in b.c" \
		'[[f["path"], f["range"]] for f in b["facts"]]' \
		"[[\"a.c\",[1,4,1,8]],[\"a.c\",[2,33,2,38]],[\"a.c\",[3,4,3,9]],[\"b.c\",[3,4,3,$b3]]]"
done
check_json_eq "latin1 search: the bundle marks a.c as Latin-1 (its bytes' sha256), b.c is UTF-8" \
	'[[d["path"], d.get("encoding"), d["sha256"]] for d in b["inputs"]["documents"]]' \
	"[[\"a.c\",\"latin-1\",\"$(sha256sum a.c | cut -d' ' -f1)\"]]"
check_json_eq "latin1 search: no file skipped" .meta.volatile.search.filesSkipped 0
printf '%s' "$OUT" >"$TMP/search.json"
check_rc_as "latin1 search: the bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/search.json')), json.load(open('$TMP/bundle.schema.json')))"
# '.' matches one byte of the UTF-8 form: a match that starts or ends
# inside a character's two bytes takes the whole character
run "$L" --no-daemon --json search --glob a.c 'caf.'
check_json_eq "latin1 search 'caf.': the match ending inside é's UTF-8 form ends after é" \
	'[f["range"] for f in b["facts"]]' '[[1,4,1,8]]'
run "$L" --no-daemon --json search --glob a.c '. \*/'
check_json_eq "latin1 search '. \\*/': matches starting inside é, ï, à start at them" \
	'[f["range"] for f in b["facts"]]' '[[1,7,1,11],[2,37,2,41],[3,5,3,9],[4,4,4,8]]'
# no match in a.c: it is not listed; a binary file (a NUL byte) is still skipped
printf 'caf\351\000\n' >bin.dat
run "$L" --no-daemon --json search 'k\(void\)'
check_json_eq "latin1 search: no match in a.c, no document listed" \
	'[[f["path"] for f in b["facts"]], b["inputs"]["documents"]]' '[["b.c"],[]]'
run "$L" --no-daemon --json search 'caf'
check_json_eq "latin1 search: a binary file is skipped" \
	'[sorted(set(f["path"] for f in b["facts"])), b["meta"]["volatile"]["search"]["filesSkipped"]]' '[["a.c","b.c"],1]'
rm -f bin.dat

# --- tree-sitter on non-ASCII names in a Latin-1 file: whole names, byte columns ---
# (tree-sitter is given the bytes one character each: caf\xE9 stays one
# identifier; it was cut to "caf" when the bytes were read as UTF-8)
nw=$TMP/names
mkdir -p "$nw" && git -C "$nw" init -q
printf 'int caf\351(int x) { return x; }\nconst char *s = "\351t\351"; int after(void) { return caf\351(1); }\nstruct p\350re { int \342ge; };\n' >"$nw/c.c"
for mode in --no-daemon ""; do
	# shellcheck disable=SC2086
	run "$L" --root "$nw" $mode --json --index-io utf-8 outline c.c
	check_json_eq "latin1 names ${mode:-(daemon)}: outline names whole, in UTF-8, byte columns" \
		'[[f["name"], f["selectionRange"]] for f in b["facts"]]' \
		'[["café",[1,5,1,9]],["s",[2,13,2,14]],["after",[2,28,2,33]],["père",[3,8,3,12]],["âge",[3,19,3,22]]]'
	check_json_eq "latin1 names ${mode:-(daemon)}: the outline bundle marks c.c as Latin-1" \
		'[d.get("encoding") for d in b["inputs"]["documents"]]' '["latin-1"]'
	# shellcheck disable=SC2086
	run "$L" --root "$nw" $mode --index-io utf-16 locate 'c://c.c#café'
	check_eq "latin1 names ${mode:-(daemon)}: locate c://c.c#café (was: no such symbol)" \
		"0 c.c:1:1-1:30  confidence 1.000" "$RC $OUT"
	# shellcheck disable=SC2086
	run "$L" --root "$nw" $mode locate 'c://c.c#père.âge'
	check_eq "latin1 names ${mode:-(daemon)}: locate c://c.c#père.âge" \
		"0 c.c:3:15-3:23  confidence 1.000" "$RC $OUT"
	# shellcheck disable=SC2086
	run "$L" --root "$nw" $mode --json locate 'ast://c.c#struct_specifier[name=père]'
	check_json_eq "latin1 names ${mode:-(daemon)}: an AST-path predicate with a non-ASCII name, its label in UTF-8" \
		'[b["resolution"]["range"], [c["label"] for c in b["resolution"]["candidates"]]]' \
		'[[3,1,3,25],["struct_specifier père"]]'
	# shellcheck disable=SC2086
	run "$L" --root "$nw" $mode locate 'c://c.c#after'
	check_eq "latin1 names ${mode:-(daemon)}: locate after, behind a Latin-1 string on its line" \
		"0 c.c:2:24-2:59  confidence 1.000" "$RC $OUT"
done
"$L" --root "$nw" daemon stop >/dev/null 2>&1

# --- workspace diag: the Latin-1 file is checked like any other ------------------
run "$L" --no-daemon --json diag
check_eq "latin1 workspace diag exits 0" 0 "$RC"
check_json_eq "latin1 workspace diag: a.c's error at its byte column, no file left out" \
	'[[f["kind"], f["path"], f["range"]] for f in b["facts"]]' '[["diagnostic","a.c",[4,32,4,47]]]'
check_json_eq "latin1 workspace diag: complete" .complete true

# --- rename across the Latin-1 and the UTF-8 file writes bytes back ---------------
"$PY" - "$TMP" <<'EOF'
import sys
t = sys.argv[1]
a = open(t + "/a.orig", "rb").read()
# f is defined at byte 15 of line 1, called at 21 of line 2 and 30 of line 3
lines = a.split(b"\n")
for ln, col in ((0, 15), (1, 21), (2, 30)):
    l = lines[ln]
    assert l[col:col + 2] == b"f(", (ln, l)
    lines[ln] = l[:col] + b"ff" + l[col + 1:]
open(t + "/a.want", "wb").write(b"\n".join(lines))
b = open(t + "/b.orig", "rb").read().decode()
open(t + "/b.want", "wb").write(b.replace("int f(", "int ff(").replace("return f(", "return ff(").encode())
EOF
for from in "b.c@L1:C5" "a.c@L1:C16"; do
	git checkout -q -- a.c b.c
	run "$L" --no-daemon rename "$from" ff --apply
	check_eq "latin1 rename f -> ff from $from --apply exits 0" 0 "$RC"
	check_rc_as "latin1 rename from $from: a.c holds the expected Latin-1 bytes" 0 cmp a.c "$TMP/a.want"
	check_rc_as "latin1 rename from $from: b.c holds the expected UTF-8" 0 cmp b.c "$TMP/b.want"
done
git checkout -q -- a.c b.c

# --- an edit that needs a character above U+00FF is refused ------------------------
run "$L" --no-daemon edit 'a.c@R(1,16->1,17)' --text '€' --apply
check_eq "latin1 edit inserting '€' into a.c exits 77" 77 "$RC"
check_contains "latin1 edit inserting '€': says why" "$ERR" "Latin-1"
check_rc_as "latin1 edit inserting '€': a.c is untouched" 0 cmp a.c "$TMP/a.orig"
run "$L" --no-daemon rename a.c@L1:C16 'f€' --apply
check_eq "latin1 rename to 'f€' (clangd offers the edit) is refused with 77" 77 "$RC"
check_contains "latin1 rename to 'f€': names the file and the character" "$ERR" "a.c is Latin-1 (not UTF-8) and the edit would put a character it cannot hold into it: '€'"
check_rc_as "latin1 rename to a name with '€': a.c is untouched" 0 cmp a.c "$TMP/a.orig"
check_rc_as "latin1 rename to a name with '€': b.c is untouched" 0 cmp b.c "$TMP/b.orig"
# a Latin-1 character is written as its one byte
run "$L" --no-daemon edit 'a.c@R(1,4->1,8)' --text 'ü' --apply
check_eq "latin1 edit writing 'ü' over 'café' exits 0" 0 "$RC"
check_eq "latin1 edit writing 'ü': line 1 starts with the byte 0xFC" "2f2a20fc202a2f" \
	"$(head -c 7 a.c | od -An -tx1 | tr -d ' \n')"
git checkout -q -- a.c

# --- traces: a query on the Latin-1 file replays ----------------------------------
for mode in --no-daemon ""; do
	tr=$TMP/q${mode:+-nd}.jsonl
	rm -f "$tr"
	# shellcheck disable=SC2086
	run "$L" $mode --trace "$tr" --index-io utf-8 refs a.c@L1:C16
	check_eq "latin1 traced refs ${mode:-(daemon)} exits 0" 0 "$RC"
	check_json_eq "latin1 trace ${mode:-(daemon)}: a.c recorded with its encoding" \
		'[e.get("encoding") for e in b if e.get("type") == "document" and e.get("path") == "a.c"]' \
		'["latin-1"]' "$("$PY" -c "import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))" "$tr")"
	check_rc_as "latin1 trace replay --verify ${mode:-(daemon)}" 0 "$L" trace replay --verify "$tr"
done
"$L" daemon stop >/dev/null 2>&1
