#!/usr/bin/env bash
# Position encodings on tests/fixtures/unicode, through both servers:
# clangd (negotiated encoding) and pyright (UTF-16 only). The same place has a
# different column in code points, UTF-16 units and UTF-8 bytes; lanser must
# take the user's column in --index-io units and give every range back in
# them. Columns come from tests/fixtures/README.md ("cp / utf-16 / utf-8").
. "$(dirname "$0")/lib.sh"

ws=$(fixture unicode) || { fail "unicode: copy the unicode fixture" "fixture unicode failed"; exit 1; }
cd "$ws" || exit 1

encs="codepoint utf-16 utf-8"
# pick ENC CP U16 U8 : the value for ENC
pick() {
	case $1 in
	codepoint) echo "$2" ;;
	utf-16) echo "$3" ;;
	utf-8) echo "$4" ;;
	esac
}

# --- definition after an emoji lands at the column of the request's unit ----
for e in $encs; do
	# uni.py:17:34 is a use of target_name on an ASCII line; its definition
	# follows an emoji on line 7.
	run "$L" --json --index-io "$e" def uni.py@L17:C34
	check_eq "unicode pyright def target_name --index-io $e exits 0" 0 "$RC"
	check_eq "unicode pyright def target_name --index-io $e: definition at 7:$(pick "$e" 10 11 13) in $e units" \
		"definition uni.py 7:$(pick "$e" 10 11 13)-7:$(pick "$e" 21 22 24)" "$(facts_lines)"
	check_json_eq "unicode pyright --index-io $e: the bundle records the request unit" \
		'[b["request"]["indexIo"], b["environment"]["indexIo"]]' "[\"$e\",\"$e\"]"

	# uni.c:19 uses target_name after e + U+0301; its definition follows an
	# emoji on line 9.
	col=$(pick "$e" 56 56 57)
	run "$L" --json --index-io "$e" def "uni.c@L19:C$col"
	check_eq "unicode clangd def target_name (uni.c:19:$col) --index-io $e exits 0" 0 "$RC"
	check_eq "unicode clangd def target_name --index-io $e: definition at 9:$(pick "$e" 43 44 46) in $e units" \
		"definition uni.c 9:$(pick "$e" 43 44 46)-9:$(pick "$e" 54 55 57)" "$(facts_lines)"
	check_json_eq "unicode clangd --index-io $e: the resolution echoes the user's column" \
		.resolution.range "[19,$col,19,$col]"

	run "$L" --index-io "$e" refs "uni.c@L9:C$(pick "$e" 43 44 46)"
	check_eq "unicode clangd refs target_name from its definition --index-io $e (both ends in $e units)" \
		"uni.c:9:$(pick "$e" 43 44 46)
uni.c:19:$(pick "$e" 56 56 57)" "$OUT"
done

run "$L" --json --index-io utf-8 refs uni.py@L17:C34
check_eq "unicode pyright refs target_name --index-io utf-8: UTF-16 answers converted to bytes" \
	"reference uni.py 7:13-7:24
reference uni.py 17:34-17:45" "$(facts_lines)"

# --- the same place in three units gives the same definition ---------------
same_c=
same_py=
for e in $encs; do
	# uni.c:18: shout called after an emoji (42 / 43 / 45).
	col=$(pick "$e" 42 43 45)
	run "$L" --index-io "$e" def "uni.c@L18:C$col"
	check_eq "unicode clangd def of shout after an emoji (uni.c:18:$col, $e) exits 0" 0 "$RC"
	same_c+="$e: $OUT"$'\n'
	# uni.py:15: the CJK identifier used after an emoji (26 / 27 / 29).
	col=$(pick "$e" 26 27 29)
	run "$L" --json --index-io "$e" def "uni.py@L15:C$col"
	check_eq "unicode pyright def of 名前 after an emoji (uni.py:15:$col, $e): definition 6:1-6:$(pick "$e" 3 3 7)" \
		"definition uni.py 6:1-6:$(pick "$e" 3 3 7)" "$(facts_lines)"
	same_py+="$e: $(json '[(f["path"], f["range"][:2]) for f in b["facts"]]')"$'\n'
done
check_eq "unicode clangd: one place asked in codepoint, utf-16 and utf-8 units gives the same definition" \
	"codepoint: uni.c:11:12
utf-16: uni.c:11:12
utf-8: uni.c:11:12
" "$same_c"
check_eq "unicode pyright: one place asked in codepoint, utf-16 and utf-8 units gives the same definition" \
	"codepoint: [[\"uni.py\",[6,1]]]
utf-16: [[\"uni.py\",[6,1]]]
utf-8: [[\"uni.py\",[6,1]]]
" "$same_py"

# --- a column that splits a character is a bad position (exit 2) -----------
check_split() { # NAME ENC SELECTOR
	run "$L" --index-io "$2" def "$3"
	if [ "$RC" = 2 ]; then
		ok "$1 exits 2"
	else
		fail "$1 exits 2" "$(_rc_details 2)"
	fi
	check_contains "$1: the message says the column splits a character" "$ERR" "splits a character"
	check_contains "$1: the message starts with 'lanser: ' and names the selector" "$ERR" "lanser: $3"
}
check_split "unicode utf-16 column inside the emoji's surrogate pair (uni.c:9:29)" utf-16 uni.c@L9:C29
check_split "unicode utf-16 column inside the emoji's surrogate pair (uni.py:7:7)" utf-16 uni.py@L7:C7
check_split "unicode utf-8 column on the emoji's 2nd byte (uni.c:9:29)" utf-8 uni.c@L9:C29
check_split "unicode utf-8 column on the emoji's 4th byte (uni.c:9:31)" utf-8 uni.c@L9:C31
check_split "unicode utf-8 column inside the CJK identifier (uni.py:6:2)" utf-8 uni.py@L6:C2
check_split "unicode utf-8 column inside U+0301 (uni.c:19:29)" utf-8 uni.c@L19:C29

run "$L" --json --index-io utf-16 def uni.c@L9:C29
check_json_eq "unicode split column with --json: error bundle with exitCode 2, BAD_SELECTOR" \
	'[b["meta"]["exitCode"], b["meta"]["status"], b["facts"]]' '[2,"BAD_SELECTOR",[]]'

# --- line length is counted in the request's unit ----------------------------
# uni.c line 9 is 58 code points, 59 UTF-16 units, 61 bytes long.
check_rc_as "unicode codepoint column 60 is past the end of uni.c line 9 (58 code points): exit 2" \
	2 "$L" --index-io codepoint def uni.c@L9:C60
check_contains "unicode past the end: the message gives the length in code points" "$ERR" "(length 58)"
check_rc_as "unicode utf-8 column 60 of uni.c line 9 is inside the line (61 bytes): not a bad position" \
	3 "$L" --index-io utf-8 def uni.c@L9:C60
check_rc_as "unicode utf-16 column 61 is past the end of uni.c line 9 (59 units): exit 2" \
	2 "$L" --index-io utf-16 def uni.c@L9:C61
check_contains "unicode past the end: the message gives the length in UTF-16 units" "$ERR" "(length 59)"
