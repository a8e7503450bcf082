#!/usr/bin/env bash
# Installs the Debian packages the VM lab needs: the guest kernel and its headers,
# QEMU's build dependencies and firmware, OpenSSL (its devcrypto engine is built
# against the system libcrypto), a deb-src entry for QEMU's and OpenSSL's source, and redis-server for the
# cluster tests (installed first, by install-test-deps.sh, so that no Redis service is started).
# Idempotent: a machine that has everything gets through in a second.
set -euo pipefail

packages=(
	linux-image-amd64 linux-headers-amd64 busybox-static cpio kmod
	qemu-system-x86 qemu-system-data seabios ipxe-qemu
	meson ninja-build pkg-config libglib2.0-dev libpixman-1-dev libfdt-dev
	libcap-ng-dev libgcrypt20-dev libslirp-dev dpkg-dev
	openssl libssl-dev gcc-multilib dkms
	redis-server
)

"$(dirname "$0")/install-test-deps.sh"

src_list=/etc/apt/sources.list.d/cryptochat-deb-src.sources

missing=()
for pkg in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done

need_update=0
if [ ! -f "$src_list" ]; then
	echo "lab: adding a deb-src entry for Debian's QEMU source"
	cat > "$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	need_update=1
fi

if [ "${#missing[@]}" -gt 0 ]; then
	need_update=1
fi

if [ "$need_update" -eq 1 ]; then
	echo "lab: apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
fi

if [ "${#missing[@]}" -gt 0 ]; then
	echo "lab: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
