#!/usr/bin/env bash
# Bad input of every kind gets its documented exit code and a "lanser: "
# message, before any language server has to make sense of it: missing files,
# positions outside the text, malformed selectors, paths outside the
# workspace (directly, through .., or through a symlink), binary,
# oversized and directory inputs, usage errors, a broken .lanser.json, and a
# file type with no server.
. "$(dirname "$0")/lib.sh"

ws=$(fixture cproj) || { fail "badinput: copy the cproj fixture" "fixture cproj failed"; exit 1; }
cd "$ws" || exit 1

# bad NAME EXPECTED_RC MESSAGE_PART CMD... : exit code, plus a line of
# stderr that starts with "lanser: " and contains MESSAGE_PART (usage errors
# may print the usage text before it).
bad() {
	local name=$1 want=$2 part=$3
	shift 3
	check_rc_as "badinput $name: exits $want" "$want" "$@"
	local line found=0
	while IFS= read -r line; do
		[[ "$line" == "lanser: "*"$part"* ]] && found=1
	done <<<"$ERR"
	if [ "$found" = 1 ]; then
		ok "badinput $name: 'lanser: ' message mentioning '$part'"
	else
		fail "badinput $name: 'lanser: ' message mentioning '$part'" "stderr: '$(_clip "$ERR")'"
	fi
}

# --- files and positions -----------------------------------------------------
bad "missing file" 3 "nope.c" "$L" def nope.c@L1:C1
bad "column past the end of the line (main.c line 14 has 24 columns)" 2 "past the end of line 14" \
	"$L" def src/main.c@L14:C26
bad "line past the end of the file" 2 "past the end of the file" "$L" def src/main.c@L99:C1
bad "hover past the end of the file" 2 "past the end of the file" "$L" hover src/main.c@L29:C1
bad "refs past the end of the line" 2 "past the end of line" "$L" refs src/main.c@L1:C100

# --- malformed selectors -------------------------------------------------------
bad "selector without '@'" 2 "selector:1:" "$L" def src/main.c
bad "selector with line 0" 2 "selector:1:" "$L" def src/main.c@L0:C1
bad "selector with column -1" 2 "selector:1:" "$L" def src/main.c@L1:C-1
bad "selector with trailing junk" 2 "selector:1:" "$L" def src/main.c@L1:C1junk
bad "selector without a column" 2 "selector:1:" "$L" def src/main.c@L1
bad "selector with a non-numeric line" 2 "selector:1:" "$L" def src/main.c@Lx:C1
bad "selector with column 0" 2 "selector:1:" "$L" def src/main.c@L1:C0
bad "empty selector" 2 "selector:1:" "$L" def ""
run "$L" def src/main.c@L0:C1
check_contains "badinput selector error gives the column of the mistake (selector:1:13)" "$ERR" "selector:1:13:"
run "$L" --json def src/main.c@L1:C1junk
check_json_eq "badinput malformed selector with --json: error bundle with exitCode 2" \
	'[b["meta"]["exitCode"], b["meta"]["status"], b["facts"]]' '[2,"BAD_SELECTOR",[]]'

# --- the workspace jail -------------------------------------------------------------
printf 'int outside;\n' >"$TMP/x.c"
bad "existing file outside the workspace through ../" 71 "outside the workspace" "$L" def ../x.c@L1:C1
bad "existing file outside the workspace through src/../../" 71 "outside the workspace" \
	"$L" def src/../../x.c@L1:C1
bad "absolute path outside the workspace (/etc/passwd)" 71 "outside the workspace" \
	"$L" def /etc/passwd@L1:C1
bad "symbols of a file outside the workspace" 71 "outside the workspace" "$L" symbols ../x.c
bad "diag of a file outside the workspace" 71 "outside the workspace" "$L" diag ../x.c
ln -s /etc/passwd "$ws/passwd.c"
bad "symlink inside the workspace to a file outside" 71 "outside the workspace" "$L" def passwd.c@L1:C1
ln -s "$TMP" "$ws/outdir"
bad "symlinked directory inside the workspace pointing outside" 71 "outside the workspace" \
	"$L" def outdir/x.c@L1:C1
rm -f "$ws/passwd.c" "$ws/outdir"
# Outside is outside whether or not the file exists: answering "not found"
# for one path and "outside" for another tells which files exist out there.
bad "missing file outside the workspace through ../" 71 "outside the workspace" \
	"$L" def ../does-not-exist.c@L1:C1
bad "missing absolute path outside the workspace" 71 "outside the workspace" \
	"$L" def /nonexistent-lanser-test/x.c@L1:C1

# --- unusable input files -----------------------------------------------------------
printf 'int a;\0int b;\n' >"$ws/binary.c"
bad "binary file (NUL byte) named *.c" 77 "binary" "$L" def binary.c@L1:C5
bad "binary file: symbols" 77 "binary" "$L" symbols binary.c
bad "binary file: diag" 77 "binary" "$L" diag binary.c
# Not UTF-8 is not unusable: such a file is read as Latin-1, one byte one
# character (docs/bundle.md, "Files that are not UTF-8"; t_latin1.sh).
printf 'int x = 1; /* caf\xe9 */\n' >"$ws/latin1.c"
check_rc_as "badinput not UTF-8 (a Latin-1 byte): read as Latin-1, def answers" 0 "$L" def latin1.c@L1:C5
check_eq "badinput not UTF-8 (a Latin-1 byte): def lands on x" "latin1.c:1:5" "$OUT"
printf 'int x = 1; /* \xed\xa0\x80 */\n' >"$ws/surrogate.c"
check_rc_as "badinput not UTF-8 (an encoded UTF-16 surrogate): read as Latin-1, hover answers" 0 "$L" hover surrogate.c@L1:C5
printf 'int x = 1; /* \xc0\xaf */\n' >"$ws/overlong.c"
check_rc_as "badinput not UTF-8 (an overlong encoding): read as Latin-1, def answers" 0 "$L" def overlong.c@L1:C5
mkdir -p "$ws/adir.c"
bad "a directory named *.c" 77 "directory" "$L" def adir.c@L1:C1
bad "a directory given to symbols" 77 "directory" "$L" symbols src
yes 'int filler_variable_to_make_a_large_file;' | head -c $((17 * 1024 * 1024)) >"$ws/huge.c"
bad "a file over the 16 MiB limit" 77 "too large" "$L" def huge.c@L1:C5
run "$L" --json def binary.c@L1:C5
check_json_eq "badinput binary file with --json: error bundle with exitCode 77" \
	'[b["meta"]["exitCode"], b["meta"]["status"]]' '[77,"BAD_INPUT_FILE"]'
rm -rf "$ws/binary.c" "$ws/latin1.c" "$ws/surrogate.c" "$ws/overlong.c" "$ws/adir.c" "$ws/huge.c"

# --- usage errors -------------------------------------------------------------------
bad "unknown command" 129 "frobnicate" "$L" frobnicate
bad "unknown option" 129 "--bogus" "$L" --bogus def src/main.c@L14:C2
bad "def without a selector" 129 "def" "$L" def
bad "def with two selectors" 129 "def" "$L" def src/main.c@L14:C2 src/main.c@L15:C2
bad "unknown --index-io unit" 129 "index-io" "$L" --index-io utf-7 def src/main.c@L14:C2
bad "non-numeric --timeout" 129 "timeout" "$L" --timeout soon def src/main.c@L14:C2
bad "no command at all" 129 "no command" "$L"

# --- configuration --------------------------------------------------------------------
printf '{"servers": {\n' >"$ws/.lanser.json"
bad "malformed .lanser.json (truncated JSON)" 78 ".lanser.json" "$L" def src/main.c@L14:C2
printf '{"servers": 5}\n' >"$ws/.lanser.json"
bad ".lanser.json with servers of the wrong type" 78 ".lanser.json" "$L" def src/main.c@L14:C2
printf '[]\n' >"$ws/.lanser.json"
bad ".lanser.json whose top level is not an object" 78 ".lanser.json" "$L" def src/main.c@L14:C2
rm -f "$ws/.lanser.json"

# --- no server for this kind of file -------------------------------------------------
printf 'just some text\n' >"$ws/notes.txt"
bad "a .txt file has no language server" 79 "notes.txt" "$L" def notes.txt@L1:C1
run "$L" --json def notes.txt@L1:C1
check_json_eq "badinput no server with --json: error bundle with exitCode 79" \
	'[b["meta"]["exitCode"], b["meta"]["status"]]' '[79,"NO_SERVER"]'
rm -f "$ws/notes.txt"

# The good query still works after all of that.
check_rc_as "badinput a valid query in the same workspace still answers" 0 "$L" def src/main.c@L14:C2

# ---- workspace diag: one file's problem is that file's (issue 12, items 8
# and 9). tests/fixtures/cfiles: a Latin-1 file, a file missing its last
# '}' (no newline at the end), a clean one, and a file over the size limit
# made here. The answer goes on: a "fileError" fact for the huge file,
# "complete": false, the other files' diagnostics, exit 0, and the bundle
# validates. The Latin-1 file is checked like the others (read as Latin-1,
# docs/bundle.md; tests/integration/t_latin1.sh).
fw=$(fixture cfiles) || { fail "badinput: copy the cfiles fixture" "fixture cfiles failed"; exit 1; }
cd "$fw" || exit 1
"$PY" -c "open('huge.c','w').write('int v;\n' * 2500000)"
check_rc_as "badinput workspace diag with a huge and a Latin-1 file: exits 0" 0 "$L" --no-daemon --json diag
check_json_eq "badinput workspace diag: the huge file is reported with its reason, the Latin-1 one is checked" \
	'[[f["path"], f["code"]] for f in b["facts"] if f["kind"] == "fileError"]' \
	'[["huge.c","BAD_INPUT_FILE"]]'
check_json_eq "badinput workspace diag: no absolute path in a message" \
	'any("'"$fw"'" in f.get("message", "") for f in b["facts"])' false
check_json_eq "badinput workspace diag: the other files are still checked" \
	'[[f["path"], f["severity"]] for f in b["facts"] if f["kind"] == "diagnostic"]' '[["open.c","error"]]'
check_json_eq "badinput workspace diag: the answer says it is incomplete" .complete false
"$L" schema bundle >"$TMP/bundle.schema.json"
printf '%s' "$OUT" >"$TMP/wsdiag.json"
check_rc_as "badinput workspace diag: the bundle validates against 'lanser schema bundle'" 0 "$PY" -c "
import json, jsonschema
jsonschema.validate(json.load(open('$TMP/wsdiag.json')), json.load(open('$TMP/bundle.schema.json')))"
check_rc_as "badinput workspace diag, human form: exits 0" 0 "$L" --no-daemon diag
check_contains "badinput workspace diag, human form: names the file not checked" "$OUT" "huge.c: not checked"
check_not_contains "badinput workspace diag, human form: the Latin-1 file is checked" "$OUT" "latin1.c: not checked"
cd "$ws" || exit 1

# An invalid new name for rename is a usage error, not "not found" (3).
cd "$ws" || exit 1
bad "rename to a name that is no identifier" 129 "not a valid name" "$L" --no-daemon rename src/util.c@L13:C5 "2bad name"
bad "rename to an empty name" 129 "not a valid name" "$L" --no-daemon rename src/util.c@L13:C5 ""
