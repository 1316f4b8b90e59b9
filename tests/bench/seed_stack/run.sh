#!/usr/bin/env bash
# Start the seed-stack mood API: uvicorn, 2 workers, on 127.0.0.1:${PORT:-8090}.
#
# Needs DATABASE_URL (postgres://…, a database migrated by `mindflow migrate`) and
# MINDFLOW_JWT_SECRET (the same base64 secret the MindFlow server signs tokens with).
# The venv lives in ${SEED_STACK_VENV:-/var/cache/mindflow/seed-stack-venv}; it is created
# on first run and re-synced when requirements.txt changes.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${SEED_STACK_VENV:-/var/cache/mindflow/seed-stack-venv}
PYTHON=${PYTHON:-python3}

: "${DATABASE_URL:?DATABASE_URL must be set (postgres://…)}"
: "${MINDFLOW_JWT_SECRET:?MINDFLOW_JWT_SECRET must be set (base64, >= 32 bytes)}"

if [[ ! -x "$VENV/bin/python" ]]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV" >&2
fi
STAMP="$VENV/.requirements.sha256"
WANT=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2
    echo "$WANT" > "$STAMP"
fi

cd "$HERE"
exec "$VENV/bin/uvicorn" app:app --workers 2 --host 127.0.0.1 --port "${PORT:-8090}" \
    --no-access-log --log-level "${SEED_LOG_LEVEL:-warning}"
