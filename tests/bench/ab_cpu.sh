#!/usr/bin/env bash
# A/B of two MindFlow builds by server CPU time per request, which a busy machine disturbs far
# less than throughput: servers A (BIN_A with the components in COMP_A) and B (BIN_B, COMP_B)
# run side by side on one PostgreSQL database with one user holding LOGS mood logs (two
# factors each) and JOURNAL journal entries; for each PATH, ROUNDS alternating runs of
# `wrk -t2 -c32 -d SECONDS` per side, each with `perf stat -e task-clock` on that server.
#
# usage: BIN_A=… COMP_A=… BIN_B=… COMP_B=… ab_cpu.sh POSTGRES_SERVER_URL ROUNDS SECONDS PATH...
# e.g.   … ab_cpu.sh postgres://postgres@127.0.0.1:55432 4 5 "/api/v1/journal/entries?limit=20"
# Needs wrk, perf, psql and python3, and the models in MINDFLOW_EMBEDDING_MODEL and
# MINDFLOW_LLM_MODEL; MINDFLOW_MANIFEST picks the manifest (both builds must load it).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/signup.sh"
server=$1; rounds=$2; seconds=$3; shift 3
export MINDFLOW_RATE_LIMITS=off
db="mf_ab_$RANDOM$RANDOM"
psql -q "$server/postgres" -c "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$server/$db"
export MINDFLOW_JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export MINDFLOW_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
data=$(mktemp -d)
cleanup() {
    kill "${pa:-}" "${pb:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$data"
    psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
MINDFLOW_DATA_DIR=$data/a "$BIN_A" migrate >/dev/null 2>&1
MINDFLOW_DATA_DIR=$data/a MINDFLOW_COMPONENTS_DIR=$COMP_A "$BIN_A" serve --listen 127.0.0.1:8091 >"$data/a.log" 2>&1 & pa=$!
MINDFLOW_DATA_DIR=$data/b MINDFLOW_COMPONENTS_DIR=$COMP_B "$BIN_B" serve --listen 127.0.0.1:8092 >"$data/b.log" 2>&1 & pb=$!
for _ in $(seq 1 300); do
    curl -fs localhost:8091/readyz >/dev/null 2>&1 && curl -fs localhost:8092/readyz >/dev/null 2>&1 && break
    sleep 1
done
for side in a b; do
    port=$([ $side = a ] && echo 8091 || echo 8092)
    if ! curl -fs "localhost:$port/readyz" >/dev/null 2>&1; then
        echo "server $side did not become ready; its log ends:" >&2
        tail -20 "$data/$side.log" >&2
        exit 1
    fi
done
token=$(signup http://127.0.0.1:8091 "$data/a/outbox-mail")
mood_logs http://127.0.0.1:8091 "$token" "${LOGS:-100}"
for i in $(seq 1 "${JOURNAL:-20}"); do
    curl -fs -o /dev/null -X POST localhost:8091/api/v1/journal/entries -H "authorization: Bearer $token" \
        -H 'content-type: application/json' \
        -d "{\"content\": \"Today I went to work early and felt tired but the walk home with my sister helped. I worried about money and the exam next week, then we cooked dinner together and laughed. Entry $i.\", \"entry_type\": \"freeform\"}"
done
echo "one user, ${LOGS:-100} mood logs and ${JOURNAL:-20} journal entries; wrk -t2 -c32 -d${seconds}s; server CPU from perf stat"
for path in "$@"; do
    for round in $(seq 1 "$rounds"); do
        for side in A B; do
            port=$([ $side = A ] && echo 8091 || echo 8092)
            pid=$([ $side = A ] && echo "$pa" || echo "$pb")
            perf stat -x, -e task-clock -p "$pid" -o "$data/perf.txt" -- sleep "$seconds" &
            stat_pid=$!
            wrk -t2 -c32 -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
                "http://127.0.0.1:$port$path" >"$data/wrk.txt"
            wait "$stat_pid"
            cpu_ms=$(grep task-clock "$data/perf.txt" | cut -d, -f1)
            awk -v side="$side" -v round="$round" -v path="$path" -v cpu="$cpu_ms" \
                '/Requests\/sec/ {rps=$2} /requests in/ {n=$1} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
                 END {printf "%s round %s %s %8s req/s  p50 %8s  p99 %8s  non-2xx %s  server CPU ms/request %.3f\n",
                      path, round, side, rps, p50, p99, (bad == "" ? 0 : bad), cpu / n}' "$data/wrk.txt"
        done
    done
done
