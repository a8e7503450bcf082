#!/usr/bin/env bash
# Makes the project's virtualenv (.venv/ in the checkout) and installs the package
# into it with the extras a target needs: `scripts/venv.sh test,bench,lab`.
# Nothing is installed into the interpreter that made the venv. Idempotent: a stamp
# per set of extras, keyed by the hash of pyproject.toml and setup.py (when either
# changes the venv is made anew) and of the cffi extension's inputs (when they
# change the package is installed again, which rebuilds the extension).
# PYTHON (default python3) is only used to create it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=$repo/.venv
python=${PYTHON:-python3}
extras=${1:-}

say() { echo "venv: $*"; }
die() { echo "venv: error: $*" >&2; exit 1; }

deps_hash=$(cat "$repo/pyproject.toml" "$repo/setup.py" | sha256sum | cut -c1-16)
ext_hash=$(cat "$repo/cryptochat/engines/_cryptodev_build.py" "$repo"/virtio/include/*.h \
	"$repo"/virtio/include/crypto/*.h | sha256sum | cut -c1-16)
stamp=$venv/.stamp-$deps_hash-$ext_hash-${extras:-base}

[ -f "$stamp" ] && exit 0

# Debian's own python3 needs python3-venv (ensurepip) and python3-dev (Python.h,
# for the cffi extension); another build of Python brings both itself.
if ! "$python" -c 'import ensurepip, os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' 2>/dev/null; then
	case $(readlink -f "$(command -v "$python")") in
	/usr/bin/python3*)
		say "installing python3-venv and python3-dev for Debian's python3"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-dev >/dev/null ||
			die "apt-get install python3-venv python3-dev failed" ;;
	*) die "$python has no venv module or no Python.h: use a full Python 3.11 build (PYTHON=...)" ;;
	esac
fi

# PyICU (names by UTS #39) is built from source against the system's ICU: it needs ICU's headers,
# pkg-config to find them, and a C++ compiler.
if ! { pkg-config --exists icu-uc icu-i18n 2>/dev/null && command -v g++ >/dev/null; }; then
	command -v apt-get >/dev/null || die "PyICU needs ICU's headers, pkg-config and g++: install them"
	say "installing libicu-dev, pkg-config and g++ (PyICU is built against the system ICU)"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libicu-dev pkg-config g++ >/dev/null ||
		die "apt-get install libicu-dev pkg-config g++ failed"
fi

if [ ! -f "$venv/.deps-$deps_hash" ]; then
	say "creating $venv with $python"
	rm -rf "$venv"
	"$python" -m venv "$venv" || die "$python -m venv failed"
	"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
	touch "$venv/.deps-$deps_hash"
fi

say "installing cryptochat${extras:+[$extras]} into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$repo${extras:+[$extras]}" ||
	die "pip install failed"
touch "$stamp"
