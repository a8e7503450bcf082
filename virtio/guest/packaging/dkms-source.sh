#!/usr/bin/env bash
# Lays the driver's DKMS source tree: the driver, the ABI headers it includes
# and dkms.conf, at DIR (default /usr/src/virtio-cryptodev-VERSION). Then:
#   dkms add virtio-cryptodev/VERSION && dkms install virtio-cryptodev/VERSION
# and, for udev to give the device nodes their mode, the rule beside this script
# into /etc/udev/rules.d/ (docs/install.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/pyproject.toml")
dir=${1:-/usr/src/virtio-cryptodev-$version}

rm -rf "$dir"
mkdir -p "$dir/include"
cp "$repo"/virtio/guest/*.c "$repo"/virtio/guest/*.h "$repo/virtio/guest/Kbuild" "$dir/"
cp -r "$repo"/virtio/include/. "$dir/include/"
sed "s/@VERSION@/$version/" "$repo/virtio/guest/packaging/dkms.conf" >"$dir/dkms.conf"
echo "$dir"
