#!/usr/bin/env bash
# Workspace trust and servers that cannot be steered (issue 11;
# docs/security.md). Every attack is also shown to work where lanser
# allows it (trusted, or unboxed), so each check can fail:
#   - a hostile .lanser.json (server command, versionCommand) in an
#     untrusted workspace runs nothing; after `lanser trust` it runs; a
#     changed configuration, --trust, --config FILE, trust --revoke, a
#     malformed trust store;
#   - a tsserver.js planted in node_modules of the workspace and of a parent
#     folder is never run by a TypeScript query;
#   - .clangd and compile_commands.json in an ancestor folder do not steer
#     clangd;
#   - a candidate patch that creates .lanser.json (or node_modules/...,
#     .clangd, .gitattributes) is refused by the jail (71) unless a trusted
#     jail.allow re-opens it;
#   - eval with the PR head checked out takes its policy from --base;
#   - a candidate's #include of a host file does not put the file's text
#     into the verdict, the SARIF or the bundle.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
M=$TMP/markers
mkdir -p "$M"

# ---- a hostile .lanser.json ---------------------------------------------------
C=$(fixture cproj)
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
cd "$C" || exit 1
hostile() {  # hostile TAG : server command and version command that leave markers
	printf '{"servers": {"clangd": {"command": ["/bin/sh", "-c", "touch %s/cmd-%s; exec clangd --log=error"], "versionCommand": ["/bin/sh", "-c", "touch %s/ver-%s; echo evil 1.0"]}}}\n' \
		"$M" "$1" "$M" "$1" >"$C/.lanser.json"
}
hostile a
run "$L" --no-daemon def src/main.c@L14:C2
check_eq "trust: untrusted, the query still answers (built-in clangd)" 0 "$RC"
check_contains "trust: untrusted, a one-line note on stderr names what was ignored" "$ERR" \
	"untrusted workspace, ignored in .lanser.json: servers.clangd.command, servers.clangd.versionCommand"
run "$L" def src/main.c@L14:C2
check_eq "trust: untrusted, through the daemon too" 0 "$RC"
run "$L" doctor
check_contains "trust: doctor says UNTRUSTED and what was ignored" "$OUT" "UNTRUSTED: ignored in .lanser.json"
check_contains "trust: doctor says how to trust" "$OUT" "lanser trust"
run "$L" --json doctor
check_json_eq "trust: doctor --json lists the ignored members" .trust.ignored \
	'["servers.clangd.command","servers.clangd.versionCommand"]'
check_not_contains "trust: --json output carries no note" "$OUT" "note:"
check_eq "trust: untrusted, the server command never ran" "" "$(ls "$M" | grep -x cmd-a)"
check_eq "trust: untrusted, the version command never ran (query, doctor)" "" "$(ls "$M" | grep -x ver-a)"
"$L" daemon stop >/dev/null 2>&1

run "$L" trust
check_eq "trust: lanser trust exits 0" 0 "$RC"
check_contains "trust: lanser trust names the digest" "$OUT" "sha256:"
st=$XDG_STATE_HOME/lanser/trust.json
check_eq "trust: the store is 0600 in a 0700 folder" "600 700" \
	"$(stat -c %a "$st") $(stat -c %a "$(dirname "$st")")"
run "$L" trust --list
check_contains "trust: trust --list names the workspace" "$OUT" "$C"
run "$L" --no-daemon def src/main.c@L14:C2
check_eq "trust: trusted, the query answers" 0 "$RC"
check_not_contains "trust: trusted, no note" "$ERR" "untrusted"
check_eq "trust: trusted, the configured server command ran (the attack is real)" "cmd-a" \
	"$(ls "$M" | grep -x cmd-a)"
run "$L" doctor
check_eq "trust: trusted, doctor ran the version command" "ver-a" "$(ls "$M" | grep -x ver-a)"
# a daemon started while untrusted restarts its servers once trust changes
hostile d
run "$L" def src/main.c@L14:C2
check_eq "trust: daemon, untrusted: answers without the command" "0 " "$RC $(ls "$M" | grep -x cmd-d)"
"$L" trust >/dev/null
run "$L" def src/main.c@L14:C2
check_eq "trust: daemon, trusted afterwards: the next query runs the trusted command" "0 cmd-d" \
	"$RC $(ls "$M" | grep -x cmd-d)"
"$L" trust --revoke >/dev/null
"$L" daemon stop >/dev/null 2>&1

hostile b   # another configuration: trust is gone
run "$L" --no-daemon def src/main.c@L14:C2
check_eq "trust: a changed configuration needs trust again (command did not run)" "" \
	"$(ls "$M" | grep -x cmd-b)"
run "$L" --trust def src/main.c@L14:C2
check_eq "trust: --trust trusts it for one run" "cmd-b" "$(ls "$M" | grep -x cmd-b)"
hostile e
printf '%s\n' '{"command": "def", "args": ["src/main.c@L14:C2"]}' >"$TMP/batch.jsonl"
run "$L" batch --in "$TMP/batch.jsonl" --out "$TMP/batch.out"
check_eq "trust: batch, untrusted: its lines run no configured command" "" "$(ls "$M" | grep -x cmd-e)"
run "$L" --trust batch --in "$TMP/batch.jsonl" --out "$TMP/batch.out"
check_eq "trust: --trust batch: its lines keep the trust" "cmd-e" "$(ls "$M" | grep -x cmd-e)"
"$L" daemon stop >/dev/null 2>&1
hostile c
"$L" trust >/dev/null
"$L" trust --revoke >/dev/null
run "$L" --no-daemon def src/main.c@L14:C2
check_eq "trust: trust --revoke: the command no longer runs" "" "$(ls "$M" | grep -x cmd-c)"
printf '{"servers": {"clangd": {"command": ["/bin/sh", "-c", "touch %s/cmd-cfg; exec clangd --log=error"]}}}\n' \
	"$M" >"$TMP/outside.json"
run "$L" --config "$TMP/outside.json" def src/main.c@L14:C2
check_eq "trust: --config FILE: the query answers" 0 "$RC"
check_eq "trust: --config FILE is trusted (its command ran)" "cmd-cfg" "$(ls "$M" | grep -x cmd-cfg)"
check_eq "trust: --config FILE replaces .lanser.json (the tree's command did not run)" "" \
	"$(ls "$M" | grep -x cmd-c)"
mkdir -p "$(dirname "$st")" && printf 'not json' >"$st"
run "$L" --no-daemon def src/main.c@L14:C2
check_eq "trust: a malformed trust store is an error (78), never trust" 78 "$RC"
check_contains "trust: ... naming the store" "$ERR" "$st"
check_eq "trust: ... and nothing ran" "" "$(ls "$M" | grep -x cmd-c)"
rm -f "$st"
(cd "$C" && rm -f .lanser.json)

# ---- a planted tsserver.js ----------------------------------------------------
P=$TMP/parent
plant() {  # plant DIR TAG : DIR/node_modules/typescript/lib/tsserver.js leaves a marker
	mkdir -p "$1/node_modules/typescript/lib"
	printf '{"name": "typescript", "version": "5.9.3", "main": "./lib/typescript.js"}\n' \
		>"$1/node_modules/typescript/package.json"
	printf 'require("fs").writeFileSync("%s/ts-%s", "ran");\nprocess.exit(1);\n' "$M" "$2" \
		>"$1/node_modules/typescript/lib/tsserver.js"
	printf '\n' >"$1/node_modules/typescript/lib/typescript.js"
}
mkdir -p "$P/own" "$P/inner"
plant "$P" parent
plant "$P/own" own
for w in own inner; do
	printf 'export function add(a: number, b: number): number {\n  return a + b;\n}\nadd(1, 2);\n' \
		>"$P/$w/m.ts"
	cd "$P/$w" || exit 1
	run "$L" --no-daemon --json def m.ts@L4:C1
	check_eq "trust: typescript in a workspace under a planted parent ($w): answers" 0 "$RC"
	check_json_eq "trust: typescript ($w): the pinned server answered" .environment.servers.0.profile typescript
done
check_eq "trust: a tsserver.js in the workspace's node_modules never ran" "" "$(ls "$M" | grep -x ts-own)"
check_eq "trust: a tsserver.js in a parent folder's node_modules never ran" "" "$(ls "$M" | grep -x ts-parent)"
# the planted file is a working attack once something selects it
printf '{"servers": {"typescript": {"initializationOptions": {"tsserver": {"path": "%s/own/node_modules/typescript/lib/tsserver.js"}}}}}\n' \
	"$P" >"$P/own/.lanser.json"
cd "$P/own" || exit 1
run "$L" --no-daemon def m.ts@L4:C1
check_eq "trust: untrusted initializationOptions cannot select it either" "" "$(ls "$M" | grep -x ts-own)"
run "$L" --trust --no-daemon def m.ts@L4:C1
check_eq "trust: (the planted tsserver.js runs when a trusted config selects it)" "ts-own" \
	"$(ls "$M" | grep -x ts-own)"

# ---- clangd: configuration from ancestor folders ------------------------------
A=$TMP/anc
mkdir -p "$A/ws"
printf 'CompileFlags:\n  Add: [-DSTEERED=1]\n' >"$A/.clangd"
printf '#ifdef STEERED\n#error steered from an ancestor\n#endif\nint main(void) { return 0; }\n' >"$A/ws/a.c"
cd "$A/ws" || exit 1
run "$L" --no-daemon diag a.c
check_not_contains "trust: clangd ignores a .clangd in an ancestor folder" "$OUT$ERR" "teered"
printf '{"servers": {"clangd": {"command": ["clangd", "--log=error"]}}}\n' >"$A/ws/.lanser.json"
run "$L" --trust --no-daemon diag a.c
check_contains "trust: (a plain clangd, trusted, does take it: the attack is real)" "$OUT" "teered"
rm -f "$A/.clangd" "$A/ws/.lanser.json"
printf '[{"directory": "%s/ws", "file": "a.c", "arguments": ["cc", "-DSTEERED=1", "-c", "a.c"]}]\n' \
	"$A" >"$A/compile_commands.json"
run "$L" --no-daemon diag a.c
check_not_contains "trust: clangd ignores a compile_commands.json in an ancestor folder" "$OUT$ERR" "teered"
printf '{"servers": {"clangd": {"command": ["clangd", "--log=error"]}}}\n' >"$A/ws/.lanser.json"
run "$L" --trust --no-daemon diag a.c
check_contains "trust: (a plain clangd, trusted, does take the ancestor compile_commands.json)" "$OUT" "teered"
rm -f "$A/ws/.lanser.json"

# ---- protected paths: a candidate delivering configuration --------------------
cd "$C" || exit 1
newfile() {  # newfile PATH TEXT : a diff creating PATH
	printf 'diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+%s\n' \
		"$1" "$1" "$1" "$2"
}
newfile .lanser.json "{\"servers\": {\"clangd\": {\"command\": [\"/bin/sh\", \"-c\", \"touch $M/cmd-patch\"]}}}" \
	>"$TMP/cfg.diff"
newfile node_modules/typescript/lib/tsserver.js 'process.exit(1)' >"$TMP/ts.diff"
newfile src/.clangd 'CompileFlags: {Add: [-DX]}' >"$TMP/clangd.diff"
newfile .gitattributes '* filter=evil' >"$TMP/attr.diff"
newfile sub/compile_commands.json '[]' >"$TMP/cdb.diff"
for d in cfg ts clangd attr cdb; do
	run "$L" patch --apply "$TMP/$d.diff"
	check_eq "trust: patch --apply of a protected path ($d) exits 71" 71 "$RC"
done
check_contains "trust: the refusal says why" "$ERR" "protected path"
check_eq "trust: nothing was written" "" "$(git status --porcelain)"
run "$L" --json eval --patch "$TMP/cfg.diff"
check_eq "trust: eval of a candidate writing .lanser.json exits 71" 71 "$RC"
run "$L" test --patch "$TMP/ts.diff"
check_eq "trust: test --patch of a candidate writing node_modules/ exits 71" 71 "$RC"
check_eq "trust: the candidate's server command never ran" "" "$(ls "$M" | grep -x cmd-patch)"
# an untrusted jail.allow cannot re-open them; a trusted one can
printf '{"jail": {"allow": ["src/", ".gitattributes"]}}\n' >.lanser.json
(cd "$C" && $GIT add .lanser.json && $GIT commit -qm jail) || exit 1
run "$L" patch "$TMP/attr.diff"
check_eq "trust: an untrusted jail.allow does not re-open .gitattributes (71)" 71 "$RC"
"$L" trust >/dev/null
run "$L" patch "$TMP/attr.diff"
check_eq "trust: a trusted jail.allow re-opens it (preview, 0)" 0 "$RC"
"$L" trust --revoke >/dev/null
(cd "$C" && $GIT rm -q .lanser.json && $GIT commit -qm nojail) || exit 1

# ---- eval: the configuration comes from --base --------------------------------
BASE=$(git rev-parse HEAD)
sed -i 's/int max_int(int a, int b);/int max_int(int a, int b, int c);/' src/util.h
git diff >"$TMP/break.diff"
git checkout -q -- .
git checkout -q -b pr
printf '{"test": ["true"], "policy": {"maxNewErrors": 100, "requireTests": false}}\n' >.lanser.json
$GIT add .lanser.json && $GIT commit -qm "pr: a permissive policy"
run "$L" eval --base "$BASE" --patch "$TMP/break.diff"
check_eq "trust: eval with the PR head checked out uses the base's policy: a build breaker is rejected (84)" \
	84 "$RC"
run "$L" --config "$C/.lanser.json" eval --base "$BASE" --patch "$TMP/break.diff"
check_eq "trust: (the PR's policy would have accepted it: the attack is real)" 0 "$RC"
git checkout -q master 2>/dev/null || git checkout -q main 2>/dev/null || git checkout -q "$BASE"

# ---- eval: a candidate including a host file ------------------------------------
S=$TMP/secretdir
mkdir -m 700 "$S"
printf 'lanserSecretWord_%s\n' "$$" >"$S/secret.h"
sed -i "1i #include \"$S/secret.h\"" src/util.c
git diff >"$TMP/inc.diff"
git checkout -q -- .
run "$L" --json eval --base "$BASE" --patch "$TMP/inc.diff" --sarif "$TMP/inc.sarif"
check_eq "trust: eval of a candidate including a host file still judges it (84)" 84 "$RC"
check_not_contains "trust: the host file's text is not in the verdict/bundle" "$OUT$ERR" "lanserSecretWord"
check_not_contains "trust: ... nor in the SARIF" "$(cat "$TMP/inc.sarif")" "lanserSecretWord"
run "$L" --json group --base "$BASE" "$TMP/inc.diff" --out "$TMP/group.jsonl"
check_not_contains "trust: ... nor in group's output" "$OUT$ERR$(cat "$TMP/group.jsonl" 2>/dev/null)" \
	"lanserSecretWord"
run "$L" --json --no-isolation eval --base "$BASE" --patch "$TMP/inc.diff"
check_contains "trust: (unboxed, with --no-isolation, the text does leak: the attack is real)" \
	"$OUT" "lanserSecretWord"
rm -rf "$S"

# ---- the same attacks, run by an unprivileged user ----------------------------
# (CI runs as root; developers do not: as an ordinary user the boxed servers
# bind the worktree directly instead of an idmapped clone, and the trust
# store is the user's own.)
NOBODY=65534
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cd "$TMP" || exit 1
	chmod 755 "$TMP"
	U=$TMP/unpriv
	rm -rf "$U"
	mkdir -p "$U/run" "$U/home/.secrets" "$U/state" "$U/markers"
	fixture cproj unpriv/c >/dev/null || exit 1
	printf 'lanserNobodySecret_%s\n' "$$" >"$U/home/.secrets/secret.h"
	chown -R $NOBODY:$NOBODY "$U"
	chmod 700 "$U/run" "$U/home" "$U/home/.secrets"
	AS=(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups
		env XDG_RUNTIME_DIR="$U/run" HOME="$U/home" XDG_STATE_HOME="$U/state")
	UGIT=("${AS[@]}" git -C "$U/c" -c user.email=t@example.com -c user.name=t)
	"${UGIT[@]}" init -q && "${UGIT[@]}" add -A && "${UGIT[@]}" commit -qm base || exit 1

	printf '{"servers": {"clangd": {"command": ["/bin/sh", "-c", "touch %s/cmd; exec clangd --log=error"], "versionCommand": ["/bin/sh", "-c", "touch %s/ver; echo evil 1.0"]}}}\n' \
		"$U/markers" "$U/markers" >"$U/c/.lanser.json"
	chown $NOBODY:$NOBODY "$U/c/.lanser.json"
	cd "$U/c" || exit 1
	run "${AS[@]}" "$L" --no-daemon def src/main.c@L14:C2
	check_eq "trust (unprivileged): untrusted, the query answers" 0 "$RC"
	run "${AS[@]}" "$L" doctor
	check_eq "trust (unprivileged): untrusted, neither command ran (query, doctor)" "" "$(ls "$U/markers")"
	run "${AS[@]}" "$L" --trust --no-daemon def src/main.c@L14:C2
	check_eq "trust (unprivileged): (with --trust the server command runs: the attack is real)" cmd \
		"$(ls "$U/markers" | grep -x cmd)"
	rm -f "$U/c/.lanser.json"

	sed -i "1i #include \"$U/home/.secrets/secret.h\"" src/util.c
	"${UGIT[@]}" diff >"$U/inc.diff"
	"${UGIT[@]}" checkout -q -- .
	chmod 644 "$U/inc.diff"
	run "${AS[@]}" "$L" --json eval --patch "$U/inc.diff"
	check_eq "trust (unprivileged): eval of a candidate including a 0700 file of the user judges it (84)" \
		84 "$RC"
	check_not_contains "trust (unprivileged): the file's text is not in the verdict/bundle" "$OUT$ERR" \
		"lanserNobodySecret"
	run "${AS[@]}" "$L" --json --no-isolation eval --patch "$U/inc.diff"
	check_contains "trust (unprivileged): (unboxed, the text does leak: the attack is real)" "$OUT" \
		"lanserNobodySecret"
	"${AS[@]}" "$L" daemon stop --all >/dev/null 2>&1 </dev/null
	cd "$TMP" || exit 1
else
	skip "t_trust as an unprivileged user" "needs root and setpriv to switch users"
fi
