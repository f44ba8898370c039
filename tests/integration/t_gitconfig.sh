#!/usr/bin/env bash
# A repository's own git files name host files (docs/security.md, "Git
# configuration of the repository"; core/gitvet.h): libgit2 reads them while
# it opens the repository, before lanser can filter anything. For an
# untrusted workspace lanser checks them first and refuses (71), having
# opened nothing: an include.path / includeIf path naming a FIFO (a hang),
# a host file, a file in ~; a .git/config that is a symlink or a FIFO; a
# .git/gitdir FIFO; a `.git` file that is a symlink or leads to a git
# directory whose configuration does; core.worktree elsewhere. Includes
# inside the repository still work. Commands: def (in-process and through
# the daemon), rename --apply, eval --patch, a linked worktree.
#
# "Not read" is proven with a writer blocked in open(2) on the FIFO: it
# leaves a marker the moment anything opens the FIFO for reading. Each
# attack is also run with --trust (git's own rules), where libgit2 opens the
# FIFO: the marker appears, so every "never opened" check can fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/edit_lib.sh"
need_lanser
# a hang is a failed check after 30 s, not a hung suite
RUN_TIMEOUT=30

GIT="git -c user.email=t@example.com -c user.name=t"
O=$TMP/outside
mkdir -p "$O"
FIFO=$O/fifo
mkfifo "$FIFO"
C=$(fixture cproj)
(cd "$C" && $GIT add -A && $GIT commit -qm base) || exit 1
cd "$C" || exit 1
Q=src/main.c@L14:C2
# the patch for eval, made while git itself can still read the repository
# (git blocks on an included FIFO too: no git command runs while one is set)
(sed -i 's/return a > b ? a : b;/return b < a ? a : b;/' src/util.c && git diff >"$TMP/good.diff" &&
	git checkout -q -- .)
cp .git/config "$TMP/config.orig"
# setcfg TEXT... : the original .git/config plus lines (printf format)
setcfg() {
	local f=$1
	shift
	cp "$TMP/config.orig" .git/config
	# shellcheck disable=SC2059
	printf "$f" "$@" >>.git/config
}
resetcfg() { cp "$TMP/config.orig" .git/config; }
tree_sum() { find src include -type f -exec sha256sum {} + | sort | sha256sum; }

# watch, unwatch, never_opened, opened, refused: fifo_lib.sh
. "$LANSER_REPO_ROOT/tests/integration/fifo_lib.sh"
trap 'unwatch; _lib_cleanup' EXIT

run "$L" --no-daemon def "$Q"
rc_is "a clean repository answers (the fixture works)" 0

# ---- include.path naming a FIFO outside the workspace -------------------------
setcfg '[include]\n\tpath = %s\n' "$FIFO"
watch "$FIFO"
before=$(tree_sum)
run "$L" --no-daemon def "$Q"
refused "include.path -> FIFO, def --no-daemon" "include.path names $FIFO, which is not a regular file"
run "$L" def "$Q"
refused "include.path -> FIFO, def through the daemon" "include.path names $FIFO"
run "$L" rename "$Q" list_add --apply
refused "include.path -> FIFO, rename --apply" "include.path names $FIFO"
check_eq "include.path -> FIFO, rename --apply: the tree is unchanged" "$before" "$(tree_sum)"
run "$L" eval --patch "$TMP/good.diff"
refused "include.path -> FIFO, eval --patch" "include.path names $FIFO"
never_opened "include.path -> FIFO: nothing opened the FIFO"
run "$L" --trust --no-daemon patch "$TMP/good.diff"
opened "include.path -> FIFO: control, with --trust libgit2 opens it"
unwatch

# ---- a regular host file, a missing one, a file in ~ ----------------------------
printf '[core]\n\texcludesFile = /etc/passwd\n' >"$O/host.cfg"
setcfg '[include]\n\tpath = %s\n' "$O/host.cfg"
run "$L" --no-daemon def "$Q"
refused "include.path -> a host file" "include.path names $O/host.cfg, which lies outside the repository"
setcfg '[include]\n\tpath = %s\n' "$O/missing.cfg"
run "$L" --no-daemon def "$Q"
refused "include.path -> a missing host file (it could appear)" "which lies outside the repository"
setcfg '[include]\n\tpath = ~/.gitconfig-lanser-test\n'
run "$L" --no-daemon def "$Q"
refused "include.path -> ~/..." "names a file in your home folder"

# ---- includeIf, whatever its condition; other spellings of the key ------------
setcfg '[includeIf "gitdir:%s/"]\n\tpath = %s\n' "$C" "$FIFO"
watch "$FIFO"
run "$L" --no-daemon def "$Q"
refused "includeIf.gitdir:... -> FIFO" "includeIf.gitdir:$C/.path names $FIFO"
never_opened "includeIf.gitdir:... -> FIFO: nothing opened the FIFO"
run "$L" --trust --no-daemon patch "$TMP/good.diff"
opened "includeIf.gitdir:... -> FIFO: control, with --trust libgit2 opens it"
unwatch
setcfg '[includeIf "onbranch:nosuchbranch"]\n\tpath = %s\n' "$FIFO"
run "$L" --no-daemon def "$Q"
refused "includeIf.onbranch (not even matching) -> FIFO" "includeIf.onbranch:nosuchbranch.path"
setcfg '[INCLUDE] PATH = "%s" ; on the header line\n' "$FIFO"
run "$L" --no-daemon def "$Q"
refused "[INCLUDE] PATH = ... on the header line, upper case" "include.path names $FIFO"
setcfg '[include]\n\tpath = %s\\\n%s\n' "${FIFO%/*}" "/${FIFO##*/}"
run "$L" --no-daemon def "$Q"
refused "include.path continued on the next line" "include.path names $FIFO"
resetcfg

# ---- includes inside the repository still work, and are followed -------------
printf '[user]\n\tname = project\n' >.gitconfig-project
setcfg '[include]\n\tpath = ../.gitconfig-project\n'
run "$L" --no-daemon def "$Q"
rc_is "include.path -> a regular file in the work tree: answers (0)" 0
printf '[include]\n\tpath = %s\n' "$FIFO" >>.gitconfig-project
watch "$FIFO"
run "$L" --no-daemon def "$Q"
refused "an include inside the repository that includes a FIFO" ".gitconfig-project:4: include.path names $FIFO"
never_opened "... nothing opened the FIFO"
unwatch
printf '[include]\n\tpath = .gitconfig-project\n' >.gitconfig-project
run "$L" --no-daemon def "$Q"
refused "an include that includes itself" "included too deeply"
resetcfg
rm -f .gitconfig-project

# ---- the configuration file itself, and the git directory's link files ---------
rm .git/config
ln -s /dev/zero .git/config
run "$L" --no-daemon def "$Q"
refused ".git/config -> /dev/zero" "/.git/config is not a regular file"
rm .git/config
cp "$TMP/config.orig" "$O/config"
ln -s "$O/config" .git/config
run "$L" --no-daemon def "$Q"
refused ".git/config -> a host file" "/.git/config lies outside the repository"
rm .git/config
mkfifo .git/config
watch "$C/.git/config"
run "$L" --no-daemon def "$Q"
refused ".git/config is a FIFO" "/.git/config is not a regular file"
never_opened ".git/config is a FIFO: nothing opened it"
unwatch
rm .git/config
resetcfg
mkfifo .git/gitdir
watch "$C/.git/gitdir"
run "$L" --no-daemon def "$Q"
refused ".git/gitdir is a FIFO" ".git/gitdir is not a regular file"
never_opened ".git/gitdir is a FIFO: nothing opened it"
run "$L" --trust --no-daemon patch "$TMP/good.diff"
opened ".git/gitdir is a FIFO: control, with --trust libgit2 opens it"
unwatch
rm .git/gitdir

# ---- core.worktree moves the work tree --------------------------------------------
mkdir -p "$O/wt"
setcfg '[core]\n\tworktree = %s\n' "$O/wt"
check_eq "core.worktree: git itself takes $O/wt as the work tree" "$O/wt" "$(git rev-parse --show-toplevel)"
run "$L" --no-daemon def "$Q"
refused "core.worktree elsewhere" "core.worktree = $O/wt moves the work tree"
setcfg '[core]\n\tworktree = %s\n' "$C"
run "$L" --no-daemon def "$Q"
rc_is "core.worktree naming the folder that holds .git: answers (0)" 0
resetcfg

# ---- a `.git` file: a symlink, or a git directory elsewhere ---------------------
S=$TMP/split
mkdir -p "$S"
cp -r "$C/src" "$C/include" "$S/"
git clone -q --bare "$C" "$O/elsewhere.git"
sed -i 's/bare = true/bare = false/' "$O/elsewhere.git/config"
cp "$O/elsewhere.git/config" "$TMP/elsewhere.orig"
printf 'gitdir: %s\n' "$O/elsewhere.git" >"$S/.git"
cd "$S" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
rc_is "a .git file naming a git directory elsewhere (clean): patch previews (0)" 0
printf '[include]\n\tpath = %s\n' "$FIFO" >>"$O/elsewhere.git/config"
watch "$FIFO"
cd "$S" && run "$L" --no-daemon def "$Q"; cd "$C" || exit 1
refused "a .git file naming a git directory whose config includes a FIFO" "include.path names $FIFO"
never_opened "... nothing opened the FIFO"
unwatch
cp "$TMP/elsewhere.orig" "$O/elsewhere.git/config"
mv "$S/.git" "$O/gitfile"
ln -s "$O/gitfile" "$S/.git"
cd "$S" && run "$L" --no-daemon def "$Q"; cd "$C" || exit 1
refused "a .git file that is a symlink" "/.git is a symlink"
rm "$S/.git"

# ---- a linked worktree ---------------------------------------------------------------
$GIT worktree add -q "$TMP/wt" HEAD 2>/dev/null
cp .git/config "$TMP/config.orig"
WG=$C/.git/worktrees/wt
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
rc_is "a linked worktree: patch previews (0)" 0
setcfg '[include]\n\tpath = %s\n' "$FIFO"
watch "$FIFO"
cd "$TMP/wt" && run "$L" --no-daemon def "$Q"; cd "$C" || exit 1
refused "a linked worktree whose common config includes a FIFO" "include.path names $FIFO"
never_opened "... nothing opened the FIFO"
unwatch
resetcfg
# libgit2's worktree calls read a record's "locked" file whatever it is
mkfifo "$WG/locked"
watch "$WG/locked"
run "$L" --no-daemon def "$Q"
refused "a worktree record whose locked file is a FIFO" "worktrees/wt/locked is not a regular file"
never_opened "... nothing opened it"
unwatch
rm -f "$WG/locked"
# libgit2 1.5 never reads config.worktree: a FIFO included there is harmless
printf '[include]\n\tpath = %s\n' "$FIFO" >"$WG/config.worktree"
watch "$FIFO"
cd "$TMP/wt" && run "$L" --no-daemon patch "$TMP/good.diff"; cd "$C" || exit 1
rc_is "a worktree's config.worktree including a FIFO: patch previews (0), libgit2 1.5 does not read it" 0
sed 's/repositoryformatversion = 0/repositoryformatversion = 1/' "$TMP/config.orig" >.git/config
printf '[extensions]\n\tworktreeConfig = true\n' >>.git/config
cd "$TMP/wt" && run "$L" --no-daemon def "$Q"; cd "$C" || exit 1
if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
	fail "... with extensions.worktreeConfig: no hang" "$(_rc_details 0)"
else
	ok "... with extensions.worktreeConfig: no hang (exit $RC)"
fi
never_opened "... nothing opened the FIFO"
unwatch
resetcfg
rm -f "$WG/config.worktree"
