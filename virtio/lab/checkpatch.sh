#!/usr/bin/env bash
# Runs the kernel's checkpatch.pl (--no-tree -f) on our kernel C files.
# checkpatch ships only in Debian's kernel source package: fetch it once
# (apt-get download linux-source-6.1), keep the three files it needs under
# the lab cache, and reuse them.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CRYPTOCHAT_CACHE:-$HOME/.cache/cryptochat}/checkpatch
files=(checkpatch.pl spelling.txt const_structs.checkpatch)

if [ ! -x "$cache/checkpatch.pl" ]; then
	echo "lab: fetching checkpatch.pl from Debian's linux-source package (once)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -qq linux-source-6.1 >/dev/null 2>&1) ||
		{ echo "lab: error: apt-get download linux-source-6.1 failed" >&2; exit 1; }
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb |
		tar -xO --wildcards './usr/src/linux-source-6.1.tar.xz' |
		tar -xJ -C "$tmp" --wildcards \
			"linux-source-6.1/scripts/checkpatch.pl" \
			"linux-source-6.1/scripts/spelling.txt" \
			"linux-source-6.1/scripts/const_structs.checkpatch"
	mkdir -p "$cache"
	for f in "${files[@]}"; do cp "$tmp/linux-source-6.1/scripts/$f" "$cache/"; done
	chmod +x "$cache/checkpatch.pl"
fi

cd "$repo"
status=0
for f in virtio/guest/*.c virtio/guest/*.h virtio/tests/hostile/*.c; do
	ignore=()
	# The compat header's whole job is to test the kernel's version, which
	# checkpatch (written for code merged into one kernel) advises against.
	[ "$f" = virtio/guest/compat.h ] && ignore=(--ignore LINUX_VERSION_CODE)
	"$cache/checkpatch.pl" --no-tree --quiet --show-types "${ignore[@]}" -f "$f" || status=1
done
[ "$status" -eq 0 ] && echo "checkpatch: clean"
exit "$status"
