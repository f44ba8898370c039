#!/usr/bin/env bash
# Traces (docs/trace.md): record real sessions with clangd and pyright, in
# process and through the daemon; replay verifies with no server; the same
# bundle ids from the daemon, --no-daemon and the replay; one flipped byte
# in a recorded response is exit 76 naming the event; truncated, reordered
# and edited traces are exit 85 naming the line; concurrent writers never
# interleave lines; every line matches the JSON Schema; list/show/export.
. "$(dirname "$0")/lib.sh"
need_lanser

# ids LIST_OUTPUT : "command bundleId" per bundle event of `trace list --event bundle`
ids() { "$L" trace list "$1" --event bundle | awk '{print $5, $6}'; }
# nth_line FILE N : line N of FILE
schema_check() { # NAME FILE
	local got
	got=$("$PY" - "$LANSER_REPO_ROOT/docs/trace.schema.json" "$2" <<'P'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
v = jsonschema.Draft202012Validator(schema)
bad = 0
for i, line in enumerate(open(sys.argv[2]), 1):
    errs = list(v.iter_errors(json.loads(line)))
    if errs:
        bad += 1
        if bad < 3:
            print("line %d: %s" % (i, errs[0].message[:200]))
print("bad=%d" % bad)
P
)
	check_eq "$1" "bad=0" "$(printf '%s\n' "$got" | tail -1)"
	[ "$(printf '%s\n' "$got" | tail -1)" = "bad=0" ] || printf '%s\n' "$got" | sed 's/^/#   /'
}

# ---- clangd: the query commands, in process and through the daemon ----------
ws=$(fixture cproj) || { fail "trace: copy the cproj fixture" "fixture failed"; exit 1; }
cd "$ws" || exit 1
queries=("def src/main.c@L14:C2" "refs src/main.c@L14:C2" "hover src/main.c@L14:C2"
	 "symbols src/list.c" "diag" "def c://#list_push:name")
for q in "${queries[@]}"; do
	# shellcheck disable=SC2086
	"$L" --no-daemon --trace "$TMP/c-inproc.jsonl" $q >/dev/null 2>&1
done
run "$L" def src/main.c@L14:C2   # starts the daemon, fills its answer cache
for q in "${queries[@]}"; do
	# shellcheck disable=SC2086
	"$L" --trace "$TMP/c-daemon.jsonl" $q >/dev/null 2>&1
done
check_eq "trace clangd: six bundles recorded in process" 6 \
	"$("$L" trace list "$TMP/c-inproc.jsonl" --event bundle | wc -l)"
check_eq "trace clangd: six bundles recorded through the daemon" 6 \
	"$("$L" trace list "$TMP/c-daemon.jsonl" --event bundle | wc -l)"
run "$L" trace list "$TMP/c-daemon.jsonl" --event frame
check_contains "trace clangd: a traced daemon request bypasses the answer cache (its frames are there)" \
	"$OUT" "clangd > textDocument/definition"
# workspace symbols read the tracked file list (a "sourceFiles" probe)
"$L" --trace "$TMP/c-wsym.jsonl" symbols --workspace list_ >/dev/null 2>&1
"$L" --no-daemon --trace "$TMP/c-wsym.jsonl" symbols --workspace list_ >/dev/null 2>&1
"$L" daemon stop >/dev/null 2>&1
check_rc_as "trace clangd: workspace symbols replay, daemon and in process" 0 \
	"$L" trace replay --verify "$TMP/c-wsym.jsonl"
check_contains "trace clangd: two workspace-symbol bundles" "$OUT" "verified: 2 bundles,"
check_rc_as "trace clangd: replay --verify of the in-process trace exits 0" 0 \
	"$L" trace replay --verify "$TMP/c-inproc.jsonl"
check_contains "trace clangd: replay recomputed six bundles" "$OUT" "verified: 6 bundles,"
check_rc_as "trace clangd: replay --verify of the daemon trace exits 0 (no daemon, no server running)" 0 \
	"$L" trace replay --verify "$TMP/c-daemon.jsonl"
check_eq "trace clangd: the same bundle ids from the daemon and --no-daemon" \
	"$(ids "$TMP/c-inproc.jsonl")" "$(ids "$TMP/c-daemon.jsonl")"
run "$L" trace replay "$TMP/c-inproc.jsonl"
check_eq "trace clangd: replay prints the same bundle ids it verified" \
	"$(ids "$TMP/c-inproc.jsonl" | awk '{print $2}')" \
	"$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys; [print(json.loads(l)["bundleId"]) for l in sys.stdin]')"
wd() { "$L" trace show "$1" --event request | "$PY" -c 'import json,sys; print(sorted({json.loads(l).get("workspaceDigest") for l in sys.stdin}))'; }
check_eq "trace clangd: every request records the same workspace digest, in process and in the daemon" \
	"$(wd "$TMP/c-inproc.jsonl")" "$(wd "$TMP/c-daemon.jsonl")"
check_contains "trace clangd: the workspace digest is a sha256" "$(wd "$TMP/c-inproc.jsonl")" "sha256:"
schema_check "trace clangd: every line matches docs/trace.schema.json" "$TMP/c-inproc.jsonl"
schema_check "trace clangd: every daemon line matches docs/trace.schema.json" "$TMP/c-daemon.jsonl"

# ---- replay needs nothing of the workspace ------------------------------------
cp "$TMP/c-inproc.jsonl" "$TMP/moved.jsonl"
mv "$ws" "$ws.gone"
(cd "$TMP" && PATH=/usr/bin:/bin "$L" trace replay --verify "$TMP/moved.jsonl" >/dev/null 2>&1)
check_eq "trace: replay verifies with the workspace gone and no server on PATH" 0 "$?"
mv "$ws.gone" "$ws"

# ---- one flipped byte in a recorded response -> 76 naming the event ------------
"$PY" - "$TMP/c-inproc.jsonl" "$TMP/flip.jsonl" <<'P'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
for i, l in enumerate(lines):
    if not l:
        continue
    e = json.loads(l)
    if e["type"] == "frame" and e["dir"] == "<" and '"result":[{"range"' in e["body"]:
        b = e["body"]
        j = b.index('"line":') + len('"line":')
        e["body"] = b[:j] + ("9" if b[j] != "9" else "8") + b[j + 1:]
        lines[i] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        break
open(sys.argv[2], "w").write("\n".join(lines))
P
flip_bundle=$("$PY" -c '
import json, sys
seen = False
for i, l in enumerate(open(sys.argv[1]), 1):
    e = json.loads(l)
    if e["type"] == "frame" and e["dir"] == "<" and "\"result\":[{\"range\"" in e["body"]:
        seen = True
    if seen and e["type"] == "bundle":
        print(i); break' "$TMP/c-inproc.jsonl")
check_rc_as "trace: a flipped byte in a recorded response is exit 76" 76 \
	"$L" trace replay --verify "$TMP/flip.jsonl"
check_contains "trace: the mismatch names the bundle event's line and what differs" "$ERR" \
	"flip.jsonl:$flip_bundle: bundle event"
check_contains "trace: the mismatch says the facts differ" "$ERR" 'differs in "facts"'

# a changed request the client sends -> 76 naming the frame
"$PY" - "$TMP/c-inproc.jsonl" "$TMP/flip-out.jsonl" <<'P'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
for i, l in enumerate(lines):
    if not l:
        continue
    e = json.loads(l)
    if e["type"] == "frame" and e["dir"] == ">" and "textDocument/definition" in e["body"]:
        e["body"] = e["body"].replace('"character":1', '"character":2', 1)
        lines[i] = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        break
open(sys.argv[2], "w").write("\n".join(lines))
P
out_line=$(grep -n 'textDocument/definition' "$TMP/c-inproc.jsonl" | grep '"dir":">"' | head -1 | cut -d: -f1)
check_rc_as "trace: an edited request frame is exit 76" 76 "$L" trace replay --verify "$TMP/flip-out.jsonl"
check_contains "trace: the divergence names the recorded frame's line" "$ERR" "replay: line $out_line: lanser sends"

# ---- malformed traces -> 85 naming the line ----------------------------------
n=$(wc -l <"$TMP/c-inproc.jsonl")
head -c $(($(head -n 20 "$TMP/c-inproc.jsonl" | wc -c) + 30)) "$TMP/c-inproc.jsonl" >"$TMP/trunc.jsonl"
check_rc_as "trace: truncated mid-line is exit 85" 85 "$L" trace replay --verify "$TMP/trunc.jsonl"
check_contains "trace: truncated names the line" "$ERR" "trunc.jsonl:21: truncated"
head -n 20 "$TMP/c-inproc.jsonl" >"$TMP/cut.jsonl"
check_rc_as "trace: cut at a line boundary (no end event) is exit 85" 85 \
	"$L" trace replay --verify "$TMP/cut.jsonl"
check_contains "trace: the cut trace is called cut" "$ERR" "has no end event"
{ sed -n 1,9p "$TMP/c-inproc.jsonl"; sed -n 11p "$TMP/c-inproc.jsonl"; sed -n 10p "$TMP/c-inproc.jsonl"
  sed -n "12,${n}p" "$TMP/c-inproc.jsonl"; } >"$TMP/reord.jsonl"
check_rc_as "trace: two swapped lines are exit 85" 85 "$L" trace replay --verify "$TMP/reord.jsonl"
check_contains "trace: reordering names the line" "$ERR" "reord.jsonl:10: run"
sed '5d' "$TMP/c-inproc.jsonl" >"$TMP/gap.jsonl"
check_rc_as "trace: a missing line is exit 85" 85 "$L" trace replay --verify "$TMP/gap.jsonl"
"$PY" - "$TMP/c-inproc.jsonl" "$TMP/edited.jsonl" <<'P'
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "bundle" and e["bundle"]["facts"]:
        e["bundle"]["facts"][0]["path"] = "src/elsewhere.c"
        l = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    out.append(l)
open(sys.argv[2], "w").write("".join(out))
P
check_rc_as "trace: a bundle edited by hand is exit 85" 85 "$L" trace replay --verify "$TMP/edited.jsonl"
check_contains "trace: the edit is named" "$ERR" "bundleId does not match its content"
printf 'not json\n' >"$TMP/garbage.jsonl"
check_rc_as "trace: a line that is not JSON is exit 85" 85 "$L" trace replay --verify "$TMP/garbage.jsonl"
check_contains "trace: garbage names line 1" "$ERR" "garbage.jsonl:1: not JSON"
printf '{"type":"frame","run":"x","seq":1}\n' >"$TMP/nohdr.jsonl"
check_rc_as "trace: an event before any header is exit 85" 85 "$L" trace list "$TMP/nohdr.jsonl"
sed '1s/lanser.trace\/[0-9]*/lanser.trace\/9/' "$TMP/c-inproc.jsonl" >"$TMP/v9.jsonl"
check_rc_as "trace: another trace schema version is exit 10" 10 "$L" trace list "$TMP/v9.jsonl"
"$PY" -c '
import json, sys
out = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "server":
        e["snapshot"]["encoding"] = "ebcdic"
    out.append(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n")
open(sys.argv[2], "w").write("".join(out))' "$TMP/c-inproc.jsonl" "$TMP/snap.jsonl"
check_rc_as "trace: a snapshot that cannot be restored is exit 85" 85 "$L" trace replay --verify "$TMP/snap.jsonl"
check_contains "trace: the bad snapshot is named" "$ERR" "server snapshot: unknown encoding"

# ---- hostile edits: never a crash, always a stable code ------------------------
# 300 random mutations of a real trace (flipped bytes, deleted, duplicated
# and swapped lines, cuts, values of the wrong type); each replay must end
# with 0, 76, 85 or 10 and say why (under lanser-asan a sanitizer report
# exits 99).
head -n "$(grep -n '"type":"end"' "$TMP/c-inproc.jsonl" | sed -n 2p | cut -d: -f1)" \
	"$TMP/c-inproc.jsonl" >"$TMP/two-runs.jsonl"
bad=$("$PY" - "$L" "$TMP/two-runs.jsonl" "$TMP/mut.jsonl" <<'P'
import json, random, subprocess, sys
lanser, src, dst = sys.argv[1:4]
lines = open(src, encoding="utf-8").read().split("\n")[:-1]
rnd = random.Random(7)
def wrong(v):
    return rnd.choice([None, 0, -1, 1e308, "", "x" * 3, [], {}, True, [1, [2]], {"a": {}}])
def mutate(ls):
    ls = list(ls)
    k = rnd.randrange(7)
    i = rnd.randrange(len(ls))
    if k == 0:
        b = bytearray(ls[i].encode())
        j = rnd.randrange(len(b))
        b[j] = rnd.randrange(256)
        ls[i] = b.decode("utf-8", "replace")
    elif k == 1:
        del ls[i]
    elif k == 2:
        ls.insert(i, ls[i])
    elif k == 3:
        j = rnd.randrange(len(ls))
        ls[i], ls[j] = ls[j], ls[i]
    elif k == 4:
        e = json.loads(ls[i])
        key = rnd.choice(sorted(e))
        e[key] = wrong(e[key])
        ls[i] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    elif k == 5:
        e = json.loads(ls[i])
        if e["type"] == "server":
            snap = e["snapshot"]
            key = rnd.choice(sorted(snap))
            snap[key] = wrong(snap[key])
        elif e["type"] == "frame":
            e["body"] = e["body"][: rnd.randrange(len(e["body"]) + 1)]
        ls[i] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    else:
        text = "\n".join(ls) + "\n"
        return text[: rnd.randrange(len(text))]
    return "\n".join(ls) + "\n"
bad = []
for n in range(300):
    open(dst, "w", encoding="utf-8").write(mutate(lines))
    p = subprocess.run([lanser, "trace", "replay", "--verify", dst], capture_output=True, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in (0, 76, 85, 10) or (p.returncode and not err.startswith("lanser: ")):
        bad.append("mutation %d: exit %d: %s" % (n, p.returncode, err[:300]))
print(len(bad))
for b in bad[:3]:
    print(b)
P
)
check_eq "trace: 300 hostile edits of a trace end in 0/76/85/10 with a message, never a crash" 0 \
	"$(printf '%s\n' "$bad" | head -1)"
[ "$(printf '%s\n' "$bad" | head -1)" = 0 ] || printf '%s\n' "$bad" | sed 's/^/#   /'

# ---- pyright ----------------------------------------------------------------------
pws=$(fixture pyproj) || { fail "trace: copy the pyproj fixture" "fixture failed"; exit 1; }
cd "$pws" || exit 1
pq=("def app.py@L8:C5" "hover app.py@L10:C37" "refs app.py@L8:C5" "diag app.py"
    "def py://shapes.circle#Circle.scaled")
for q in "${pq[@]}"; do
	# shellcheck disable=SC2086
	"$L" --no-daemon --trace "$TMP/p-inproc.jsonl" $q >/dev/null 2>&1
	# shellcheck disable=SC2086
	"$L" --trace "$TMP/p-daemon.jsonl" $q >/dev/null 2>&1
done
"$L" daemon stop >/dev/null 2>&1
check_rc_as "trace pyright: replay --verify in process" 0 "$L" trace replay --verify "$TMP/p-inproc.jsonl"
check_contains "trace pyright: five bundles" "$OUT" "verified: 5 bundles,"
check_rc_as "trace pyright: replay --verify through the daemon" 0 "$L" trace replay --verify "$TMP/p-daemon.jsonl"
check_eq "trace pyright: the same bundle ids from the daemon and --no-daemon" \
	"$(ids "$TMP/p-inproc.jsonl")" "$(ids "$TMP/p-daemon.jsonl")"
run "$L" trace list "$TMP/p-inproc.jsonl" --event frame
check_contains "trace pyright: the server's workspace/configuration request is recorded" "$OUT" \
	"pyright < workspace/configuration"

# ---- rewards in traces, concurrent writers ---------------------------------------
cd "$TMP" || exit 1
for i in $(seq 1 24); do
	"$L" --trace "$TMP/conc.jsonl" reward step D0=$i D=0 S=1 c=0.5 c0=0.25 >/dev/null &
	"$L" --trace "$TMP/conc.jsonl" reward episode format=1 outcome=1 process=0.$i >/dev/null &
done
wait
check_eq "trace: 48 concurrent writers, 48 runs of 4 lines each" 192 "$(wc -l <"$TMP/conc.jsonl")"
check_rc_as "trace: the concurrently written trace reads and verifies (no interleaved line)" 0 \
	"$L" trace replay --verify "$TMP/conc.jsonl"
check_contains "trace: 48 rewards recomputed" "$OUT" ", 48 rewards and 0 advantage groups"
printf '{"D0":2,"D":1,"S":1,"c0":0.8,"c":0.9}\n{"D0":2,"D":2,"S":0,"c0":0.5,"c":0.5}\n' >"$TMP/steps.jsonl"
"$L" --trace "$TMP/ep.jsonl" reward episode format=1 outcome=1 process=@"$TMP/steps.jsonl" >/dev/null
check_rc_as "trace: an episode reward from steps replays" 0 "$L" trace replay --verify "$TMP/ep.jsonl"
sed 's/"D":1,"D0":2/"D":0,"D0":2/' "$TMP/ep.jsonl" >"$TMP/ep-edit.jsonl"
check_rc_as "trace: an edited step of an episode is exit 76" 76 "$L" trace replay --verify "$TMP/ep-edit.jsonl"
check_contains "trace: ... naming R_process" "$ERR" "R_process differs"
"$PY" - "$TMP/conc.jsonl" "$TMP/conc-edit.jsonl" <<'P'
import json, sys
out, done = [], False
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "reward" and not done:
        e["reward"] = e["reward"] + 0.25
        done = True
        l = json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n"
    out.append(l)
open(sys.argv[2], "w").write("".join(out))
P
check_rc_as "trace: a recorded reward edited is exit 76" 76 "$L" trace replay --verify "$TMP/conc-edit.jsonl"
check_contains "trace: the reward mismatch names the event" "$ERR" "reward event"

printf '[0,2,4]\n{"id":"p2","rewards":[1,null,3]}\n' >"$TMP/groups.jsonl"
printf '{"steps":[[4,0],[2],[0,4]]}\n' >"$TMP/steps.jsonl"
"$L" --trace "$TMP/adv.jsonl" advantages --in "$TMP/groups.jsonl" >/dev/null
"$L" --trace "$TMP/adv.jsonl" advantages --mode batch --preset verl --in "$TMP/groups.jsonl" >/dev/null
"$L" --trace "$TMP/adv.jsonl" advantages --mode step --preset openrlhf --in "$TMP/steps.jsonl" >/dev/null
check_rc_as "trace: advantages runs replay (grpo, batch, step)" 0 "$L" trace replay --verify "$TMP/adv.jsonl"
check_contains "trace: five advantage groups recomputed" "$OUT" "and 5 advantage groups"
schema_check "trace: advantages and reward events match docs/trace.schema.json" "$TMP/adv.jsonl"
schema_check "trace: the concurrently written trace matches docs/trace.schema.json" "$TMP/conc.jsonl"
"$PY" - "$TMP/adv.jsonl" "$TMP/adv-edit.jsonl" <<'P'
import json, sys
out, done = [], False
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "advantages" and e["mode"] == "batch" and not done:
        e["group"] = [0, 2, 5]   # the batch std changes for both groups
        done = True
        l = json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n"
    out.append(l)
open(sys.argv[2], "w").write("".join(out))
P
check_rc_as "trace: an edited advantages group is exit 76" 76 "$L" trace replay --verify "$TMP/adv-edit.jsonl"
check_contains "trace: the advantages mismatch names the event" "$ERR" "advantages event (run"

# ---- list, show, export ---------------------------------------------------------
run "$L" trace list "$TMP/c-inproc.jsonl" --event request
check_eq "trace list --event request: one line per run" 6 "$(printf '%s\n' "$OUT" | wc -l)"
run1=$("$L" trace list "$TMP/c-inproc.jsonl" --event header | head -1 | awk '{print $2}')
run "$L" trace show "$TMP/c-inproc.jsonl" "${run1:0:6}" --event bundle
check_json_eq "trace show RUN --event bundle: the events as JSON" '[b["type"], b["run"], b["command"]]' \
	"[\"bundle\",\"$run1\",\"def\"]"
for f in trl openrlhf verl prm; do
	run "$L" trace export --format "$f" "$TMP/c-inproc.jsonl"
	check_eq "trace export --format $f: one JSON row per run" 6 \
		"$(printf '%s\n' "$OUT" | "$PY" -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)))')"
done
run "$L" trace export --format trl "$TMP/c-inproc.jsonl"
check_json_eq "trace export trl: prompt, completion, reward" '[b["prompt"], b["reward"]]' \
	'["lanser def src/main.c@L14:C2",1]' "$(printf '%s\n' "$OUT" | head -1)"
run "$L" trace export --format prm "$TMP/conc.jsonl"
check_json_eq "trace export prm: step rows with labels" '[len(b["completions"]), b["labels"]]' '[1,[true]]' \
	"$(printf '%s\n' "$OUT" | head -1)"
check_rc_as "trace export without --format is a usage error" 129 "$L" trace export "$TMP/conc.jsonl"
check_rc_as "trace with an unknown subcommand is a usage error" 129 "$L" trace frobnicate x
check_rc_as "trace replay of a missing file exits 3" 3 "$L" trace replay --verify "$TMP/nope.jsonl"

# ---- faults replay too: timeouts (deadline events), crashes, garbage -----------
fws=$TMP/faults
mkdir -p "$fws" && git -C "$fws" init -q && echo x >"$fws/a.fake"
cd "$fws" || exit 1
for m in hang garbage crash-on-request no-init server-requests nonexistent-mode; do
	"$PY" -c '
import json, sys
print(json.dumps({"servers": {"fake": {"command": [sys.argv[1], "--mode", sys.argv[2]],
  "fileTypes": {"*.fake": "fake"}, "readiness": "none"}}, "timeouts": {"initMs": 2000}}))' \
		"$FAKELS" "$m" >"$fws/.lanser.json"
	"$L" --root "$fws" trust >/dev/null
	run "$L" --no-daemon --timeout 1000 --trace "$TMP/fault-$m.jsonl" def a.fake@L1:C1
	want=$RC
	check_rc_as "trace fault $m (exit $want): replay --verify reproduces it" 0 \
		"$L" trace replay --verify "$TMP/fault-$m.jsonl"
done
check_contains "trace fault hang: the wait's deadline is recorded" \
	"$("$L" trace list "$TMP/fault-hang.jsonl" --event deadline)" "deadline fake"

# --- a name that is not UTF-8 (agent/trace.c): the events that carry it are
# recorded, not dropped: U+FFFD in the string, the exact bytes in ...Hex;
# replay matches and re-runs with the bytes, so --verify reproduces the run
nws=$TMP/nonutf8
mkdir -p "$nws/src"
printf 'int a;\n' >"$nws/src/a.c"
BAD=$(printf 'src/caf\351.c')
printf 'int cafe;\n' >"$nws/$BAD"
git -C "$nws" init -q
rm -f "$TMP/nonutf8.jsonl"
run "$L" --root "$nws" --no-daemon --trace "$TMP/nonutf8.jsonl" --json diag "$BAD"
check_eq "trace non-UTF-8 name: diag of it is a usage error (129)" 129 "$RC"
check_eq "trace non-UTF-8 name: the request keeps the argument (U+FFFD, and its bytes in argsHex)" \
	'["src/caf\ufffd.c"] ["7372632f636166e92e63"]' "$("$PY" - "$TMP/nonutf8.jsonl" <<'P'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "request":
        print(json.dumps(e["args"]), json.dumps(e.get("argsHex")))
P
)"
check_eq "trace non-UTF-8 name: the path probe is recorded with its exact bytes" \
	"path 7372632f636166e92e63 key ends 0a7372632f636166e92e63" "$("$PY" - "$TMP/nonutf8.jsonl" <<'P'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "probe":
        print(e["name"], e.get("valueHex"), "key ends", e["keyHex"][-22:])
P
)"
run "$L" trace replay --verify "$TMP/nonutf8.jsonl"
check_eq "trace non-UTF-8 name: replay --verify reproduces the run" 0 "$RC"
check_contains "trace non-UTF-8 name: ... its bundle" "$OUT" "verified: 1 bundle"
if "$PY" -c "import jsonschema" 2>/dev/null; then
	"$L" schema trace >"$TMP/trace.schema.json"
	check_eq "trace non-UTF-8 name: every event validates against 'lanser schema trace'" 0 "$("$PY" -c "
import json, jsonschema
v = jsonschema.Draft202012Validator(json.load(open('$TMP/trace.schema.json')))
print(sum(1 for l in open('$TMP/nonutf8.jsonl') for _ in v.iter_errors(json.loads(l))))")"
fi
