#!/usr/bin/env bash
# Installs the Debian package the Python tests and benchmarks need beside the venv: redis-server, which
# the cluster tests start themselves on a free loopback port with their own data directory (never a
# system Redis on 6379). The install starts no service: unless the machine already has a policy-rc.d,
# one that denies every service start is in place for the duration of apt-get.
# Idempotent: with redis-server present it returns at once.
set -euo pipefail

command -v redis-server >/dev/null && exit 0

die() { echo "test-deps: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "redis-server is missing; install it as root: apt-get install redis-server"

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# cryptochat test-deps: no service starts while redis-server is installed\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

echo "test-deps: installing redis-server (for the cluster tests; no service is started)"
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null ||
	die "apt-get install redis-server failed"
