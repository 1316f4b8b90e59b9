#!/usr/bin/env bash
# Side by side: MindFlow and the seed plan's own stack (FastAPI + SQLAlchemy async + asyncpg +
# PyJWT + VADER, uvicorn with 2 workers; app.py here) on one PostgreSQL database, the same
# user, the same tokens, `wrk -t2 -c32` for SECONDS per run, alternating ROUNDS times.
#
# usage: compare.sh MINDFLOW_BIN POSTGRES_SERVER_URL [ROUNDS] [SECONDS] [LOGS]
# (run from the workspace root after `cargo xtask components`; needs wrk and python3-venv, and
# the models in MINDFLOW_EMBEDDING_MODEL and MINDFLOW_LLM_MODEL as `cargo xtask run` passes them;
# MINDFLOW_CACHE_DIR, if set, keeps the crisis rules' embeddings between runs)
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/../signup.sh"
bin=$1; server=$2; rounds=${3:-3}; seconds=${4:-15}; logs=${5:-200}
here=$(cd "$(dirname "$0")" && pwd)
db="mf_compare_$RANDOM$RANDOM"
base=${server%/*}
psql_url="$base/postgres"
psql -q "$psql_url" -c "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$base/$db"
export MINDFLOW_JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export MINDFLOW_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
data=$(mktemp -d)
cleanup() {
    kill "${mf_pid:-}" "${seed_pid:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$data"
    psql -q "$psql_url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
export MINDFLOW_DATA_DIR="$data"
# The seed stack has no rate limiter; MindFlow's would answer most of this load with 429.
export MINDFLOW_RATE_LIMITS=off
"$bin" migrate >/dev/null
"$bin" serve --listen 127.0.0.1:8091 >"$data/mindflow.log" 2>&1 & mf_pid=$!
PORT=8090 "$here/run.sh" >"$data/seed.log" 2>&1 & seed_pid=$!
for _ in $(seq 1 120); do
    curl -fs http://127.0.0.1:8091/readyz >/dev/null 2>&1 && curl -fs -o /dev/null http://127.0.0.1:8090/docs 2>/dev/null && break
    sleep 1
done
if ! curl -fs http://127.0.0.1:8091/readyz >/dev/null 2>&1; then
    echo "MindFlow did not become ready; its log ends:" >&2
    tail -20 "$data/mindflow.log" >&2
    exit 1
fi
token=$(signup http://127.0.0.1:8091 "$data/outbox-mail")
mood_logs http://127.0.0.1:8091 "$token" "$logs"
echo "user with $logs logs (2 factors each); wrk -t2 -c32 -d${seconds}s GET /api/v1/mood/logs?limit=20, $rounds alternating rounds"
for round in $(seq 1 "$rounds"); do
    for port in 8091 8090; do
        name=$([ $port = 8091 ] && echo mindflow || echo seed-stack)
        wrk -t2 -c32 -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
            "http://127.0.0.1:$port/api/v1/mood/logs?limit=20" |
            awk -v n="$name" -v r="$round" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
                END {printf "round %s %-10s %8s req/s  p50 %8s  p99 %8s  non-2xx %s\n", r, n, rps, p50, p99, (bad==""?0:bad)}'
    done
done
