#!/usr/bin/env bash
# Python references do not depend on which files the daemon has opened
# (issue 12, item 2 for pyright). tests/fixtures/pyrefs: pyrightconfig.json
# includes only pkg/; Box.grow is used in pkg/use.py and three times in
# tests/test_box.py, a file outside the include that pyright searches only
# once it is open. A fresh daemon, a daemon that opened the test file
# first, and --no-daemon give the same references (the tests included) and
# the same bundleId; so does rename's preview.
. "$(dirname "$0")/lib.sh"
need_lanser

P=$(fixture pyrefs) || { fail "pyrefs: copy the fixture" "fixture failed"; exit 1; }
(cd "$P" && git add -A && git -c user.email=t@t -c user.name=t commit -qm base) || exit 1
cd "$P" || exit 1
REFS='sorted([f["path"], f["range"][0]] for f in b["facts"])'
WANT='[["pkg/box.py",8],["pkg/use.py",5],["tests/test_box.py",5],["tests/test_box.py",9],["tests/test_box.py",9]]'

check_rc_as "fresh daemon: refs of Box.grow" 0 "$L" --json refs pkg/box.py@L8:C9
check_json_eq "fresh daemon: the uses in tests/, outside pyright's include, are found" "$REFS" "$WANT"
check_json_eq "fresh daemon: complete" .complete true
ID1=$(json .bundleId)
"$L" daemon stop >/dev/null 2>&1

check_rc_as "another daemon: hover in the test file first" 0 "$L" hover tests/test_box.py@L5:C20
check_rc_as "that daemon: refs of Box.grow" 0 "$L" --json refs pkg/box.py@L8:C9
check_json_eq "that daemon: the same references" "$REFS" "$WANT"
check_eq "that daemon: the same bundleId" "$ID1" "$(json .bundleId)"
"$L" daemon stop >/dev/null 2>&1

check_rc_as "--no-daemon: refs of Box.grow" 0 "$L" --no-daemon --json refs pkg/box.py@L8:C9
check_json_eq "--no-daemon: the same references" "$REFS" "$WANT"
check_eq "--no-daemon: the same bundleId" "$ID1" "$(json .bundleId)"

# pyright's rename leaves the files outside its include alone, even open:
# the bundle says so rather than passing for complete
check_rc_as "--no-daemon: rename preview of Box.grow" 0 "$L" --no-daemon --json rename pkg/box.py@L8:C9 enlarge
check_json_eq "rename preview: edits the package" \
	'sorted(f["path"] for f in b["facts"] if f["kind"] == "edit")' '["pkg/box.py","pkg/use.py"]'
check_json_eq "rename preview: incomplete, naming the uses it leaves" \
	'[b["complete"], [r for r in b.get("incomplete", []) if "3 references" in r and "tests/test_box.py" in r] != []]' \
	'[false,true]'
check_rc_as "rename --apply" 0 "$L" --no-daemon rename pkg/box.py@L8:C9 enlarge --apply
run git status --porcelain
check_eq "rename --apply: the package is edited, the test file is not" " M pkg/box.py
 M pkg/use.py" "$OUT"
