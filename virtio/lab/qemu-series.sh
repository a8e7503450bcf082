#!/usr/bin/env bash
# Lays the virtio-cryptodev device model into a QEMU source tree and hooks it
# into the build: our files under hw/ and include/, the ABI headers under
# include/cryptochat/, two lines in hw/virtio/meson.build, one name in
# virtio_device_names[], and our trace events. Idempotent: a file is rewritten
# only when its content changes, so ninja recompiles only what an edit touched.
# No Kconfig symbol on purpose: a new one makes QEMU rebuild almost everything.
set -euo pipefail

qemu=${1:?usage: patch-qemu.sh QEMU_SOURCE_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
marker="cryptochat"

# install_if_changed SRC DST: copy keeping DST's mtime when nothing changed.
install_if_changed() {
	mkdir -p "$(dirname "$2")"
	cmp -s "$1" "$2" || cp "$1" "$2"
}

(cd "$repo/virtio/qemu" && find hw include -type f) | while read -r f; do
	install_if_changed "$repo/virtio/qemu/$f" "$qemu/$f"
done
(cd "$repo/virtio/include" && find . -type f -name '*.h') | while read -r f; do
	install_if_changed "$repo/virtio/include/$f" "$qemu/include/cryptochat/$f"
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# meson: the device in the source set upstream's virtio-crypto.c is in
# (virtio_ss in 7.2, system_virtio_ss in 10.0), its PCI proxy in virtio_pci_ss,
# both before the line that adds virtio_pci_ss to its parent.
device_ss=$(sed -n "s/^\([a-z_]*\)\.add(when: 'CONFIG_VIRTIO_CRYPTO', if_true: files('virtio-crypto\.c'))$/\1/p" \
	"$qemu/hw/virtio/meson.build")
[ -n "$device_ss" ] || { echo "patch-qemu: hw/virtio/meson.build changed shape (virtio-crypto.c)" >&2; exit 1; }
grep -v "# $marker" "$qemu/hw/virtio/meson.build" |
	sed "/^[a-z_]*virtio_ss.add_all(when: 'CONFIG_VIRTIO_PCI', if_true: virtio_pci_ss)/i\\
$device_ss.add(files('virtio-cryptodev.c', 'virtio-cryptodev-builtin.c', 'virtio-cryptodev-devcrypto.c'))  # $marker\\
virtio_pci_ss.add(files('virtio-cryptodev-pci.c'))  # $marker" >"$tmp"
grep -q "# $marker" "$tmp" || { echo "patch-qemu: hw/virtio/meson.build changed shape" >&2; exit 1; }
install_if_changed "$tmp" "$qemu/hw/virtio/meson.build"

# virtio_device_names[]: QEMU asserts every realized device id has a name.
grep -v "/\* $marker" "$qemu/hw/virtio/virtio.c" |
	sed "s|^\(    \[VIRTIO_ID_GPIO\] = \"virtio-gpio\"\),\?$|\1,\\
    [63] = \"virtio-cryptodev\", /* $marker: VIRTIO_ID_CRYPTODEV */|" >"$tmp"
grep -q "/\* $marker" "$tmp" || { echo "patch-qemu: virtio_device_names[] changed shape" >&2; exit 1; }
install_if_changed "$tmp" "$qemu/hw/virtio/virtio.c"

# Trace events: ours go between markers at the end of hw/virtio/trace-events.
sed "/^# $marker begin/,/^# $marker end/d" "$qemu/hw/virtio/trace-events" >"$tmp"
{
	echo "# $marker begin"
	cat "$repo/virtio/qemu/trace-events"
	echo "# $marker end"
} >>"$tmp"
install_if_changed "$tmp" "$qemu/hw/virtio/trace-events"
