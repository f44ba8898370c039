#!/usr/bin/env bash
# `lanser group --jsonl` (issue 13, item 7): one JSON line per candidate as
# each finishes, then the group's document with the advantages (the very
# document --json prints); a group none of whose members can be scored
# exits with the code `eval` gives such a candidate, not 0.
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj)
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
cd "$TMP" || exit 1

mkpatch() {
	(cd "$C" && sed -i "$2" "$3" && git diff >"$TMP/$1" && git checkout -q -- .)
	[ -s "$TMP/$1" ] || echo "mkpatch: $1 is empty" >&2
}
mkpatch good.diff 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c
mkpatch testfail.diff 's/return hi;/return hi - 1;/' src/util.c
mkpatch hang.diff 's/^\tlist_init(&l);/\tfor (;;) { }\n\tlist_init(\&l);/' tests/test_list.c
printf 'I could not produce a patch.\n' >"$TMP/junk.diff"

# --- the lines parse, one per candidate, and the last one is --json's document
run "$L" --root "$C" group --jsonl "$TMP/good.diff" "$TMP/testfail.diff" "$TMP/junk.diff"
check_eq "group --jsonl: exit 0" 0 "$RC"
printf '%s\n' "$OUT" >"$TMP/stream.jsonl"
run "$L" --root "$C" --json group "$TMP/good.diff" "$TMP/testfail.diff" "$TMP/junk.diff"
check_eq "group --json: exit 0" 0 "$RC"
printf '%s\n' "$OUT" >"$TMP/group.json"
check_eq "group --jsonl: one line per candidate, then the group" ok "$("$PY" - "$TMP" <<'EOF'
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/stream.jsonl") if l.strip()]
g = json.load(open(d + "/group.json"))
cands, last = lines[:-1], lines[-1]
assert len(lines) == 4, len(lines)
assert all(c["schema"] == "lanser.group.candidate/1" for c in cands), cands
assert sorted(c["index"] for c in cands) == [0, 1, 2], [c["index"] for c in cands]
assert sorted(c["id"] for c in cands) == ["good", "junk", "testfail"], [c["id"] for c in cands]
assert all("advantage" not in c for c in cands)
assert last["schema"] == "lanser.group/1", last["schema"]
assert last["advantages"] == g["advantages"], (last["advantages"], g["advantages"])
for c in cands:
    m = last["candidates"][c["index"]]
    assert m["id"] == c["id"] and m["reward"] == c["reward"] and m["bundleId"] == c["bundleId"], (c, m)
print("ok")
EOF
)"
check_json_eq "group --jsonl: rewards as --json's (good 2.625, testfail 1, junk 0)" \
	'[c["reward"] for c in b["candidates"]]' '[2.625,1,0]' "$(tail -n 1 "$TMP/stream.jsonl")"

# --- as each finishes: the first lines come while another candidate's test
# still hangs (it ends only when this script kills it, so the order does not
# depend on timing)
printf '{"schema": "lanser.task/1", "id": "stream", "limits": {"wallMs": 600000}}\n' >"$TMP/task-long.json"
check_eq "group --jsonl: lines arrive while a candidate's tests still run" "2 lines before the hang ended, 4 in all" \
	"$(timeout -k 5 "$RUN_TIMEOUT" "$PY" - "$L" "$C" "$TMP" <<'EOF'
import json, os, subprocess, sys, time
L, C, T = sys.argv[1:4]
p = subprocess.Popen([L, "--root", C, "group", "--jsonl", "--task", T + "/task-long.json",
                      T + "/hang.diff", T + "/good.diff", T + "/junk.diff"],
                     stdout=subprocess.PIPE, stderr=open(T + "/stream.err", "w"), text=True)
def hung():
    pids = []
    for pid in os.listdir("/proc"):
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read()
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if b"tests/test_list" in cmd and cwd.startswith(T + "/"):
            pids.append(int(pid))
    return pids
early = []
while len(early) < 2:
    l = p.stdout.readline()
    if not l:
        break
    early.append(json.loads(l))
alive = hung()
for pid in alive:
    os.kill(pid, 9)
rest = [json.loads(l) for l in p.stdout if l.strip()]
p.wait()
ids = sorted(c["id"] for c in early)
if ids != ["good", "junk"] or not alive:
    print("early %s, hanging test alive: %s, rest %d" % (ids, bool(alive), len(rest)))
else:
    print("%d lines before the hang ended, %d in all" % (len(early), len(early) + len(rest)))
EOF
)"
check_eq "group --jsonl: no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"

# --- every candidate unscorable: eval's code for them (83: a limit the
# base's tests hit too: the harness's, not the candidates'), not 0
printf '{"schema": "lanser.task/1", "id": "all-unscorable", "limits": {"wallMs": 3000}, "test": ["sh", "-c", "sleep 60"]}\n' >"$TMP/task-short.json"
mkpatch hang2.diff 's/^\tlist_init(&l);/\twhile (1) { }\n\tlist_init(\&l);/' tests/test_list.c
run "$L" --root "$C" --json group --task "$TMP/task-short.json" "$TMP/hang.diff" "$TMP/hang2.diff"
check_eq "group, every candidate unscorable: exit 83 SANDBOX (eval's code for them)" 83 "$RC"
check_json_eq "group, every candidate unscorable: the document is still printed" \
	'[c["scorable"] for c in b["candidates"]]' '[false,false]'
check_contains "group, every candidate unscorable: the message says so" "$ERR" "no candidate could be scored (hang:"
printf '{"schema": "lanser.task/1", "id": "hangs", "limits": {"wallMs": 3000}}\n' >"$TMP/task-hang.json"
run "$L" --root "$C" --json group --task "$TMP/task-hang.json" "$TMP/hang.diff" "$TMP/hang2.diff"
check_eq "group, candidates whose tests hang while the base's end in time: scored, exit 0" 0 "$RC"
check_json_eq "group, candidates whose tests hang: tests failed, reward 1 each" \
	'[(c["scorable"], c["tests"], c["reward"]) for c in b["candidates"]]' '[[true,"failed",1],[true,"failed",1]]'
run "$L" --root "$C" --json group --task "$TMP/task-hang.json" "$TMP/hang.diff" "$TMP/good.diff"
check_eq "group, one candidate passes: exit 0" 0 "$RC"
check_eq "no worktree left" 1 "$(git -C "$C" worktree list | wc -l)"
check_no_procs "no language server or test left" "$TMP"
