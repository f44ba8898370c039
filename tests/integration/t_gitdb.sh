#!/usr/bin/env bash
# A repository's object and reference databases and info files
# (docs/security.md, "Git configuration of the repository"; core/gitdb.h):
# libgit2 reads them once the repository is open (status, revparse, every
# edit transaction and candidate worktree), with a plain open(2) that blocks
# on a FIFO and follows symlinks. For an untrusted workspace lanser refuses
# (71) a git directory where one is a FIFO or a symlink (packed-refs, a
# loose reference, the index, info/exclude, info/attributes, a loose object,
# the alternates file, a reflog, a symlinked refs/heads), or where
# objects/info/alternates names another object store: having opened
# nothing. Commands: rename --apply (in-process), def (through the daemon),
# eval --patch.
#
# "Not read" is proven as in t_gitconfig.sh: a writer blocked in open(2) on
# the FIFO leaves a marker the moment anything opens it for reading. Each
# attack is run again with --trust (git's own rules), where libgit2 opens it
# (or, for alternates, builds a candidate from another repository's
# objects), so every check can fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser
# a hang is a failed check after 30 s, not a hung suite
RUN_TIMEOUT=30

GIT="git -c user.email=t@example.com -c user.name=t"
O=$TMP/outside
mkdir -p "$O"
C=$(fixture_base cproj) || exit 1
cd "$C" || exit 1
$GIT tag v1
# HEAD's branch lives in packed-refs only, as after a clone
git pack-refs --all
Q=src/main.c@L14:C2
(sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$TMP/good.diff" &&
	git checkout -q -- .)
BR=$(git symbolic-ref --short HEAD)
HEADOID=$(git rev-parse HEAD)
tree_sum() { find src include -type f -exec sha256sum {} + | sort | sha256sum; }

. "$LANSER_REPO_ROOT/tests/integration/fifo_lib.sh"
trap 'unwatch; "$L" daemon stop >/dev/null 2>&1; _lib_cleanup' EXIT

run "$L" --no-daemon rename "$Q" list_add
rc_is "a clean repository previews a rename (the fixture works)" 0

# fifo_attack NAME REL [link] : .git/REL replaced by a FIFO (or, with
# "link", by a symlink to a FIFO outside the workspace); untrusted it is
# refused before anything opens it; with --trust, rename --apply opens it.
fifo_attack() {
	local name=$1 rel=$2 mode=${3:-} fifo
	mv ".git/$rel" "$TMP/saved" 2>/dev/null || rm -f "$TMP/saved"
	mkdir -p "$(dirname ".git/$rel")"
	if [ "$mode" = link ]; then
		fifo=$O/fifo
		rm -f "$fifo"
		mkfifo "$fifo"
		ln -s "$fifo" ".git/$rel"
	else
		fifo=$C/.git/$rel
		mkfifo "$fifo"
	fi
	watch "$fifo"
	local before
	before=$(tree_sum)
	run "$L" --no-daemon rename "$Q" list_add --apply
	refused "$name, rename --apply" "$C/.git/$rel is $([ "$mode" = link ] && echo "a symlink" || echo "not a regular file")"
	check_eq "$name, rename --apply: the tree is unchanged" "$before" "$(tree_sum)"
	never_opened "$name: nothing opened the FIFO"
	run "$L" --trust --no-daemon rename "$Q" list_add --apply
	opened "$name: control, with --trust libgit2 opens it"
	unwatch
	# (git itself would block on the FIFO)
	rm -f ".git/$rel"
	if [ -e "$TMP/saved" ]; then mv "$TMP/saved" ".git/$rel"; fi
	git checkout -q -- .
}

fifo_attack "packed-refs is a FIFO" packed-refs
fifo_attack "a loose branch is a FIFO" "refs/heads/$BR"
fifo_attack "the index is a FIFO" index
fifo_attack "info/exclude is a FIFO" info/exclude
fifo_attack "info/attributes is a FIFO" info/attributes
fifo_attack "objects/info/alternates is a FIFO" objects/info/alternates
fifo_attack "the HEAD commit's loose object is a FIFO" "objects/${HEADOID:0:2}/${HEADOID:2}"
fifo_attack "packed-refs is a symlink to a host FIFO" packed-refs link
fifo_attack "info/exclude is a symlink to a host FIFO" info/exclude link
run "$L" --no-daemon rename "$Q" list_add
rc_is "every attack undone: the repository previews a rename again (0)" 0

# ---- through the daemon, and eval ------------------------------------------------
mkfifo .git/logs/HEAD.fifo
run "$L" def "$Q"
refused "a FIFO in logs/, def through the daemon" "$C/.git/logs/HEAD.fifo is not a regular file"
run "$L" eval --patch "$TMP/good.diff"
refused "a FIFO in logs/, eval --patch" "$C/.git/logs/HEAD.fifo is not a regular file"
rm -f .git/logs/HEAD.fifo
run "$L" def "$Q"
rc_is "the FIFO removed: def through the daemon answers (0)" 0

# ---- a symlinked folder: references read, reflogs written, outside ---------------
mkdir -p "$O/heads"
printf '%s\n' "$HEADOID" >"$O/heads/$BR"
rmdir .git/refs/heads
ln -s "$O/heads" .git/refs/heads
run "$L" --no-daemon rename "$Q" list_add --apply
refused "refs/heads is a symlink to a host folder" "$C/.git/refs/heads is a symlink"
m0=$(stat -c %y "$O/heads")
sleep 0.05
run "$L" --trust --no-daemon eval --patch "$TMP/good.diff"
rc_is "... control, with --trust eval runs (0)" 0
if [ "$(stat -c %y "$O/heads")" != "$m0" ]; then
	ok "... control, with --trust libgit2 wrote its candidate branch into the host folder"
else
	fail "... control, with --trust libgit2 wrote its candidate branch into the host folder" "$O/heads is unchanged"
fi
rm .git/refs/heads
mkdir .git/refs/heads

# ---- alternates naming another repository's objects --------------------------------
H=$TMP/host
$GIT init -q "$H"
printf 'int host_secret(void) { return 42; }\n' >"$H/secret.c"
(cd "$H" && $GIT add -A && $GIT commit -qm host)
HOSTOID=$(git -C "$H" rev-parse HEAD)
printf '%s\n' "$H/.git/objects" >.git/objects/info/alternates
printf '%s\n' "$HOSTOID" >.git/refs/heads/hostile
run "$L" --no-daemon eval --patch "$TMP/good.diff" --base hostile
refused "alternates naming another repository's objects, eval --base" "objects/info/alternates names other object stores"
run "$L" --no-daemon rename "$Q" list_add
refused "alternates naming another repository's objects, rename" "objects/info/alternates names other object stores"
run "$L" --trust --no-daemon eval --patch "$TMP/good.diff" --base hostile
if [ "$RC" != 71 ] && [ "$RC" != 3 ] && [ "$RC" != 124 ]; then
	ok "... control, with --trust the base commit is read from the other repository (exit $RC)"
else
	fail "... control, with --trust the base commit is read from the other repository" "$(_rc_details 0)"
fi
: >.git/objects/info/alternates
run "$L" --no-daemon rename "$Q" list_add
rc_is "an empty alternates file: previews (0)" 0
rm -f .git/objects/info/alternates .git/refs/heads/hostile

# ---- a linked worktree: its own git directory and the common one -------------------
$GIT worktree add -q "$TMP/wt" HEAD 2>/dev/null
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
rc_is "a linked worktree, clean: patch previews (0)" 0
rm -f "$C/.git/worktrees/wt/FETCH_HEAD"
mkfifo "$C/.git/worktrees/wt/FETCH_HEAD"
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
refused "a linked worktree's git directory holding a FIFO" "worktrees/wt/FETCH_HEAD is not a regular file"
rm -f "$C/.git/worktrees/wt/FETCH_HEAD"
mkfifo "$C/.git/refs/tags/v2"
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
refused "a linked worktree whose common directory holds a FIFO tag" "$C/.git/refs/tags/v2 is not a regular file"
rm -f "$C/.git/refs/tags/v2"
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
rc_is "the FIFO removed: the linked worktree's patch previews again (0)" 0
