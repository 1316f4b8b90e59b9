# syntax=docker/dockerfile:1.7
#
# MindFlow's container image: a third way to run the service, beside `cargo xtask run` and
# `cargo xtask test` (README.md, "Containers"; operations in docs/runbook.md).
#
#   docker build -t mindflow:local .
#
# Stages:
#   builder  Rust 1.95 on Debian bookworm: the wasm targets, `cargo xtask components` (the
#            components, into target/components/), then the release `mindflow` binary.
#            Cargo's registry and the target folder are BuildKit cache mounts, so a rebuild
#            recompiles only what changed.
#   models   the sentence-embedding model and the local language model, fetched by the
#            repository's own scripts (scripts/fetch-models.sh, scripts/fetch-llm.sh) with
#            their pinned SHA-256 sums: one place holds the pins.
#   runtime  Debian bookworm-slim with the binary, the manifest, the components the manifest
#            names, both models and the CA bundle; runs as the numeric user 10001.
#
# `scripts/validate-deploy.sh` lints this file with hadolint (part of `cargo xtask test`).

ARG RUST_IMAGE=rust:1.95-bookworm
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
WORKDIR /src
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN rustup target add wasm32-wasip2 wasm32-unknown-unknown
COPY . .
# The manifest names its components `target/components/NAME.wasm` relative to itself; only
# those files go into the image (the test-only components stay behind).
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo xtask components \
    && cargo build --release --locked -p mindflow \
    && mkdir -p /out/target/components \
    && cp target/release/mindflow /out/mindflow \
    && cp spin.toml /out/spin.toml \
    && grep -o 'target/components/[A-Za-z0-9._-]*\.wasm' spin.toml | sort -u \
        | xargs -I{} cp {} /out/{} \
    && /out/mindflow --version

FROM ${PYTHON_IMAGE} AS models
WORKDIR /src
COPY scripts/cache-dir.sh scripts/fetch-models.sh scripts/fetch-llm.sh scripts/
# The scripts keep what they fetch under $MINDFLOW_CI_CACHE/models/.
ENV MINDFLOW_CI_CACHE=/fetch \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN bash scripts/fetch-models.sh && bash scripts/fetch-llm.sh

FROM ${RUNTIME_IMAGE} AS runtime
# No package manager run here: the CA bundle (for the remote language-model providers, SMTP
# over TLS and the OIDC key sets) comes from the builder, which is the same Debian release.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN groupadd --system --gid 10001 mindflow \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/mindflow --shell /usr/sbin/nologin mindflow \
    && mkdir -p /var/lib/mindflow /var/cache/mindflow \
    && chown 10001:10001 /var/lib/mindflow /var/cache/mindflow
COPY --from=builder /out/mindflow /usr/local/bin/mindflow
COPY --from=builder /out/spin.toml /opt/mindflow/spin.toml
COPY --from=builder /out/target/components/ /opt/mindflow/target/components/
COPY --from=models /fetch/models/all-minilm-l6-v2/ /opt/mindflow/models/all-minilm-l6-v2/
COPY --from=models /fetch/models/smollm2-135m-instruct/ /opt/mindflow/models/smollm2-135m-instruct/
# Paths inside the image. Secrets (MINDFLOW_MASTER_KEY, MINDFLOW_JWT_SECRET, DATABASE_URL,
# REDIS_URL) are never baked in: they come from the environment at run time.
# MINDFLOW_DATA_DIR holds only what a production deployment does not use (the SQLite file,
# development keys, file-mailer output) but must be writable; MINDFLOW_CACHE_DIR holds the
# compiled components and the crisis rules' embeddings, which a restart reuses.
ENV MINDFLOW_MANIFEST=/opt/mindflow/spin.toml \
    MINDFLOW_DATA_DIR=/var/lib/mindflow \
    MINDFLOW_CACHE_DIR=/var/cache/mindflow \
    MINDFLOW_EMBEDDING_MODEL=/opt/mindflow/models/all-minilm-l6-v2 \
    MINDFLOW_LLM_MODEL=/opt/mindflow/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf \
    MINDFLOW_LISTEN=0.0.0.0:8080
WORKDIR /var/lib/mindflow
USER 10001:10001
# 8080: the API. 9090: GET /metrics, served only when MINDFLOW_METRICS_LISTEN is set (it has
# no authentication: never publish it beyond a private network).
EXPOSE 8080 9090
# Liveness (/healthz: the process serves). The image has no curl: bash's /dev/tcp sends one
# HTTP/1.0 request to the port of MINDFLOW_LISTEN. The listener opens only once every
# component is prepared (the first start on an empty cache also embeds the crisis rules'
# training texts), hence the start period.
HEALTHCHECK --interval=15s --timeout=3s --start-period=180s --retries=3 \
    CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${MINDFLOW_LISTEN##*:} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["/usr/local/bin/mindflow"]
CMD ["serve"]
