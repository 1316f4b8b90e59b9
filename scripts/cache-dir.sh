# Sourced by the provisioning scripts: sets CACHE to the folder they share, made and
# resolved. MINDFLOW_CI_CACHE when set; else /var/cache/mindflow when it can be written
# (always for root); else ${XDG_CACHE_HOME:-~/.cache}/mindflow.
if [[ -n "${MINDFLOW_CI_CACHE:-}" ]]; then
    CACHE=$MINDFLOW_CI_CACHE
elif [[ $(id -u) -eq 0 ]] || { mkdir -p /var/cache/mindflow 2>/dev/null && [[ -w /var/cache/mindflow ]]; }; then
    CACHE=/var/cache/mindflow
else
    CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mindflow
fi
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
