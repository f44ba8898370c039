#!/usr/bin/env bash
# `make install PREFIX=DIR` and `make uninstall` (issue 14, item 5): both
# binaries, the docs and the bash and zsh completion generated from the
# command table; the installed lanser works from PATH (it execs the
# lanser-engine installed next to it); uninstall leaves nothing behind.
. "$(dirname "$0")/lib.sh"

P=$TMP/prefix
R=$LANSER_REPO_ROOT
run make -C "$R" --no-print-directory install PREFIX="$P"
check_eq "install: make install exits 0" 0 "$RC"
for f in bin/lanser bin/lanser-engine share/doc/lanser/README.md share/doc/lanser/commands.md \
	share/doc/lanser/exit-codes.md share/doc/lanser/bundle.schema.json \
	share/bash-completion/completions/lanser share/zsh/site-functions/_lanser; do
	if [ -s "$P/$f" ]; then ok "install: $f"; else fail "install: $f" "missing or empty"; fi
done
check_eq "install: binaries are executable" "755 755" \
	"$(stat -c %a "$P/bin/lanser") $(stat -c %a "$P/bin/lanser-engine")"

# From PATH, in a workspace, with the checkout out of reach of PATH.
W=$(fixture cproj)
cd "$W" || exit 1
PATH_INST="$P/bin:/usr/bin:/bin"
check_eq "install: lanser on PATH is the installed one" "$P/bin/lanser" \
	"$(PATH=$PATH_INST command -v lanser)"
run env PATH="$PATH_INST" lanser --version
check_eq "install: lanser --version from PATH" "0 lanser" "$RC ${OUT%% *}"
# outline runs in the engine (tree-sitter, no server): the thin front end
# found the lanser-engine installed next to it.
run env PATH="$PATH_INST" lanser --no-daemon outline src/list.c
check_eq "install: lanser outline from PATH (the installed engine)" 0 "$RC"
check_contains "install: ... answers" "$OUT" "list_push"
run env PATH="$PATH_INST" LANSER_ENGINE= lanser --no-daemon outline src/list.c
check_eq "install: ... also with LANSER_ENGINE empty" 0 "$RC"
cd "$TMP" || exit 1

# The completion scripts come from the command table.
words=$(bash -c '. "$1"
	c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _lanser; echo "${COMPREPLY[*]}"; }
	c lanser de; c lanser daemon st; c lanser --index-io utf-1; c lanser refs --no-d; c lanser help compl' \
	sh "$P/share/bash-completion/completions/lanser")
check_eq "install: bash completion (commands, subcommands, enum values, options, help)" \
	"def"$'\n'"start stop status"$'\n'"utf-16"$'\n'"--no-decl --no-daemon"$'\n'"completion" "$words"
run "$L" help
cmds=$(printf '%s\n' "$OUT" | sed -nE 's/^  ([a-z][a-z-]+) .*/\1/p')
missing=
for c in $cmds; do
	grep -q "^	$c) opts=" "$P/share/bash-completion/completions/lanser" || missing="$missing $c"
done
check_eq "install: bash completion has every command of lanser help ($(echo $cmds | wc -w))" "" "$missing"
if command -v zsh >/dev/null; then
	run zsh -n "$P/share/zsh/site-functions/_lanser"
	check_eq "install: zsh completion parses (zsh -n)" 0 "$RC"
	check_contains "install: zsh completion is a #compdef file" "$(head -1 "$P/share/zsh/site-functions/_lanser")" "#compdef lanser"
else
	skip "install: zsh completion parses" "zsh is not installed"
fi
check_rc 129 "$L" completion fish

run make -C "$R" --no-print-directory uninstall PREFIX="$P"
check_eq "uninstall: make uninstall exits 0" 0 "$RC"
check_eq "uninstall: no file left under the prefix" "" "$(find "$P" -type f -o -type l)"
