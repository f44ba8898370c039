#!/usr/bin/env bash
# The docs say what the binary does: the schema copy in docs/ is the one the
# binary prints, and the exit-code table in docs/ matches `lanser --help`.
. "$(dirname "$0")/lib.sh"
need_lanser

run "$L" schema bundle
check_eq "docs: docs/bundle.schema.json is what 'lanser schema bundle' prints" \
	"$(cat "$LANSER_REPO_ROOT/docs/bundle.schema.json")" "$OUT"

run "$L" --help
help_codes=$(printf '%s\n' "$OUT" | sed -nE 's/^ +([0-9]+)  ([A-Z_]+) .*/\1 \2/p')
doc_codes=$(sed -nE 's/^\| *([0-9]+) \| ([A-Z_]+) \|.*/\1 \2/p' "$LANSER_REPO_ROOT/docs/exit-codes.md")
check_eq "docs: docs/exit-codes.md lists the codes of 'lanser --help'" "$help_codes" "$doc_codes"
if [ "$(printf '%s\n' "$help_codes" | wc -l)" -ge 19 ]; then
	ok "docs: the table has every code"
else
	fail "docs: the table has every code" "only $(printf '%s\n' "$help_codes" | wc -l) rows"
fi

run "$L" schema trace
check_eq "docs: docs/trace.schema.json is what 'lanser schema trace' prints" \
	"$(cat "$LANSER_REPO_ROOT/docs/trace.schema.json")" "$OUT"

# Every `lanser CMD ... --option` in docs/ and the README names an option the
# command table gives that command (or a global one): the docs follow the table.
out=$("$PY" "$LANSER_REPO_ROOT/tests/integration/docopts.py" "$L" "$LANSER_REPO_ROOT" 2>&1)
rc=$?
n=$(printf '%s\n' "$out" | sed -nE 's/^([0-9]+) options checked$/\1/p')
if [ "$rc" = 0 ] && [ "${n:-0}" -ge 40 ]; then
	ok "docs: every option the docs give a command is one of its options ($n checked)"
else
	fail "docs: every option the docs give a command is one of its options" "$out"
fi
