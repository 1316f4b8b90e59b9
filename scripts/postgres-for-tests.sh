#!/usr/bin/env bash
# Provision (or stop) a PostgreSQL 16 + pgvector server for the test suite, without Docker.
#
#   URL=$(scripts/postgres-for-tests.sh)     # start if needed; prints the URL as the last stdout line
#   scripts/postgres-for-tests.sh stop       # stop it (data is kept for the next run)
#
# The server comes from the PyPI package `pgserver` (PostgreSQL 16.2 binaries with the
# `vector` extension under its `pginstall/` folder), installed into a venv that is reused
# across runs. PostgreSQL refuses to run as root, so when this script runs as root (as CI
# does) the server runs as the system user `mfpg`; otherwise it runs as the calling user.
#
# Environment:
#   MINDFLOW_CI_CACHE   cache folder (default /var/cache/mindflow; for a non-root user who
#                       cannot write there: ${XDG_CACHE_HOME:-~/.cache}/mindflow)
#   MINDFLOW_PG_PORT    TCP port on 127.0.0.1 (default 55432)
#   MINDFLOW_PG_KEEP_DATABASES  1: keep the test databases of an earlier run (a restart)
#   MINDFLOW_PGSERVER   pip requirement for pgserver (default pgserver==0.1.4)
#
# Everything but the URL goes to stderr. Running it again is cheap and changes nothing.
set -euo pipefail
umask 022

log() { printf '[postgres-for-tests] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

ACTION=${1:-start}
case "$ACTION" in
    start | stop) ;;
    -h | --help) sed -n '2,18p' "$0" >&2; exit 0 ;;
    *) die "unknown argument '$ACTION' (expected: start | stop)" ;;
esac

PORT=${MINDFLOW_PG_PORT:-55432}
[[ "$PORT" =~ ^[0-9]+$ ]] || die "MINDFLOW_PG_PORT must be a number, got '$PORT'"
DB=mindflow_test
PG_USER=mfpg
PGSERVER_REQ=${MINDFLOW_PGSERVER:-pgserver==0.1.4}
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

source "$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh"

VENV=$CACHE/pgserver-venv
PGHOME=$CACHE/postgres-$PORT   # owned by the server's user
DATA=$PGHOME/data
SOCK=$PGHOME/socket
LOGFILE=$PGHOME/postgres.log
URL="postgres://postgres@127.0.0.1:$PORT/$DB"

# One run at a time per cache folder and port (CI jobs or parallel callers).
exec 9>"$CACHE/postgres-$PORT.lock"
flock 9

# Run a command as the server's user.
as_pg() {
    if [[ $IS_ROOT -eq 1 ]]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

pg_bin_dir() {
    "$VENV/bin/python" -c 'import os, pgserver; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall", "bin"))' 2>/dev/null
}

is_running() {
    [[ -f "$DATA/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

# ---------------------------------------------------------------------------- stop
if [[ "$ACTION" == stop ]]; then
    if [[ ! -f "$DATA/PG_VERSION" ]] || ! BIN=$(pg_bin_dir); then
        log "no server under $PGHOME; nothing to stop"
        exit 0
    fi
    if is_running; then
        log "stopping the server on port $PORT"
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2
    else
        log "server on port $PORT is not running"
    fi
    exit 0
fi

# ---------------------------------------------------------------------------- venv
if ! BIN=$(pg_bin_dir) || [[ ! -x "$BIN/pg_ctl" ]]; then
    log "installing $PGSERVER_REQ into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$PGSERVER_REQ" >&2
    BIN=$(pg_bin_dir) || die "pgserver installed but cannot be imported"
    [[ -x "$BIN/pg_ctl" ]] || die "pgserver has no pginstall/bin/pg_ctl under $BIN"
fi

# ---------------------------------------------------------------------------- user + folders
if [[ $IS_ROOT -eq 1 ]]; then
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        log "creating system user $PG_USER"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER" >&2
    fi
    chmod 0755 "$CACHE"
fi
mkdir -p "$PGHOME" "$SOCK"
if [[ $IS_ROOT -eq 1 ]]; then
    chown "$PG_USER:" "$PGHOME" "$SOCK"
    # Only a data folder not yet the user's: walking a running server's folder races with the
    # files it removes (a dropped test database's), and chown then fails on a vanished file.
    if [[ -d "$DATA" && "$(stat -c %U "$DATA")" != "$PG_USER" ]]; then
        chown -R "$PG_USER:" "$DATA"
    fi
    [[ -f "$LOGFILE" ]] && chown "$PG_USER:" "$LOGFILE"
    if ! as_pg test -x "$BIN/pg_ctl" -a -w "$PGHOME"; then
        die "user $PG_USER cannot reach $BIN or write $PGHOME: every parent folder of $CACHE must be traversable (o+x); choose another MINDFLOW_CI_CACHE"
    fi
fi
chmod 0755 "$PGHOME" "$SOCK"

# ---------------------------------------------------------------------------- initdb
if [[ ! -f "$DATA/PG_VERSION" ]]; then
    if [[ -e "$DATA" ]]; then
        log "removing an incomplete data folder $DATA"
        rm -rf "$DATA"
    fi
    log "initdb $DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >&2 \
        || as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C >&2 \
        || die "initdb failed"
fi

# ---------------------------------------------------------------------------- start
if is_running; then
    log "server already running on port $PORT ($DATA)"
else
    log "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
    if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 120 \
        -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" \
        start >&2 9>&-; then
        # (9>&-: the server must not inherit the lock, or it would hold it for its lifetime.)
        tail -n 30 "$LOGFILE" >&2 || true
        die "the server did not start (is port $PORT taken by another server?)"
    fi
fi

# ---------------------------------------------------------------------------- database + pgvector
psql_() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

if [[ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]]; then
    log "creating database $DB"
    psql_ -d postgres -c "CREATE DATABASE $DB" >&2
fi
psql_ -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS vector" >&2
# The black-box suite makes one database per test (mf_<uuid>); drop the previous run's,
# unless this is a restart in the middle of a test (MINDFLOW_PG_KEEP_DATABASES=1).
if [[ "${MINDFLOW_PG_KEEP_DATABASES:-0}" != 1 ]]; then
    psql_ -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'mf\_%'" | while read -r old; do
        [[ -n "$old" ]] && psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$old\"" >&2
    done
fi
log "ready: PostgreSQL $(psql_ -d "$DB" -tAc 'SHOW server_version'), pgvector $(psql_ -d "$DB" -tAc "SELECT extversion FROM pg_extension WHERE extname = 'vector'")"

echo "$URL"
