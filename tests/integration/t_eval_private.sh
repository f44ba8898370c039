#!/usr/bin/env bash
# The after pass skips the rebuild of a relevant file the candidate does not
# touch only when the change cannot reach it (docs/eval.md, step 5): every
# changed file a C source that no file includes. Here src/unity.c includes
# src/gen.c (a unity build): a candidate that changes gen_value's signature
# in gen.c must show the broken call in src/unity.c; a change of util.h must
# show the broken call in src/main.c; a change of util.c alone (private:
# nothing includes it) leaves src/main.c as at the base, and its reward
# equals the one of a candidate that also touches main.c harmlessly (which
# rebuilds main.c).
. "$(dirname "$0")/lib.sh"
need_lanser

GIT="git -c user.email=t@example.com -c user.name=t"
C=$(fixture cproj c)
printf 'int gen_value(int x)\n{\n\treturn x + 1;\n}\n' >"$C/src/gen.c"
printf '#include "gen.c"\n\nint unity_use(void)\n{\n\treturn gen_value(2);\n}\n' >"$C/src/unity.c"
"$PY" - "$C/compile_commands.json" <<'PY'
import json, sys
p = sys.argv[1]
db = json.load(open(p))
e = dict(next(x for x in db if x["file"].endswith("src/util.c")))
for k in ("command", "file", "output"):
    if k in e:
        e[k] = e[k].replace("util.c", "unity.c").replace("util.o", "unity.o")
if "arguments" in e:
    e["arguments"] = [a.replace("util.c", "unity.c").replace("util.o", "unity.o") for a in e["arguments"]]
db.append(e)
json.dump(db, open(p, "w"), indent=1)
PY
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
mk() { (cd "$C" && eval "$2" && git diff >"$TMP/$1.diff" && git checkout -q -- .); }
mk gen 'sed -i -e "s/^int gen_value(int x)\$/int gen_value(int x, int y)/" -e "s/return x + 1;/return x + y;/" src/gen.c'
mk hdr 'sed -i "s/int max_int(int a, int b);/int max_int(int a, int b, int c);/" src/util.h'
mk util 'sed -i "s/return a > b ? a : b;/return a > b ? a : undefined_name;/" src/util.c'
mk utilmain 'sed -i "s/return a > b ? a : b;/return a > b ? a : undefined_name;/" src/util.c; sed -i "1i /* touched */" src/main.c'
printf '{"schema": "lanser.task/1", "id": "p", "test": ["true"]}\n' >"$TMP/p.json"
paths() { json '",".join(sorted(set(f["path"] for f in b["facts"] if f.get("kind") == "diagnostic")))'; }

check_rc_as "group of the four candidates" 0 "$L" --root "$C" --json group --task "$TMP/p.json" \
	--patch "$TMP/gen.diff" --patch "$TMP/hdr.diff" --patch "$TMP/util.diff" --patch "$TMP/utilmain.diff" \
	--out "$TMP/group.jsonl"
for k in 1 2 3 4; do sed -n "${k}p" "$TMP/group.jsonl" >"$TMP/c$k.json"; done
OUT=$(cat "$TMP/c1.json")
check_eq "gen.c changed (src/unity.c includes it): the broken call in unity.c" "src/unity.c" "$(paths)"
OUT=$(cat "$TMP/c2.json")
check_eq "util.h changed: the broken call in main.c (and util.c's conflict)" "src/main.c,src/util.c" "$(paths)"
OUT=$(cat "$TMP/c3.json")
check_eq "util.c changed (nothing includes it): its own error only" "src/util.c" "$(paths)"
R3=$(json .outcome.reward.reward)
OUT=$(cat "$TMP/c4.json")
check_eq "util.c and main.c changed: the same error only" "src/util.c" "$(paths)"
check_eq "util.c alone and util.c + main.c: the same reward" "$R3" "$(json .outcome.reward.reward)"
# one candidate at a time (eval) gives the same bundle as in the group
for k in gen util; do
	n=$([ $k = gen ] && echo 1 || echo 3)
	run "$L" --root "$C" --json eval --task "$TMP/p.json" --patch "$TMP/$k.diff"
	check_eq "eval $k: the facts of the group's candidate" "$(json '[f for f in b["facts"]]' "$(cat "$TMP/c$n.json")")" "$(json '[f for f in b["facts"]]')"
done
