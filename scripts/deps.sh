#!/usr/bin/env bash
# Installs what lanser needs and is missing; idempotent and quiet when all
# is present. Debian packages (when running as root, else prints the command),
# then the pinned npm packages (language servers and tree-sitter sources)
# from deps/package-lock.json into deps/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(gcc make git pkg-config libgit2-dev libjansson-dev libcurl4-openssl-dev nettle-dev
          clangd clang libclang-rt-dev nodejs npm python3 python3-pytest python3-jsonschema
          bubblewrap libseccomp-dev procps ca-certificates cmake
          libmicrohttpd-dev haproxy tmux curl)

missing=()
for p in "${APT_PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		# node/npm may come from elsewhere (nvm, image); accept a working binary.
		case "$p" in
		nodejs) command -v node >/dev/null && continue ;;
		npm) command -v npm >/dev/null && continue ;;
		python3) [ -x /usr/bin/python3 ] && continue ;;
		esac
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "deps: installing Debian packages: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "deps: missing Debian packages: ${missing[*]}" >&2
		echo "deps: run: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
fi

# npm packages at the exact versions of the lockfile. Re-run only when the
# lockfile changed since the last successful install.
stamp=deps/.stamp-npm
want="$(sha256sum deps/package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -d deps/node_modules/pyright ]; then
	echo "deps: installing pinned npm packages (deps/package-lock.json)"
	(cd deps && npm ci --ignore-scripts --no-audit --no-fund --legacy-peer-deps --loglevel=error >/dev/null)
	echo "$want" > "$stamp"
fi

for f in deps/node_modules/tree-sitter/vendor/tree-sitter/lib/src/lib.c \
         deps/node_modules/tree-sitter-c/src/parser.c \
         deps/node_modules/tree-sitter-python/src/parser.c \
         deps/node_modules/tree-sitter-typescript/typescript/src/parser.c \
         deps/node_modules/tree-sitter-typescript/tsx/src/parser.c \
         deps/node_modules/tree-sitter-javascript/src/parser.c; do
	[ -f "$f" ] || { echo "deps: $f missing after install" >&2; exit 1; }
done
