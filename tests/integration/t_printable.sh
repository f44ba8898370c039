#!/usr/bin/env bash
# Names from untrusted input printed in text mode (issue 11, item 7):
# control bytes, ESC sequences and C1 controls in candidate ids, patch file
# names and file names inside patches come out as \xHH, never raw; JSON
# output keeps the exact strings (jansson escapes them).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser

ESC=$(printf '\033')
raw_ctl() { # TEXT -> 1 when it holds ESC, a C1 CSI or a bare CR
	printf '%s' "$1" | LC_ALL=C grep -c -P '\x1b|\xc2\x9b|\r' || true
}

W=$TMP/w
mkdir -p "$W/src"
printf 'int x;\n' >"$W/src/a.c"
printf '{"test": ["true"]}\n' >"$W/.lanser.json"
git -C "$W" init -q
git_commit_all "$W"

# a file name with a C1 control (U+009B, a one-byte CSI): the jail lets it
# through (it is not a C0 byte), the listing must not print it raw
name=$(printf 'src/c\302\2332Jx.c')
printf 'diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+int y;\n' \
	"$name" "$name" "$name" >"$TMP/c1.diff"
run "$L" --root "$W" patch --apply "$TMP/c1.diff"
rc_is "printable: a patch adding a file with a C1 control in its name applies" 0
check_contains "printable: the listing shows it escaped" "$OUT" 'src/c\xc2\x9b2Jx.c'
check_eq "printable: no raw control in the listing" 0 "$(raw_ctl "$OUT")"
run "$L" --root "$W" --json patch --allow-dirty "$TMP/c1.diff"
check_json_eq "printable: JSON keeps the exact name (U+009B)" \
	'[ord(f["path"][5]) for f in b["facts"] if f["kind"] == "conflict"][:1]' "[155]"

# ESC and newline in a name inside a patch: refused by the jail, named escaped
printf 'diff --git "a/e\\033[31mred\\nx" "b/e\\033[31mred\\nx"\nnew file mode 100644\n--- /dev/null\n+++ "b/e\\033[31mred\\nx"\n@@ -0,0 +1 @@\n+x\n' >"$TMP/esc.diff"
run "$L" --root "$W" patch "$TMP/esc.diff"
rc_is "printable: ESC and newline in a patched name are refused (71)" 71
check_contains "printable: the message shows them escaped" "$ERR" 'e\x1b[31mred\x0ax'
check_eq "printable: no raw ESC in the message" 0 "$(raw_ctl "$ERR")"

# the patch file's own name, with ESC and a newline
bad="$TMP/p${ESC}[2J
x.diff"
run "$L" --root "$W" patch "$bad"
check_contains "printable: a patch file name is escaped in the error" "$ERR" 'p\x1b[2J\x0ax.diff'
check_eq "printable: no raw ESC in that error" 0 "$(raw_ctl "$ERR")"

# a group candidate id with ESC, CR and a C1 control (the completions file
# is model output: untrusted; ids with a newline are replaced by c<N>)
"$PY" - "$TMP/completions.jsonl" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"id": "evil\x1b[31m\rid\x9b", "patch": "I could not produce a patch."}) + "\n")
    f.write(json.dumps({"id": "plain", "patch": "no patch either"}) + "\n")
PYEOF
run "$L" --root "$W" group --in "$TMP/completions.jsonl"
check_eq "printable: group answers" 0 "$RC"
check_contains "printable: the candidate id is printed escaped" "$OUT" 'evil\x1b[31m\x0did\xc2\x9b'
check_eq "printable: no raw control in group's output" 0 "$(raw_ctl "$OUT")"
run "$L" --root "$W" --json group --in "$TMP/completions.jsonl"
check_json_eq "printable: JSON keeps the exact id" '[ascii(c["id"]) for c in b["candidates"]][0]' \
	"'evil\\x1b[31m\\rid\\x9b'"
