#!/usr/bin/env bash
# The README's two commands on a fresh machine (issue 14, "Must show").
#
#   sudo bash scripts/fresh-machine-check.sh [--root DIR] [--keep] [--demo-only] [SOURCE]
#
# Bootstraps a minimal Debian 12 root with debootstrap (installed with apt
# when missing), clones SOURCE (default: this checkout, its committed HEAD)
# into /root/lanser of that root (a 0700 folder, as on a real machine), enters
# it as a machine of its own - a private mount namespace and pid namespace,
# pivot_root (not chroot, which refuses user namespaces), /sys and /dev bound
# recursively, a fresh /proc - and runs, as root and in order, the README's
# commands:
#
#   apt-get install -y make      (the one thing a minimal Debian lacks)
#   make demo
#   make test
#
# It prints both exit codes and the closing line of `make test`; the full
# output is in DIR/root/fresh-check.log. Needs root, network to Debian's
# mirror and the npm registry, ~3 GB of disk; takes 40-90 minutes (the test
# suite is most of it). DIR defaults to /var/tmp/lanser-fresh and is removed
# at the end unless --keep. A DIR that already holds a bootstrapped root is
# reused (only the clone is fresh).
set -euo pipefail

root=/var/tmp/lanser-fresh
keep=0
demo_only=0
src=
while [ $# -gt 0 ]; do
	case "$1" in
	--root) root=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--demo-only) demo_only=1; shift ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "fresh-machine-check: unknown option $1" >&2; exit 129 ;;
	*) src=$1; shift ;;
	esac
done
[ -n "$src" ] || src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "fresh-machine-check: needs root (debootstrap, namespaces, pivot_root)" >&2
	exit 1
fi
case "$root" in
/|/usr|/var|/tmp|/root|/home|"") echo "fresh-machine-check: refusing --root $root" >&2; exit 129 ;;
esac
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null; then
	echo "fresh-machine-check: installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -x "$root/usr/bin/apt-get" ] || [ ! -f "$root/.bootstrapped" ]; then
	echo "fresh-machine-check: debootstrap --variant=minbase bookworm $root ($mirror)"
	rm -rf "$root"
	mkdir -p "$root"
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
		tail -20 "$root.debootstrap.log"; echo "fresh-machine-check: debootstrap failed" >&2; exit 1; }
	touch "$root/.bootstrapped"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A host behind a TLS-intercepting proxy trusts its proxy's CA through
# /usr/local/share/ca-certificates; the fresh machine gets the same (the
# ca-certificates package that `make deps` installs adds them to the system
# store), so that the check tests the project, not the proxy.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
	mkdir -p "$root/usr/local/share/ca-certificates"
	cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	echo "fresh-machine-check: the host's local CA certificates copied in"
fi

# The clone: the fresh machine has no git yet, so the host clones; the
# checkout sits under /root (mode 0700) like a newcomer's would.
rm -rf "$root/root/lanser"
chmod 700 "$root/root"
git clone -q --no-hardlinks "$src" "$root/root/lanser"
echo "fresh-machine-check: cloned $src ($(git -C "$root/root/lanser" rev-parse --short HEAD))"

inner=$root/root/fresh-check.sh
cat >"$inner" <<EOF
#!/bin/sh
cd /root/lanser || exit 1
echo "== apt-get install -y make"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq make >/dev/null
echo "apt rc \$?"
echo "== make demo"
start=\$(date +%s)
make demo
echo "demo rc \$? (\$(( \$(date +%s) - start )) s)"
[ $demo_only = 1 ] && exit 0
echo "== make test"
start=\$(date +%s)
make test
echo "test rc \$? (\$(( \$(date +%s) - start )) s)"
EOF
chmod 755 "$inner"

# Enter the root as a machine: new mount and pid namespaces, the root bound
# onto itself so that pivot_root can take it, /dev and /sys bound
# recursively, a /proc of the new pid namespace, then pivot_root and drop
# the old root.
log=$root/root/fresh-check.log
unshare --mount --pid --fork --propagation private -- /bin/sh -c '
	set -e
	r=$1
	mount --rbind "$r" "$r"
	mount --rbind /dev "$r/dev"
	mount --rbind /sys "$r/sys"
	mount -t proc proc "$r/proc"
	mount -t tmpfs -o mode=755 tmpfs "$r/run"
	mkdir -p "$r/.oldroot"
	cd "$r"
	pivot_root . .oldroot
	umount -l /.oldroot
	exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM=dumb LANG=C.UTF-8 ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt} \
		/bin/sh /root/fresh-check.sh
' sh "$root" >"$log" 2>&1 || true

echo "fresh-machine-check: log $log"
grep -E '^(apt|demo|test) rc ' "$log" || true
grep -E '^total: [0-9]+ passed' "$log" | tail -1 || echo "(no closing test line)"
tail -5 "$log"
demo_rc=$(sed -n 's/^demo rc \([0-9]*\).*/\1/p' "$log")
test_rc=$(sed -n 's/^test rc \([0-9]*\).*/\1/p' "$log")
echo "make demo: exit ${demo_rc:-none}; make test: exit ${test_rc:-none}"
if [ "$keep" = 0 ]; then
	cp "$log" "$root.log"
	echo "fresh-machine-check: removing $root (log kept in $root.log)"
	rm -rf "$root"
fi
[ "${demo_rc:-1}" = 0 ] && { [ "$demo_only" = 1 ] || [ "${test_rc:-1}" = 0 ]; }
