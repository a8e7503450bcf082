#!/usr/bin/env bash
# Lays Debian 13's QEMU 10.0 source (its bookworm-backports upload) into DIR,
# ready to configure on Debian 12: apt serves the orig tarball (the rest of
# that upload may be gone from the archive, and is not needed), whose +ds
# repacking drops what QEMU otherwise bundles, so the Python wheels its
# configure wants (meson >= 1.5, newer than Debian 12's) come from PyPI and
# the firmware images it would unpack are left out.
set -euo pipefail

dir=${1:?usage: fetch-qemu10.sh DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
version=1:10.0.2+ds-2+deb13u1~bpo12+1
mkdir -p "$dir"
cd "$dir"
echo "lab: fetching Debian's QEMU 10.0 source ($version)"
apt-get source -qq --download-only "qemu=$version" >/dev/null 2>&1 || true
tarball=$(find . -maxdepth 1 -name 'qemu_10.0*.orig.tar.xz' | sort | tail -n 1)
[ -n "$tarball" ] || { echo "lab: error: apt-get source qemu=$version served no orig tarball" >&2; exit 1; }
tar -xf "$tarball"
src=$(find . -maxdepth 1 -type d -name 'qemu-10.0*' | sort | tail -n 1)
mkdir -p "$src/python/wheels"
"$repo/.venv/bin/python" -m pip download -q --disable-pip-version-check --no-deps -d "$src/python/wheels" \
	meson==1.5.0 pycotap==1.3.1
sed -i 's/^if unpack_edk2_blobs$/if unpack_edk2_blobs and false  # cryptochat: +ds has no edk2 blobs/' \
	"$src/pc-bios/meson.build"
grep -q 'cryptochat: +ds' "$src/pc-bios/meson.build" ||
	{ echo "lab: error: $src/pc-bios/meson.build changed shape" >&2; exit 1; }
