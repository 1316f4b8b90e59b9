#!/usr/bin/env bash
# Provide (once) an `haproxy` binary for the replica tests and benchmark, without Docker, and
# print its path as the last stdout line:
#
#   export MINDFLOW_HAPROXY=$(scripts/haproxy-for-tests.sh)
#
# The tests start their own balancers from it (free loopback ports, a generated
# configuration, foreground) and stop them. Where it comes from, in order: `haproxy` already
# on PATH; as root on Debian/Ubuntu, `apt-get install haproxy` (the system service is not
# started: there is no init here, and the tests never use /etc/haproxy). No package registry
# but Debian's ships HAProxy, so elsewhere it says how to get one and fails.
#
# Everything but the path goes to stderr; running it again is cheap.
set -euo pipefail
umask 022

log() { printf '[haproxy-for-tests] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

works() { [[ -x "$1" ]] && "$1" -v >&2; }

if found=$(command -v haproxy 2>/dev/null) && works "$found"; then
    echo "$found"
    exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing haproxy with apt-get"
    if { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >&2 \
         || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >&2; }; } \
       && works /usr/sbin/haproxy; then
        echo /usr/sbin/haproxy
        exit 0
    fi
fi

die "no haproxy: install your distribution's package (Debian: apt-get install haproxy, as root) or set MINDFLOW_HAPROXY"
