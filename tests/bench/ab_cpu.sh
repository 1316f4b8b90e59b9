#!/usr/bin/env bash
# A/B of two MindFlow builds by server CPU time per request, which a busy machine disturbs far
# less than throughput: servers A (BIN_A with the components in COMP_A) and B (BIN_B, COMP_B)
# run side by side, each on its own database (a PostgreSQL database each, or with `sqlite`
# an embedded database each), each with one user holding LOGS mood logs (two factors each)
# and JOURNAL journal entries, the same on both sides; for each PATH, ROUNDS alternating
# runs of `wrk -t2 -c32 -d SECONDS` per side, each with `perf stat -e task-clock` on that
# server.
#
# Each side has its own database (no shared users, registry or caches between the two), and
# its own manifest, the given one (MINDFLOW_MANIFEST, else spin.toml) with its sources moved from
# `target/components/` to that side's COMP folder: a manifest names its sources relative to
# itself, so without this both sides run `target/components/` whatever COMP says.
#
# usage: BIN_A=… COMP_A=… BIN_B=… COMP_B=… ab_cpu.sh POSTGRES_SERVER_URL|sqlite ROUNDS SECONDS PATH...
# e.g.   … ab_cpu.sh postgres://postgres@127.0.0.1:55432 4 5 "/api/v1/journal/entries?limit=20"
# Needs wrk, perf, psql (PostgreSQL only) and python3, and the models in
# MINDFLOW_EMBEDDING_MODEL and MINDFLOW_LLM_MODEL; MINDFLOW_MANIFEST picks the manifest
# (both builds must load it; its sources are taken from each side's COMP folder).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/signup.sh"
server=$1; rounds=$2; seconds=$3; shift 3
export MINDFLOW_RATE_LIMITS=off
export MINDFLOW_JWT_SECRET=$(head -c 48 /dev/urandom | base64 -w0)
export MINDFLOW_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0)
data=$(mktemp -d)
dbs=()
cleanup() {
    kill "${pa:-}" "${pb:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$data"
    for db in "${dbs[@]}"; do
        psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

manifest=${MINDFLOW_MANIFEST:-spin.toml}
# start SIDE BIN COMP PORT: migrates the side's own database and serves it with the side's
# own manifest; `$!` is then the server.
start() {
    local side=$1 bin=$2 comp port=$4
    comp=$(cd "$3" && pwd)
    mkdir -p "$data/$side"
    sed "s#target/components/#$comp/#g" "$manifest" >"$data/$side/spin.toml"
    if ! grep -q "$comp/" "$data/$side/spin.toml"; then
        echo "$manifest names no source under target/components/: COMP_${side^^} would not be used" >&2
        exit 1
    fi
    export MINDFLOW_MANIFEST=$data/$side/spin.toml
    if [ "$server" = sqlite ]; then
        unset DATABASE_URL
    else
        local db="mf_ab_${side}_$RANDOM$RANDOM"
        psql -q "$server/postgres" -c "CREATE DATABASE $db" >/dev/null
        dbs+=("$db")
        export DATABASE_URL="$server/$db"
    fi
    MINDFLOW_DATA_DIR=$data/$side "$bin" migrate >/dev/null 2>&1
    MINDFLOW_DATA_DIR=$data/$side MINDFLOW_COMPONENTS_DIR=$comp "$bin" serve --listen "127.0.0.1:$port" \
        >"$data/$side.log" 2>&1 &
}
start a "$BIN_A" "$COMP_A" 8091; pa=$!
start b "$BIN_B" "$COMP_B" 8092; pb=$!
for side in a b; do
    port=$([ $side = a ] && echo 8091 || echo 8092)
    for _ in $(seq 1 300); do
        curl -fs "localhost:$port/readyz" >/dev/null 2>&1 && break
        sleep 1
    done
    if ! curl -fs "localhost:$port/readyz" >/dev/null 2>&1; then
        echo "server $side did not become ready; its log ends:" >&2
        tail -20 "$data/$side.log" >&2
        exit 1
    fi
done

# seed BASE_URL OUTBOX: a user with the mood logs and journal entries; prints the token.
seed() {
    local base=$1 token i
    token=$(signup "$base" "$2")
    mood_logs "$base" "$token" "${LOGS:-100}"
    for i in $(seq 1 "${JOURNAL:-20}"); do
        curl -fs -o /dev/null -X POST "$base/api/v1/journal/entries" -H "authorization: Bearer $token" \
            -H 'content-type: application/json' \
            -d "{\"content\": \"Today I went to work early and felt tired but the walk home with my sister helped. I worried about money and the exam next week, then we cooked dinner together and laughed. Entry $i.\", \"entry_type\": \"freeform\"}"
    done
    echo "$token"
}
token_a=$(seed http://127.0.0.1:8091 "$data/a/outbox-mail")
token_b=$(seed http://127.0.0.1:8092 "$data/b/outbox-mail")
echo "each side: one user, ${LOGS:-100} mood logs and ${JOURNAL:-20} journal entries on its own database ($([ "$server" = sqlite ] && echo SQLite || echo PostgreSQL)); wrk -t2 -c32 -d${seconds}s; server CPU from perf stat"
for path in "$@"; do
    for round in $(seq 1 "$rounds"); do
        for side in A B; do
            port=$([ $side = A ] && echo 8091 || echo 8092)
            pid=$([ $side = A ] && echo "$pa" || echo "$pb")
            token=$([ $side = A ] && echo "$token_a" || echo "$token_b")
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
