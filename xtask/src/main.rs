//! `cargo xtask`: builds MindFlow's components and host, and runs the whole test suite.
//!
//! - `cargo xtask components`: every component, into `target/components/NAME.wasm` under the
//!   workspace root (whatever `CARGO_TARGET_DIR` says, so `spin.toml` can name them).
//!   HTTP components build for `wasm32-wasip2`; pure-function worlds build for
//!   `wasm32-unknown-unknown` and are turned into import-free components with `wit-component`.
//!   Which crates are components, of what kind, and their variants, each crate says in its
//!   `[package.metadata.mindflow]` table ([`components`]).
//! - `cargo xtask build`: the components, then the host (`--release` for an optimised host).
//! - `cargo xtask run`: the components, then `mindflow serve` on the embedded SQLite default.
//! - `cargo xtask test`: builds everything, then runs the unit tests, the components' native
//!   tests and the black-box suite on SQLite and on PostgreSQL 16 + pgvector (provisioned by
//!   `scripts/postgres-for-tests.sh`), with a `redis-server` (`scripts/redis-for-tests.sh`),
//!   an `haproxy` (`scripts/haproxy-for-tests.sh`) and a headless Chromium with its
//!   `chromedriver` (`scripts/chromium-for-tests.sh`) for the tests that need them.
//!   `--backend sqlite|postgres` runs the suite on one. It first validates the deployment
//!   files (`scripts/validate-deploy.sh`).
//! - `cargo xtask lint [fmt|host|xtask|tests|components]...`: `cargo fmt --check` and clippy
//!   with `-D warnings` on every crate: every member outside `components/` natively
//!   (`--all-targets`: the host and the crates beside it, xtask, tests), each component for
//!   its wasm target, the component crates with native tests natively. Every part runs; the
//!   command fails if any did. Naming parts runs only those.
//! - `cargo xtask bench`: builds a release host and runs the benchmarks (figures printed).

mod components;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::components::{Change, Component, Kind, Variant};

/// The wasm target of HTTP components.
const HTTP_TARGET: &str = "wasm32-wasip2";

/// The wasm target of pure-function components (componentized afterwards).
const PURE_TARGET: &str = "wasm32-unknown-unknown";

/// The cargo profile components are built with.
const PROFILE: &str = "component";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    match args.first().map(String::as_str) {
        Some("components") => build_components(&root),
        Some("build") => {
            build_components(&root)?;
            build_host(&root, args.iter().any(|a| a == "--release"))
        }
        Some("run") => {
            build_components(&root)?;
            let mut serve = cargo(&root);
            serve.args(["run", "-p", "mindflow", "--", "serve"]);
            serve.env("MINDFLOW_EMBEDDING_MODEL", embedding_model(&root)?);
            serve.env("MINDFLOW_LLM_MODEL", llm_model(&root)?);
            serve.args(&args[1..]);
            run(serve)
        }
        Some("test") => {
            let backend = option(&args, "--backend").unwrap_or_else(|| "all".into());
            test(&root, &backend)
        }
        Some("lint") => lint(&root, &args[1..]),
        Some("bench") => bench(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <components | build [--release] | run [SERVE FLAGS] | test [--backend sqlite|postgres|all] | lint [fmt|host|xtask|tests|components]... | bench [NAME]>"
            );
            bail!("unknown or missing command")
        }
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask must live in the workspace")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Where built components go: fixed under the workspace root, so the manifest can name them.
fn components_dir(root: &Path) -> PathBuf {
    root.join("target").join("components")
}

fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root);
    command
}

fn run(mut command: Command) -> Result<()> {
    eprintln!("xtask: {command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn ensure_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is needed to add wasm targets")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == target)
    {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", target]);
    run(add)
}

/// `cargo build` of `packages` for a component target.
fn build_for(root: &Path, target: &str, packages: &[&Component]) -> Command {
    let mut build = cargo(root);
    build.args(["build", "--target", target, "--profile", PROFILE]);
    for component in packages {
        build.args(["-p", &component.package]);
    }
    build
}

fn build_components(root: &Path) -> Result<()> {
    ensure_target(HTTP_TARGET)?;
    ensure_target(PURE_TARGET)?;
    let found = components::discover(root)?.components;
    let out = components_dir(root);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for (kind, target) in [(Kind::Http, HTTP_TARGET), (Kind::Pure, PURE_TARGET)] {
        let selected: Vec<&Component> = found.iter().filter(|c| c.kind == kind).collect();
        if selected.is_empty() {
            continue;
        }
        run(build_for(root, target, &selected))?;
        let built = target_dir(root).join(target).join(PROFILE);
        for component in &selected {
            deliver(
                kind,
                &built.join(component.artifact()),
                &out.join(format!("{}.wasm", component.file)),
            )?;
        }
        for component in selected {
            for variant in &component.variants {
                build_variant(root, target, component, variant, &out)?;
            }
        }
    }
    eprintln!("xtask: components are in {}", out.display());
    Ok(())
}

/// Puts a built `.wasm` where the manifest names it: an HTTP component as it is, a pure
/// one's core module turned into a component.
fn deliver(kind: Kind, built: &Path, out: &Path) -> Result<()> {
    match kind {
        Kind::Pure => componentize(built, out),
        Kind::Http | Kind::Library => copy(built, out),
    }
}

/// Builds `variant` of `component` into `NAME-VARIANT.wasm`. A feature variant builds in the
/// shared target folder (cargo keeps each feature set's artifacts apart); a ruleset variant
/// in a folder of its own, so each ruleset (and the default) stays incrementally cached.
fn build_variant(
    root: &Path,
    target: &str,
    component: &Component,
    variant: &Variant,
    out: &Path,
) -> Result<()> {
    let mut build = build_for(root, target, &[component]);
    let mut variant_target = target_dir(root);
    match &variant.change {
        Change::Features(features) => {
            let features: Vec<String> = features
                .iter()
                .map(|f| format!("{}/{f}", component.package))
                .collect();
            build.args(["--features", &features.join(",")]);
        }
        Change::Ruleset(change) => {
            let name = format!("{}-{}", component.package, variant.name);
            let rulesets = root.join("target").join("variant-rulesets");
            std::fs::create_dir_all(&rulesets)
                .with_context(|| format!("cannot create {}", rulesets.display()))?;
            let file = rulesets.join(format!("{name}.toml"));
            std::fs::write(&file, change.derive(&component.dir, &variant.name)?)
                .with_context(|| format!("cannot write {}", file.display()))?;
            variant_target = variant_target.join(format!("variant-{name}"));
            build.env(components::RULESET_ENV, &file);
            build.env("CARGO_TARGET_DIR", &variant_target);
        }
    }
    run(build)?;
    deliver(
        component.kind,
        &variant_target
            .join(target)
            .join(PROFILE)
            .join(component.artifact()),
        &out.join(component.variant_file(variant)),
    )
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Turns a core module carrying wit-bindgen's component-type section into a component.
fn componentize(module: &Path, out: &Path) -> Result<()> {
    let bytes =
        std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&bytes)
        .with_context(|| format!("{} is not a wit-bindgen module", module.display()))?
        .validate(true)
        .encode()
        .with_context(|| format!("cannot componentize {}", module.display()))?;
    std::fs::write(out, component).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn build_host(root: &Path, release: bool) -> Result<()> {
    let mut host = cargo(root);
    host.args(["build", "-p", "mindflow"]);
    if release {
        host.arg("--release");
    }
    run(host)
}

/// The last line a provisioning script under `scripts/` prints on stdout (its stderr goes
/// to ours).
fn script_answer(root: &Path, script: &str) -> Result<String> {
    let output = Command::new("bash")
        .arg(root.join("scripts").join(script))
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run scripts/{script}"))?;
    if !output.status.success() {
        bail!("scripts/{script} failed with {}", output.status);
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .with_context(|| format!("scripts/{script} printed nothing"))
}

fn postgres_url(root: &Path) -> Result<String> {
    let url = script_answer(root, "postgres-for-tests.sh")?;
    if !url.starts_with("postgres") {
        bail!("scripts/postgres-for-tests.sh printed no URL");
    }
    Ok(url)
}

/// The sentence-embedding model's folder: `MINDFLOW_EMBEDDING_MODEL` when set, otherwise
/// what `scripts/fetch-models.sh` fetches (once) and prints.
fn embedding_model(root: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MINDFLOW_EMBEDDING_MODEL") {
        return Ok(PathBuf::from(dir));
    }
    script_answer(root, "fetch-models.sh").map(PathBuf::from)
}

/// The local language model's GGUF file: `MINDFLOW_LLM_MODEL` when set, otherwise what
/// `scripts/fetch-llm.sh` fetches (once) and prints.
fn llm_model(root: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MINDFLOW_LLM_MODEL") {
        return Ok(PathBuf::from(path));
    }
    script_answer(root, "fetch-llm.sh").map(PathBuf::from)
}

/// The API fuzzer's command: `MINDFLOW_SCHEMATHESIS` when set, otherwise what
/// `scripts/schemathesis-for-tests.sh` installs (once) and prints.
fn schemathesis(root: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MINDFLOW_SCHEMATHESIS") {
        return Ok(PathBuf::from(path));
    }
    script_answer(root, "schemathesis-for-tests.sh").map(PathBuf::from)
}

/// The `redis-server` the shared rate-limit tests start: `MINDFLOW_REDIS_SERVER` when set,
/// otherwise what `scripts/redis-for-tests.sh` provides (once) and prints.
fn redis_server(root: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MINDFLOW_REDIS_SERVER") {
        return Ok(PathBuf::from(path));
    }
    script_answer(root, "redis-for-tests.sh").map(PathBuf::from)
}

/// The `haproxy` the replica tests put in front of their servers: `MINDFLOW_HAPROXY` when
/// set, otherwise what `scripts/haproxy-for-tests.sh` provides (once) and prints.
fn haproxy(root: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MINDFLOW_HAPROXY") {
        return Ok(PathBuf::from(path));
    }
    script_answer(root, "haproxy-for-tests.sh").map(PathBuf::from)
}

/// The deployment files (Dockerfile, docker-compose.yml, deploy/kubernetes/) through real
/// validators and the consistency checks of `scripts/validate-deploy.sh`; a finding fails.
fn validate_deploy(root: &Path) -> Result<()> {
    let mut validate = Command::new("bash");
    validate
        .arg(root.join("scripts").join("validate-deploy.sh"))
        .current_dir(root);
    run(validate)
}

/// The `chromedriver` the clinician console's browser test drives a headless Chromium
/// through: `MINDFLOW_CHROMEDRIVER` when set, otherwise what `scripts/chromium-for-tests.sh`
/// provides (once: Debian's `chromium` and `chromium-driver`) and prints.
fn chromedriver(root: &Path) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("MINDFLOW_CHROMEDRIVER") {
        return Ok(PathBuf::from(path));
    }
    script_answer(root, "chromium-for-tests.sh").map(PathBuf::from)
}

fn test(root: &Path, backend: &str) -> Result<()> {
    // First: it needs no build and takes seconds once its validators are installed.
    validate_deploy(root)?;
    build_components(root)?;
    build_host(root, false)?;
    let binary = target_dir(root).join("debug").join("mindflow");
    let model = embedding_model(root)?;
    let llm = llm_model(root)?;
    let fuzzer = schemathesis(root)?;
    let redis = redis_server(root)?;
    let balancer = haproxy(root)?;
    let chromedriver = chromedriver(root)?;

    // Unit tests of every member outside components/ but the black-box suite (the host, the
    // crates beside it, xtask), then the components' native tests.
    let workspace = components::discover(root)?;
    let mut unit = cargo(root);
    unit.arg("test");
    for package in workspace.others.iter().filter(|p| *p != "mindflow-tests") {
        unit.args(["-p", package]);
    }
    // The runtime's own tests call real compiled components and the real model.
    unit.env("MINDFLOW_COMPONENTS_DIR", components_dir(root));
    unit.env("MINDFLOW_EMBEDDING_MODEL", &model);
    // The llm module's tests run the real local model, on one core (the machine is shared).
    unit.env("MINDFLOW_LLM_MODEL", &llm);
    unit.env("CANDLE_NUM_THREADS", "1");
    // With PostgreSQL in the run, the storage unit tests run on it too.
    if backend != "sqlite" && std::env::var_os("MINDFLOW_TEST_DATABASE_URL").is_none() {
        unit.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
    }
    run(unit)?;
    let mut native = cargo(root);
    native.arg("test");
    for component in workspace.components.iter().filter(|c| c.native_tests) {
        native.args(["-p", &component.package]);
    }
    run(native)?;

    let backends: Vec<&str> = match backend {
        "all" => vec!["sqlite", "postgres"],
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        other => bail!("unknown backend `{other}` (sqlite, postgres or all)"),
    };
    for backend in backends {
        let mut suite = cargo(root);
        suite.args(["test", "-p", "mindflow-tests"]);
        suite.env("MINDFLOW_BIN", &binary);
        suite.env("MINDFLOW_COMPONENTS_DIR", components_dir(root));
        suite.env("MINDFLOW_TEST_BACKEND", backend);
        suite.env("MINDFLOW_EMBEDDING_MODEL", &model);
        suite.env("MINDFLOW_LLM_MODEL", &llm);
        suite.env("MINDFLOW_SCHEMATHESIS", &fuzzer);
        // The shared rate-limit tests fail (never skip) without it.
        suite.env("MINDFLOW_REDIS_SERVER", &redis);
        // So do the replicas-behind-a-balancer tests without it (on PostgreSQL).
        suite.env("MINDFLOW_HAPROXY", &balancer);
        // The clinician console's browser test fails (never skips) without it.
        suite.env("MINDFLOW_CHROMEDRIVER", &chromedriver);
        if backend == "postgres" {
            suite.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
        }
        eprintln!("xtask: black-box suite on {backend}");
        run(suite)?;
    }
    Ok(())
}

/// The parts of `cargo xtask lint`.
const LINT_PARTS: &[&str] = &["fmt", "host", "xtask", "tests", "components"];

/// `cargo fmt --check` and clippy with `-D warnings`; `parts` (default: all) selects.
fn lint(root: &Path, parts: &[String]) -> Result<()> {
    if let Some(unknown) = parts.iter().find(|p| !LINT_PARTS.contains(&p.as_str())) {
        bail!("unknown lint part `{unknown}` (one of {LINT_PARTS:?})");
    }
    let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let mut steps: Vec<(String, Command)> = Vec::new();
    if wants("fmt") {
        let mut fmt = cargo(root);
        fmt.args(["fmt", "--all", "--", "--check"]);
        steps.push(("cargo fmt --check".into(), fmt));
    }
    let workspace = components::discover(root)?;
    // Everything outside components/ is linted natively: `xtask`, `tests`, and under `host`
    // the host with the crates beside it.
    let native: Vec<&str> = workspace
        .others
        .iter()
        .map(String::as_str)
        .filter(|package| {
            wants(match *package {
                "xtask" => "xtask",
                "mindflow-tests" => "tests",
                _ => "host",
            })
        })
        .collect();
    if !native.is_empty() {
        steps.push((
            format!("clippy {}", native.join(", ")),
            clippy(root, &native, None, &[]),
        ));
    }
    if wants("components") {
        ensure_target(HTTP_TARGET)?;
        ensure_target(PURE_TARGET)?;
        let found = &workspace.components;
        for (kind, target) in [(Kind::Http, HTTP_TARGET), (Kind::Pure, PURE_TARGET)] {
            let selected: Vec<&str> = found
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.package.as_str())
                .collect();
            if !selected.is_empty() {
                steps.push((
                    format!("clippy {target}: {}", selected.join(", ")),
                    clippy(root, &selected, Some(target), &[]),
                ));
            }
            // Code behind a variant's features is linted with them.
            for component in found.iter().filter(|c| c.kind == kind) {
                for variant in &component.variants {
                    if let Change::Features(features) = &variant.change {
                        let features: Vec<String> = features
                            .iter()
                            .map(|f| format!("{}/{f}", component.package))
                            .collect();
                        steps.push((
                            format!("clippy {target}: {} ({})", component.package, variant.name),
                            clippy(root, &[&component.package], Some(target), &features),
                        ));
                    }
                }
            }
        }
        let tested: Vec<&str> = found
            .iter()
            .filter(|c| c.native_tests)
            .map(|c| c.package.as_str())
            .collect();
        if !tested.is_empty() {
            steps.push((
                format!("clippy native: {}", tested.join(", ")),
                clippy(root, &tested, None, &[]),
            ));
        }
    }
    let mut failed = Vec::new();
    for (name, command) in steps {
        if let Err(error) = run(command) {
            eprintln!("xtask: lint step failed: {name}: {error:#}");
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} lint step(s) failed: {}",
            failed.len(),
            failed.join("; ")
        );
    }
    eprintln!("xtask: lint passed");
    Ok(())
}

/// `cargo clippy -- -D warnings` on `packages` with `features` (`PACKAGE/FEATURE`): for a
/// wasm `target` with the component profile (the libraries they are built with), or
/// natively with every target (tests, examples, benches).
fn clippy(root: &Path, packages: &[&str], target: Option<&str>, features: &[String]) -> Command {
    let mut command = cargo(root);
    command.arg("clippy");
    match target {
        Some(target) => command.args(["--target", target, "--profile", PROFILE]),
        None => command.arg("--all-targets"),
    };
    for package in packages {
        command.args(["-p", package]);
    }
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    command.args(["--", "-D", "warnings"]);
    command
}

fn bench(root: &Path, args: &[String]) -> Result<()> {
    build_components(root)?;
    build_host(root, true)?;
    let mut bench = cargo(root);
    bench.args([
        "run",
        "--release",
        "-p",
        "mindflow-tests",
        "--bin",
        "bench",
        "--",
    ]);
    bench.args(args);
    bench.env(
        "MINDFLOW_BIN",
        target_dir(root).join("release").join("mindflow"),
    );
    bench.env("MINDFLOW_COMPONENTS_DIR", components_dir(root));
    bench.env("MINDFLOW_EMBEDDING_MODEL", embedding_model(root)?);
    bench.env("MINDFLOW_LLM_MODEL", llm_model(root)?);
    if std::env::var_os("MINDFLOW_TEST_DATABASE_URL").is_none() {
        bench.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
    }
    run(bench)
}
