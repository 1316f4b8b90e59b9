#!/usr/bin/env bash
# Provide (once) a headless Chromium and its WebDriver, `chromedriver`, for the clinician
# console's browser test, and print chromedriver's path as the last stdout line:
#
#   export MINDFLOW_CHROMEDRIVER=$(scripts/chromium-for-tests.sh)
#
# The test starts its own chromedriver from it (a free port) and a headless Chromium through
# it, and stops both. The browser is the `chromium` beside chromedriver (Debian puts both in
# /usr/bin), or MINDFLOW_CHROMIUM when set.
# Where they come from, in order: `chromedriver` and `chromium` already on PATH; as root on
# Debian/Ubuntu, `apt-get install chromium chromium-driver` (Debian's packages; no
# third-party download). There is no unprivileged fallback: without root, install them first.
#
# Everything but the path goes to stderr; running it again is cheap.
set -euo pipefail
umask 022

log() { printf '[chromium-for-tests] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

works() {
    local driver=$1 browser
    browser=$(dirname "$driver")/chromium
    [[ -x "$driver" ]] && "$driver" --version >&2 \
        && { [[ -x "$browser" ]] || browser=$(command -v chromium 2>/dev/null); } \
        && [[ -n "$browser" ]] && "$browser" --headless=new --no-sandbox --version >&2
}

if found=$(command -v chromedriver 2>/dev/null) && works "$found"; then
    echo "$found"
    exit 0
fi

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing chromium and chromium-driver with apt-get"
    if { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >&2 \
         || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver >&2; }; } \
       && works /usr/bin/chromedriver; then
        echo /usr/bin/chromedriver
        exit 0
    fi
fi
die "no chromedriver with a chromium beside it (install Debian's chromium and chromium-driver as root)"
