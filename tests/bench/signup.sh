# Sourced by the benchmark scripts (`seed_stack/compare.sh`, `ab_cpu.sh`): a verified user on a
# running MindFlow, and mood logs for them.

# signup BASE_URL OUTBOX_DIR: registers a new address, reads the code the file mailer wrote to
# OUTBOX_DIR, verifies it and prints the access token.
signup() {
    local base=$1 outbox=$2 email code=""
    email="bench-$RANDOM$RANDOM@example.com"
    curl -fs -o /dev/null -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"correct horse battery staple 42\"}"
    for _ in $(seq 1 100); do
        code=$(python3 - "$outbox" "$email" <<'PY'
import json, pathlib, sys
for path in pathlib.Path(sys.argv[1]).glob("*.json"):
    message = json.loads(path.read_text())
    if message["kind"] == "verify_email" and message["to"] == sys.argv[2]:
        print(message["payload"]["token"])
PY
)
        [ -n "$code" ] && break
        sleep 0.1
    done
    curl -fs -X POST "$base/api/v1/auth/verify-email" -H 'content-type: application/json' \
        -d "{\"token\":\"$code\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# mood_logs BASE_URL TOKEN COUNT: COUNT mood logs with a note and two factors.
mood_logs() {
    local base=$1 token=$2 count=$3 i
    for i in $(seq 1 "$count"); do
        curl -fs -o /dev/null -X POST "$base/api/v1/mood/logs" -H "authorization: Bearer $token" \
            -H 'content-type: application/json' \
            -d "{\"mood_score\": $((i % 10 + 1)), \"note\": \"a calm day, a short walk\", \"factors\": [{\"factor_type\": \"sleep\", \"impact_score\": -2}, {\"factor_type\": \"exercise\", \"impact_score\": 2}]}"
    done
}
