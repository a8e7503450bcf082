#!/usr/bin/env bash
# Builds the VM lab: qemu-system-x86_64 from Debian's QEMU source with our
# virtio-cryptodev device compiled in, the guest module, and the guest test
# programs. Idempotent and cached under $CRYPTOCHAT_CACHE (~/.cache/cryptochat),
# keyed by the hash of every input, so an unchanged second run takes seconds and
# a device edit recompiles a handful of files. Writes build/lab-$PROFILE.env, and
# build/lab.env for the profile built last.
#
# PROFILE picks the pair of QEMU and guest kernel, each from Debian's packages:
#   debian12 (default)  QEMU 7.2 (bookworm's source), kernel 6.1 (bookworm)
#   debian13            QEMU 10.0 (the bookworm-backports source of Debian 13's
#                       QEMU), kernel 6.12 (Debian 12's 6.12 kernels)
# SANITIZE=address builds that QEMU with AddressSanitizer and UBSan too, in a
# build directory of its own, and writes build/lab-$PROFILE-asan.env instead
# (build/lab.env is left alone): the fuzzers run on it (make fuzz-asan).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CRYPTOCHAT_CACHE:-$HOME/.cache/cryptochat}
kernel_release=${CRYPTOCHAT_KERNEL:-}
profile=${PROFILE:-debian12}
qemu_configure=(
	--target-list=x86_64-softmmu --disable-docs --disable-gtk --disable-sdl
	--disable-vnc --disable-opengl --disable-tools --disable-guest-agent
	--disable-debug-info --disable-werror --enable-virtfs --enable-gcrypt
	--enable-slirp
)

say() { echo "lab: $*"; }

# inputs_key DESCRIPTION PATH...: a short hash of a description and every
# file under the paths (build output excluded), naming one cached result.
inputs_key() {
	{
		echo "$1"
		shift
		cd "$repo" && find "$@" -type f -not -path '*/build/*' | sort | xargs sha256sum
	} | sha256sum | cut -c1-16
}
die() { echo "lab: error: $*" >&2; exit 1; }

mkdir -p "$cache"
exec 9>"$cache/lab.lock"
if ! flock -n 9; then
	say "another build holds $cache/lab.lock; waiting"
	flock 9
fi

"$repo/scripts/install-system-deps.sh"

case $profile in
debian12)
	kernel_series=6.1
	src_root=$cache/src
	qemu_build=$cache/qemu-build
	;;
debian13)
	kernel_series=6.12
	src_root=$cache/src-debian13
	qemu_build=$cache/qemu-build-debian13
	# Debian's +ds source has no firmware blobs to install.
	qemu_configure+=(--disable-install-blobs)
	"$repo/virtio/lab/install-debian13.sh"
	;;
*) die "unknown PROFILE=$profile: debian12 or debian13" ;;
esac
env_name=lab-$profile
case ${SANITIZE:-} in
"") ;;
address)
	qemu_configure+=(--enable-sanitizers)
	qemu_build+=-asan
	env_name+=-asan
	;;
*) die "unknown SANITIZE=$SANITIZE: address, or unset" ;;
esac

# The guest kernel: the profile's newest Debian kernel that has both an image
# and headers.
if [ -z "$kernel_release" ]; then
	for headers in /lib/modules/"$kernel_series".*/build; do
		[ -e "$headers" ] || continue
		release=$(basename "$(dirname "$headers")")
		[ -f "/boot/vmlinuz-$release" ] && kernel_release=$release
	done
fi
[ -n "$kernel_release" ] || die "no $kernel_series kernel with headers for PROFILE=$profile"
kernel_image=/boot/vmlinuz-$kernel_release
[ -r "$kernel_image" ] || die "$kernel_image is not readable"

# --- QEMU -------------------------------------------------------------------
mkdir -p "$src_root"
qemu_src=$(find "$src_root" -maxdepth 1 -type d -name 'qemu-*' | sort | tail -n 1)
if [ -z "$qemu_src" ] && [ "$profile" = debian13 ]; then
	"$repo/virtio/lab/fetch-qemu10.sh" "$src_root"
	qemu_src=$(find "$src_root" -maxdepth 1 -type d -name 'qemu-*' | sort | tail -n 1)
fi
if [ -z "$qemu_src" ]; then
	say "fetching Debian's QEMU source (apt-get source qemu)"
	(cd "$src_root" && apt-get source -qq qemu >/dev/null 2>&1) ||
		die "apt-get source qemu failed: is a deb-src entry configured?"
	qemu_src=$(find "$src_root" -maxdepth 1 -type d -name 'qemu-*' | sort | tail -n 1)
fi
dsc=$(find "$src_root" -maxdepth 1 -name 'qemu_*.dsc' | sort | tail -n 1)
qemu_version=$(basename "${dsc:-$qemu_src}" .dsc)

# The device as a patch series for this tree (also what an operator applies
# to their own QEMU source): written on every run, applied when QEMU builds.
series=$repo/build/qemu-series/$profile
"$repo/virtio/lab/qemu-series.sh" format "$qemu_src" "$series"
qemu_key=$(inputs_key "$qemu_version ${qemu_configure[*]}" \
	virtio/qemu virtio/include virtio/lab/qemu-series.sh)
qemu_out=$cache/qemu/$qemu_key
if [ -x "$qemu_out/qemu-system-x86_64" ]; then
	say "QEMU $qemu_version with virtio-cryptodev: cached ($qemu_key)"
else
	say "applying the series in build/qemu-series/$profile to $qemu_src (git am)"
	"$repo/virtio/lab/qemu-series.sh" apply "$qemu_src" "$series"
	build=$qemu_build
	if [ ! -f "$build/build.ninja" ]; then
		say "configuring QEMU (x86_64-softmmu; first build takes about 4 minutes)"
		rm -rf "$build" && mkdir -p "$build"
		# Debian's source drops QEMU's bundled meson: use the system's, not a
		# pyenv shim that lacks it.
		(cd "$build" && env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			"$qemu_src/configure" "${qemu_configure[@]}" >configure.log 2>&1) ||
			die "QEMU configure failed; see $build/configure.log"
	fi
	say "building qemu-system-x86_64"
	env PATH=/usr/sbin:/usr/bin:/sbin:/bin ninja -C "$build" qemu-system-x86_64 >"$build/ninja.log" 2>&1 ||
		{ tail -n 30 "$build/ninja.log" >&2; die "QEMU build failed; see $build/ninja.log"; }
	mkdir -p "$qemu_out.tmp"
	cp "$build/qemu-system-x86_64" "$qemu_out.tmp/"
	rm -rf "$qemu_out" && mv "$qemu_out.tmp" "$qemu_out"
	say "QEMU built ($qemu_key)"
fi

# --- OpenSSL's devcrypto engine, unmodified, from Debian's source ------------
# Only engines/e_devcrypto.c (and the headers it includes from the tree) is
# compiled, as a dynamic engine against the system libcrypto and the project's
# crypto/cryptodev.h: a real cryptodev-linux client for the VM tests.
ossl_tar=$(find "$src_root" -maxdepth 1 -name 'openssl_*.orig.tar.gz' | sort | tail -n 1)
if [ -z "$ossl_tar" ]; then
	say "fetching Debian's OpenSSL source (apt-get source openssl)"
	# The orig tarball is all we use; apt may fail on the rest of a version
	# its archive no longer serves.
	(cd "$src_root" && apt-get source -qq --download-only openssl >/dev/null 2>&1) || true
	ossl_tar=$(find "$src_root" -maxdepth 1 -name 'openssl_*.orig.tar.gz' | sort | tail -n 1)
	[ -n "$ossl_tar" ] || die "apt-get source openssl failed: is a deb-src entry configured?"
fi
ossl_version=$(basename "$ossl_tar" .orig.tar.gz)

# --- the guest module and test programs -------------------------------------
guest_key=$(inputs_key "$kernel_release $ossl_version" \
	virtio/guest virtio/include virtio/tests/c virtio/tests/hostile)
guest_out=$cache/guest/$guest_key
if [ -f "$guest_out/virtio_cryptodev.ko" ]; then
	say "guest module for $kernel_release: cached ($guest_key)"
else
	say "building the guest module for $kernel_release"
	work=$cache/guest/work
	rm -rf "$work" && mkdir -p "$work"
	cp -r "$repo/virtio/guest" "$repo/virtio/include" "$repo/virtio/tests/hostile" "$work/"
	make -s -C "/lib/modules/$kernel_release/build" M="$work/guest" \
		CRYPTOCHAT_INCLUDE="$work/include" modules >"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; die "module build failed"; }
	make -s -C "/lib/modules/$kernel_release/build" M="$work/hostile" \
		CRYPTOCHAT_INCLUDE="$work/include" modules >>"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; die "hostile test module build failed"; }
	if [ -f "$repo/virtio/tests/c/Makefile" ]; then
		say "building the guest test programs"
		make -s -C "$repo/virtio/tests/c" O="$work/bin" >>"$work/build.log" 2>&1 ||
			{ cat "$work/build.log" >&2; die "test program build failed"; }
	fi
	say "building OpenSSL's devcrypto engine ($ossl_version)"
	mkdir -p "$work/openssl/inc"
	tar -xzf "$ossl_tar" -C "$work/openssl" --strip-components=1 --wildcards \
		'*/engines/e_devcrypto.c' '*/e_os.h' '*/include/internal/*'
	ln -s "$work/openssl/include/internal" "$work/openssl/inc/internal"
	gcc -shared -fPIC -O2 -o "$work/devcrypto.so" -I"$work/include" -I"$work/openssl/inc" \
		"$work/openssl/engines/e_devcrypto.c" -lcrypto >>"$work/build.log" 2>&1 ||
		{ cat "$work/build.log" >&2; die "devcrypto engine build failed"; }
	mkdir -p "$guest_out.tmp"
	cp "$work/guest/virtio_cryptodev.ko" "$work/hostile/virtio_cryptodev_hostile.ko" \
		"$work/devcrypto.so" "$guest_out.tmp/"
	[ -d "$work/bin" ] && cp -r "$work/bin" "$guest_out.tmp/bin"
	rm -rf "$guest_out" && mv "$guest_out.tmp" "$guest_out"
fi

mkdir -p "$repo/build"
cat >"$repo/build/$env_name.env" <<ENV
PROFILE=$profile
QEMU=$qemu_out/qemu-system-x86_64
KERNEL=$kernel_image
KERNEL_RELEASE=$kernel_release
MODULE=$guest_out/virtio_cryptodev.ko
HOSTILE_MODULE=$guest_out/virtio_cryptodev_hostile.ko
GUEST_BIN=$guest_out/bin
OPENSSL_ENGINE=$guest_out/devcrypto.so
ENV
if [ -n "${SANITIZE:-}" ]; then
	say "ready: build/$env_name.env"
else
	cp "$repo/build/$env_name.env" "$repo/build/lab.env"
	say "ready: build/$env_name.env (and build/lab.env)"
fi
