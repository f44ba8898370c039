#!/usr/bin/env bash
# Configuration and readiness as a user meets them: doctor, .lanser.json
# errors and overrides, version capture, and answers marked incomplete
# (--no-wait, a C project without a compilation database).
. "$(dirname "$0")/lib.sh"
need_lanser

ws=$(fixture cproj)
cd "$ws" || exit 1

# --- doctor --------------------------------------------------------------
check_rc_as "config: doctor exits 0 when every enabled server is installed" 0 "$L" doctor
check_contains "config: doctor names clangd's version" "$OUT" "clangd version 14"
check_contains "config: doctor names pyright's version" "$OUT" "pyright 1.1.414"
check_contains "config: doctor shows the tree-sitter grammars load" "$OUT" "c (ABI 15, ok)"
run "$L" --json doctor
check_json_eq "config: doctor --json lists pylsp as disabled" \
	'[s["enabled"] for s in b["servers"] if s["profile"] == "pylsp"]' '[false]'
check_json_eq "config: doctor --json: the python grammar loads" \
	'[g["loads"] for g in b["treeSitter"]["grammars"] if g["name"] == "python"]' '[true]'

printf '{"servers":{"ghost":{"command":["lanser-no-such-server"],"fileTypes":{"*.gh":"ghost"}}}}\n' > .lanser.json
# (custom server commands only count in a trusted workspace: --trust)
check_rc_as "config: doctor exits 79 when an enabled server is missing" 79 "$L" --trust doctor
check_contains "config: doctor says how to get it" "$OUT" "make deps"

# --- malformed configuration -> 78 ----------------------------------------
for cfg in '{"servers": []}' '{"timeouts": {"requestMs": "fast"}}' \
	   '{"servers": {"mine": {"fileTypes": {"*.x": "x"}}}}' \
	   '{"servers": {"clangd": {"enabled": "no"}}}' \
	   '{"servers": {"clangd": {"readiness": "soon"}}}' '[1, 2]'; do
	printf '%s\n' "$cfg" > .lanser.json
	check_rc_as "config: $cfg is refused with 78" 78 "$L" --trust def src/main.c@L14:C2
	check_contains "config: $cfg: the message names .lanser.json" "$ERR" ".lanser.json"
done

# --- overrides --------------------------------------------------------------
printf '{"servers": {"clangd": {"enabled": false}}}\n' > .lanser.json
check_rc_as "config: a disabled clangd leaves .c files without a server (79)" 79 \
	"$L" def src/main.c@L14:C2
printf '{"servers": {"pyright": {"enabled": false}, "pylsp": {"enabled": true,
  "command": ["lanser-no-such-pylsp"]}}}\n' > .lanser.json
printf 'x = 1\n' > m.py
check_rc_as "config: python switched to a missing pylsp gives 79" 79 "$L" --trust def m.py@L1:C1
check_contains "config: the message names the missing command" "$ERR" "lanser-no-such-pylsp"
rm -f m.py

# A configured server's version comes from its version command: the first
# non-blank line, trimmed; the config digest changes with the config.
run "$L" --json def src/main.c@L14:C2
digest_default=$(json .environment.configDigest)
printf '{"servers": {"clangd": {"versionCommand": ["/bin/sh", "-c", "printf \\"\\\\n  clangd-as-configured 1.2  \\\\nmore\\\\n\\""]}}}\n' > .lanser.json
run "$L" --trust --json def src/main.c@L14:C2
check_json_eq "config: versionCommand output is trimmed to its first non-blank line" \
	.environment.servers.0.version "clangd-as-configured 1.2"
if [ "$(json .environment.configDigest)" != "$digest_default" ]; then
	ok "config: the config digest changes with the servers config"
else
	fail "config: the config digest changes with the servers config" "$digest_default"
fi
rm -f .lanser.json

# --- readiness ---------------------------------------------------------------
run "$L" --json --no-wait refs src/main.c@L14:C2
check_eq "config: --no-wait still answers" 0 "$RC"
check_json_eq "config: --no-wait marks the answer incomplete" .complete false

rm -f compile_commands.json
# --wait-index is far beyond RUN_TIMEOUT: waiting for an index that never
# comes would be killed and fail the first check.
RUN_TIMEOUT=60 run "$L" --json --wait-index 3600000 refs src/main.c@L14:C2
check_eq "config: without a compilation database refs answers at once (no index wait)" 0 "$RC"
check_json_eq "config: without a compilation database the answer is marked incomplete" \
	.complete false
