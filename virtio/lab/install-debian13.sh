#!/usr/bin/env bash
# The Debian packages of the debian13 lab profile: a 6.12 guest kernel and its
# headers (Debian 12's own 6.12 kernels), and the bookworm-backports deb-src
# entry that serves Debian 13's QEMU 10.0 source. Idempotent.
set -euo pipefail

say() { echo "lab: $*"; }
list=/etc/apt/sources.list.d/cryptochat-backports.sources

if [ ! -f "$list" ]; then
	say "adding bookworm-backports (deb and deb-src; pinned below bookworm by default)"
	cat >"$list" <<'SRC'
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi

# Any 6.12 kernel with headers will do; take the newest Debian offers.
if ! compgen -G '/lib/modules/6.12.*/build' >/dev/null; then
	release=$(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
		sed 's/^linux-headers-\([^ ]*\) .*/\1/' | sort -V | tail -n 1)
	[ -n "$release" ] || { echo "lab: error: Debian offers no 6.12 kernel headers" >&2; exit 1; }
	say "installing the $release kernel and its headers"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"linux-image-$release" "linux-headers-$release" >/dev/null
fi
