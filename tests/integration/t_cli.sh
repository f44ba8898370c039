#!/usr/bin/env bash
# The command table (docs/commands.md): every command of `lanser --help` has
# generated help (`lanser CMD --help`, `lanser help CMD`) listing the options
# docs/commands.md gives it; an option of another command is exit 129 naming
# its owners; `lanser schema command NAME` validates real batch lines and the
# arguments a trace records, and rejects a wrong type or an unknown member;
# help is answered by the thin front end without the engine; a trace written
# before the table (version 1) still replays.
. "$(dirname "$0")/lib.sh"
need_lanser

# the table of commands in docs/commands.md
DOC=$TMP/commands-table.md
sed -n '/^## Commands/,/^## One spelling/p' "$LANSER_REPO_ROOT/docs/commands.md" >"$DOC"

# --- help for every command -----------------------------------------------------
run "$L" --help
check_eq "cli: lanser --help exits 0" 0 "$RC"
cmds=$(printf '%s\n' "$OUT" | awk '/^commands/ {on=1; next} on && /^$/ {exit} on && /^  [^ ]/ {print $1}')
check_eq "cli: lanser --help lists the commands docs/commands.md lists" \
	"$(grep -oE '^\| `[a-z-]+` \|' "$DOC" | tr -d '|` ' | sort)" "$(printf '%s\n' "$cmds" | sort)"
# a synopsis longer than its column: the description on the next line, in
# the description column, not run into the synopsis
check_eq "cli: a long synopsis (edit) puts its description on the next line" \
	"  edit           <selector> --text STR | --with FILE|$(printf '%52s' '')replace the text a selector resolves to" \
	"$(printf '%s\n' "$OUT" | grep -A1 '^  edit ' | sed 's/ (diff preview.*//' | paste -sd'|')"
bad=""
for cmd in $cmds; do
	h1=$("$L" help "$cmd" 2>&1); r1=$?
	h2=$("$L" "$cmd" --help 2>&1); r2=$?
	[ "$r1" = 0 ] && [ "$r2" = 0 ] || bad="$bad $cmd(exit $r1/$r2)"
	[ "$h1" = "$h2" ] || bad="$bad $cmd(help differs)"
	case "$h1" in "usage: lanser $cmd "*) ;; *) bad="$bad $cmd(no usage line)" ;; esac
	row=$(grep -E "^\| \`$cmd\` \|" "$DOC" | awk -F'|' '{print $4}')
	for opt in $(printf '%s\n' "$row" | grep -oE -- '--[a-z-]+'); do
		printf '%s\n' "$h1" | grep -qE -- "^  $opt( |$)" || bad="$bad $cmd($opt missing)"
	done
	# and nothing more: the help's options are the documented ones
	for opt in $(printf '%s\n' "$h1" | sed -n '/^options:/,/^$/p' | grep -oE -- '^  --[a-z-]+'); do
		printf '%s\n' "$row" | grep -q -- "\`$opt\`" || bad="$bad $cmd($opt undocumented)"
	done
done
check_eq "cli: 'lanser help CMD' and 'lanser CMD --help' list each command's documented options" "" "$bad"
run "$L" help rename
check_contains "cli: help gives types and bounds" "$OUT" "--max-new-errors N"
check_contains "cli: help gives bounds" "$OUT" "integer 0-100000"
run "$L" help group
check_contains "cli: help names the kept old spelling" "$OUT" "old spelling of --advantage"
check_rc_as "cli: help of an unknown command is a usage error" 129 "$L" help frobnicate

# The thin front end answers help and usage errors without the engine.
check_rc_as "cli: help without the engine" 0 env LANSER_ENGINE=/nonexistent/lanser-engine "$L" help def
check_rc_as "cli: a usage error without the engine" 129 env LANSER_ENGINE=/nonexistent/lanser-engine \
	"$L" def --apply x
check_eq "cli: the engine's help is the front end's" "$("$L" --help)" \
	"$("$LANSER_REPO_ROOT/lanser-engine" --help)"

# --- options of other commands --------------------------------------------------
check_rc_as "cli: reward step with --apply exits 129" 129 \
	"$L" reward step D0=5 D=2 S=1 c0=0.9 c=0.94 --apply
check_contains "cli: ...naming the commands that own --apply" "$ERR" \
	"--apply is an option of rename, actions, patch, edit; not of reward"
check_rc_as "cli: --pick on reward exits 129" 129 "$L" reward step D0=5 D=2 S=1 c0=0.9 c=0.94 --pick 3
check_rc_as "cli: --jobs on def exits 129" 129 "$L" def src/main.c@L1:C1 --jobs 4
check_rc_as "cli: reward step without foreign options still answers" 0 \
	"$L" reward step D0=5 D=2 S=1 c0=0.9 c=0.94
check_eq "cli: ...the same reward as before" "1.904" "$OUT"
check_rc_as "cli: reward episode --episode outcome" 0 "$L" reward episode format=1 outcome=0 process=0.5 \
	--episode outcome
check_eq "cli: ...is the outcome" "0" "$OUT"
check_rc_as "cli: the kept --mode spelling" 0 "$L" reward episode format=1 outcome=0 process=0.5 --mode outcome
check_eq "cli: ...gives the same" "0" "$OUT"
check_rc_as "cli: an unknown episode mode is a usage error" 129 "$L" reward episode format=1 outcome=1 \
	process=1 --episode best

# --- schemas --------------------------------------------------------------------
run "$L" schema command
check_eq "cli: schema command lists every command" "$(printf '%s\n' "$cmds" | sort)" \
	"$(printf '%s\n' "$OUT" | awk '{print $1}' | sort)"
check_rc_as "cli: schema command of an unknown command is a usage error" 129 "$L" schema command frob
for cmd in $cmds; do
	"$L" schema command "$cmd" >"$TMP/schema-$cmd.json" || fail "cli: schema command $cmd" "exit $?"
done
got=$("$PY" - "$TMP" $cmds <<'P'
import json, sys, jsonschema
bad = []
for cmd in sys.argv[2:]:
    s = json.load(open("%s/schema-%s.json" % (sys.argv[1], cmd)))
    try:
        jsonschema.Draft202012Validator.check_schema(s)
    except Exception as e:
        bad.append("%s: %s" % (cmd, str(e)[:100]))
    if s.get("additionalProperties") is not False or "args" not in s["properties"]:
        bad.append(cmd + ": not closed or no args")
print(" ".join(bad))
P
)
check_eq "cli: every command's schema is a valid draft 2020-12 schema, closed, with args" "" "$got"

# --- argument counts: the table's, checked once by the parser -------------------
# For every command, one argument too few and one too many (the bounds from
# its schema): exit 129, the message gives the usage line of `lanser CMD
# --help`, and nothing runs (no workspace is needed to say it).
got=$("$PY" - "$TMP" "$L" $cmds <<'P'
import json, os, subprocess, sys
d, L = sys.argv[1], sys.argv[2]
bad = []
for cmd in sys.argv[3:]:
    a = json.load(open("%s/schema-%s.json" % (d, cmd)))["properties"]["args"]
    usage = subprocess.run([L, "help", cmd], capture_output=True, text=True).stdout.splitlines()[0]
    counts = [a["maxItems"] + 1] + ([a["minItems"] - 1] if a["minItems"] > 0 else [])
    for n in counts:
        p = subprocess.run([L, "--root", d, cmd] + ["arg%d" % i for i in range(n)],
                           capture_output=True, text=True, cwd=d, timeout=60)
        if p.returncode != 129 or usage not in p.stderr or "%s takes " % cmd not in p.stderr:
            bad.append("%s with %d: exit %d %r" % (cmd, n, p.returncode, p.stderr[:200]))
print("\n".join(bad))
P
)
check_eq "cli: every command with one argument too few or too many: 129 with its usage line" "" "$got"
run "$L" rename src/main.c@L1:C1
check_eq "cli: rename with one argument: the count, what they are, the usage line" \
	"lanser: rename takes 2 arguments (a selector and the new name), got 1; usage: lanser rename [options] <selector> <new-name> (see lanser help rename)" "$ERR"
run "$L" eval fix.diff
check_contains "cli: eval with an argument names the extra one" "$ERR" "eval takes no arguments, got 1 (the first extra: 'fix.diff')"
run "$L" daemon frob
check_eq "cli: daemon with an unknown subcommand: 129" 129 "$RC"
check_contains "cli: ...naming the subcommands" "$ERR" "unknown daemon command 'frob' (start, status, stop or run"
check_rc_as "cli: a count error without the engine" 129 env LANSER_ENGINE=/nonexistent/lanser-engine \
	"$L" def a.c@L1:C1 b.c@L1:C1
check_contains "cli: ...with the usage line" "$ERR" "usage: lanser def [options] <selector>"

# validate NAME WANT LINE... : each batch line's {args, options} against its
# command's schema; WANT is "valid" or "invalid"
validate() {
	local name=$1 want=$2 got
	shift 2
	got=$(printf '%s\n' "$@" | "$PY" -c '
import json, sys, jsonschema
d = sys.argv[1]
out = []
for line in sys.stdin:
    req = json.loads(line)
    inst = dict(req.get("options", {}))
    inst["args"] = req.get("args", [])
    s = json.load(open("%s/schema-%s.json" % (d, req["command"])))
    out.append("valid" if jsonschema.Draft202012Validator(s).is_valid(inst) else "invalid")
print(" ".join(sorted(set(out))))
' "$TMP")
	check_eq "$name" "$want" "$got"
}
# the batch lines of t_daemon.sh and t_trust.sh that are requests of a command
validate "cli: the schemas validate the batch lines of the batch tests" valid \
	'{"id": 1, "command": "def", "args": ["native/main.c@L9:C17"]}' \
	'{"id": "two", "command": "def", "args": ["tools/report.py@L5:C20"], "options": {"indexIo": "utf-16"}}' \
	'{"command": "def", "args": ["native/main.c@L9"]}' \
	'{"command": "refs", "args": ["native/geom.c@L8:C5"], "options": {"noDecl": true}}' \
	'{"command": "hover", "args": ["../outside.c@L1:C1"]}' \
	'{"command":"def","args":["src/main.c@L14:C2"]}' \
	'{"command": "symbols", "args": [], "options": {"workspace": true, "waitIndexMs": 60000, "noCache": true}}'
validate "cli: the schema rejects an unknown option (t_daemon's bogus line)" invalid \
	'{"command": "def", "args": ["native/main.c@L9:C17"], "options": {"bogus": 1}}'
validate "cli: the schema rejects a wrong type" invalid \
	'{"command": "refs", "args": ["a.c@L1:C1"], "options": {"noDecl": "yes"}}'
validate "cli: the schema rejects a timeout past its maximum" invalid \
	'{"command": "def", "args": ["a.c@L1:C1"], "options": {"timeoutMs": 3600001}}'
validate "cli: the schema rejects an option of another command" invalid \
	'{"command": "def", "args": ["a.c@L1:C1"], "options": {"workspace": true}}'
validate "cli: the schema rejects the trace's old spelling" invalid \
	'{"command": "def", "args": ["a.c@L1:C1"], "options": {"indexMs": 5}}'
validate "cli: the schema rejects a second selector" invalid \
	'{"command": "def", "args": ["a.c@L1:C1", "b.c@L1:C1"]}'

# --- batch lines are decoded by the same table ----------------------------------
ws=$(fixture cproj) || { fail "cli: copy the cproj fixture" "fixture failed"; exit 1; }
cd "$ws" || exit 1
cat >"$TMP/bad.jsonl" <<'EOF'
{"command": "refs", "args": ["src/main.c@L14:C2"], "options": {"noDecl": "yes"}}
{"command": "def", "args": ["src/main.c@L14:C2"], "extra": 1}
{"command": "def", "args": ["src/main.c@L14:C2"], "options": {"workspace": true}}
{"command": "def", "args": ["src/main.c@L14:C2"], "options": {"timeoutMs": 3600001}}
{"command": "def", "args": ["src/main.c@L14:C2"], "options": {"indexIo": "utf-7"}}
EOF
run "$L" --no-daemon batch --in "$TMP/bad.jsonl" --out "$TMP/bad.out"
check_eq "cli: batch with only bad lines exits 0 (one error bundle each)" 0 "$RC"
got=$("$PY" - "$TMP/bad.out" <<'P'
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line)
    print(b["meta"]["exitCode"], b["meta"]["volatile"]["message"])
P
)
check_eq "cli: batch: wrong type, unknown member, foreign option, bound and word: 129 naming the line" \
'129 line 1: option "noDecl" must be a boolean
129 line 2: unknown member "extra" (a request has id, command, args and options)
129 line 3: unknown option "workspace" for def (see lanser schema command def)
129 line 4: --timeout needs a number of milliseconds (0-3600000)
129 line 5: --index-io must be codepoint, utf-8 or utf-16 (got '"'"'utf-7'"'"')' "$got"

# --- the trace's request records validate; old and new traces replay -----------
rm -f "$TMP/t.jsonl"
"$L" --trace "$TMP/t.jsonl" reward step D0=5 D=2 S=1 c0=0.9 c=0.94 --functional delta >/dev/null
"$L" --trace "$TMP/t.jsonl" advantages --advantage dr_grpo --preset verl <<<'[1,2,3]' >/dev/null
run "$L" --no-daemon --json --trace "$TMP/t.jsonl" --wait-index 60000 refs --no-decl src/main.c@L14:C2
check_eq "cli: a traced refs answers" 0 "$RC"
got=$("$PY" - "$TMP/t.jsonl" "$TMP" <<'P'
import json, sys, jsonschema
out = []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev["type"] == "header":
        out.append(ev["schema"])
    if ev["type"] != "request":
        continue
    inst = dict(ev["options"])
    inst["args"] = ev["args"]
    s = json.load(open("%s/schema-%s.json" % (sys.argv[2], ev["command"])))
    errs = list(jsonschema.Draft202012Validator(s).iter_errors(inst))
    out.append("%s %s" % (ev["command"], "valid" if not errs else errs[0].message[:120]))
    if ev["command"] == "refs":
        out.append("noDecl=%s waitIndexMs=%s" % (inst.get("noDecl"), inst.get("waitIndexMs")))
print("\n".join(out))
P
)
check_eq "cli: the request records of a trace validate against the commands' schemas" \
"lanser.trace/2
reward valid
lanser.trace/2
advantages valid
lanser.trace/2
refs valid
noDecl=True waitIndexMs=60000" "$got"
run "$L" trace replay --verify "$TMP/t.jsonl"
check_eq "cli: the version 2 trace replays" 0 "$RC"
check_contains "cli: ...bundle, reward and advantages" "$OUT" "verified: 1 bundle, 1 reward and 1 advantage group"
V1=$LANSER_REPO_ROOT/tests/traces/v1-queries.jsonl
check_eq "cli: the recorded old trace is version 1" '"lanser.trace/1"' \
	"$(head -1 "$V1" | grep -o '"lanser.trace/[0-9]*"')"
run "$L" trace replay --verify "$V1"
check_eq "cli: a version 1 trace (indexMs, workspace on every command) still replays" 0 "$RC"
check_contains "cli: ...every bundle of it" "$OUT" "verified: 5 bundles"
# an edited option of the old trace is read, and changes the replay
sed '/"type":"request"/s/"indexIo":"utf-16"/"indexIo":"utf-8"/' "$V1" >"$TMP/v1-edited.jsonl"
check_rc_as "cli: an edited indexIo in a version 1 request is taken (replay mismatch)" 76 \
	"$L" trace replay --verify "$TMP/v1-edited.jsonl"
sed '/"type":"request"/s/"indexMs":60000,/"indexMs":"soon",/' "$V1" >"$TMP/v1-bad.jsonl"
check_rc_as "cli: a malformed option of a version 1 request is a malformed trace" 85 \
	"$L" trace replay --verify "$TMP/v1-bad.jsonl"
check_contains "cli: ...naming the request line" "$ERR" "v1-bad.jsonl:"
