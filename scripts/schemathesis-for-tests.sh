#!/usr/bin/env bash
# Install (once) the API fuzzer the black-box suite runs against the OpenAPI document
# (Schemathesis, pinned), and print the path of its command as the last stdout line:
#
#   export MINDFLOW_SCHEMATHESIS=$(scripts/schemathesis-for-tests.sh)
#
# It lives in a virtual environment in the cache shared with fetch-models.sh and
# postgres-for-tests.sh. Everything but the path goes to stderr; running it again is cheap.
set -euo pipefail
umask 022

log() { printf '[schemathesis-for-tests] %s\n' "$*" >&2; }

VERSION=4.32.5
source "$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh"
VENV=$CACHE/venvs/schemathesis-$VERSION
if [[ ! -x "$VENV/bin/schemathesis" ]]; then
    log "installing schemathesis $VERSION into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
fi
"$VENV/bin/schemathesis" --version >&2
echo "$VENV/bin/schemathesis"
