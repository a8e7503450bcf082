#!/usr/bin/env bash
# The QEMU side of virtio-cryptodev as a patch series, written for one QEMU
# source tree and applied to it with `git am`.
#
#   qemu-series.sh format QEMU_SOURCE_DIR OUT_DIR   write OUT_DIR/000N-*.patch
#   qemu-series.sh apply  QEMU_SOURCE_DIR OUT_DIR   git am them, lay the result in
#
# The series is two patches: the ABI headers under include/cryptochat/, then
# the device (our files under hw/ and include/, two lines in
# hw/virtio/meson.build, one name in virtio_device_names[], our trace events).
# It is written against the tree's own meson.build, virtio.c and trace-events,
# so it applies to each supported QEMU (7.2 and 10.0 put the device in
# differently named source sets) and to a distribution's patched source.
#
# `apply` is what the lab build runs: `git am` on a repository holding the
# tree's upstream versions of the files the series touches (all git am reads),
# then each resulting file is copied into the tree only when its content
# changed, so ninja recompiles only what an edit touched. Files the series
# touched before are first brought back to upstream (our lines carry the
# marker "cryptochat"), so applying again is idempotent. No Kconfig symbol on
# purpose: a new one makes QEMU rebuild almost everything.
set -euo pipefail

usage() { echo "usage: qemu-series.sh format|apply QEMU_SOURCE_DIR OUT_DIR" >&2; exit 2; }
[ $# -eq 3 ] || usage
command=$1 qemu=$2 out=$3
[ -f "$qemu/hw/virtio/meson.build" ] || { echo "qemu-series: $qemu is not a QEMU source tree" >&2; exit 1; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
marker="cryptochat"
touched=(hw/virtio/meson.build hw/virtio/virtio.c hw/virtio/trace-events)

# A fixed identity and date, and no user or system configuration: the same
# inputs give byte-identical patches.
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=cryptochat GIT_AUTHOR_EMAIL=cryptochat@localhost
export GIT_COMMITTER_NAME=cryptochat GIT_COMMITTER_EMAIL=cryptochat@localhost
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "qemu-series: $*" >&2; exit 1; }

# upstream FILE: the tree's FILE without anything a previous apply added.
upstream() {
	case $1 in
	*/meson.build) grep -v "# $marker" "$qemu/$1" ;;
	*/virtio.c) grep -v "/\* $marker" "$qemu/$1" ;;
	*/trace-events) sed "/^# $marker begin/,/^# $marker end/d" "$qemu/$1" ;;
	esac
}

# base DIR: a repository holding the upstream versions of the touched files.
base() {
	git init -q "$1"
	for f in "${touched[@]}"; do
		mkdir -p "$1/$(dirname "$f")"
		upstream "$f" >"$1/$f"
	done
	git -C "$1" add -A
	git -C "$1" commit -q -m upstream
}

# hook DIR: add the device to DIR's meson.build, virtio_device_names[] and
# trace-events.
hook() {
	local meson=$1/hw/virtio/meson.build virtio=$1/hw/virtio/virtio.c
	# The device goes in the source set upstream's virtio-crypto.c is in
	# (virtio_ss in 7.2, system_virtio_ss in 10.0), its PCI proxy in
	# virtio_pci_ss, both before the line that adds virtio_pci_ss to its parent.
	# The builtin backend calls libgcrypt itself, so it names the library:
	# QEMU links it only when its own crypto layer uses it, which QEMU 10.2
	# does not when GnuTLS is found, --enable-gcrypt or not.
	local device_ss
	device_ss=$(sed -n "s/^\([a-z_]*\)\.add(when: 'CONFIG_VIRTIO_CRYPTO', if_true: files('virtio-crypto\.c'))$/\1/p" "$meson")
	[ -n "$device_ss" ] || fail "hw/virtio/meson.build changed shape (virtio-crypto.c)"
	sed -i "/^[a-z_]*virtio_ss.add_all(when: 'CONFIG_VIRTIO_PCI', if_true: virtio_pci_ss)/i\\
$device_ss.add(dependency('libgcrypt'), files('virtio-cryptodev.c', 'virtio-cryptodev-builtin.c', 'virtio-cryptodev-devcrypto.c'))  # $marker\\
virtio_pci_ss.add(files('virtio-cryptodev-pci.c'))  # $marker" "$meson"
	grep -q "# $marker" "$meson" || fail "hw/virtio/meson.build changed shape"
	# QEMU asserts that every realized device id has a name.
	sed -i "s|^\(    \[VIRTIO_ID_GPIO\] = \"virtio-gpio\"\),\?$|\1,\\
    [63] = \"virtio-cryptodev\", /* $marker: VIRTIO_ID_CRYPTODEV */|" "$virtio"
	grep -q "/\* $marker" "$virtio" || fail "virtio_device_names[] changed shape"
	{
		echo "# $marker begin"
		cat "$repo/virtio/qemu/trace-events"
		echo "# $marker end"
	} >>"$1/hw/virtio/trace-events"
}

format() {
	local git=$work/format
	base "$git"
	(cd "$repo/virtio/include" && find . -type f -name '*.h') | while read -r f; do
		install -D -m 644 "$repo/virtio/include/$f" "$git/include/cryptochat/$f"
	done
	git -C "$git" add -A
	git -C "$git" commit -q -F - <<-'MSG'
	include/cryptochat: the virtio-cryptodev ABI

	The cryptodev ioctl structures and the virtqueue request layout, shared
	unchanged with the guest driver.
	MSG
	(cd "$repo/virtio/qemu" && find hw include -type f) | while read -r f; do
		install -D -m 644 "$repo/virtio/qemu/$f" "$git/$f"
	done
	hook "$git"
	git -C "$git" add -A
	git -C "$git" commit -q -F - <<-'MSG'
	hw/virtio: add virtio-cryptodev

	A paravirtual device that carries the cryptodev ioctl ABI (sessions,
	CIOCCRYPT, CIOCAUTHCRYPT, hashes) from a guest's /dev/cryptodevN to a
	backend in QEMU: the builtin one (QEMU's crypto API) or the host's
	/dev/crypto. One PCI function, virtio-cryptodev-pci.
	MSG
	# Only an earlier series goes: OUT_DIR may hold anything else.
	mkdir -p "$out"
	rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
	git -C "$git" format-patch -q --no-signature -o "$out" HEAD~2
}

apply() {
	local git=$work/apply
	base "$git"
	git -C "$git" am -q "$out"/[0-9][0-9][0-9][0-9]-*.patch || fail "the series in $out does not apply to $qemu"
	git -C "$git" ls-files | while read -r f; do
		mkdir -p "$(dirname "$qemu/$f")"
		cmp -s "$git/$f" "$qemu/$f" || cp "$git/$f" "$qemu/$f"
	done
}

case $command in
format) format ;;
apply) apply ;;
*) usage ;;
esac
