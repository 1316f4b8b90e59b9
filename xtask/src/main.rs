//! `cargo xtask`: builds MindFlow's components and host, and runs the whole test suite.
//!
//! - `cargo xtask components`: every component, into `target/components/NAME.wasm` under the
//!   workspace root (whatever `CARGO_TARGET_DIR` says, so `spin.toml` can name them).
//!   HTTP components build for `wasm32-wasip2`; pure-function worlds build for
//!   `wasm32-unknown-unknown` and are turned into import-free components with `wit-component`.
//! - `cargo xtask build`: the components, then the host (`--release` for an optimised host).
//! - `cargo xtask run`: the components, then `mindflow serve` on the embedded SQLite default.
//! - `cargo xtask test`: builds everything, then runs the unit tests, the components' native
//!   tests and the black-box suite on SQLite and on PostgreSQL 16 + pgvector (provisioned by
//!   `scripts/postgres-for-tests.sh`). `--backend sqlite|postgres` runs the suite on one.
//! - `cargo xtask bench`: builds a release host and runs the benchmarks (figures printed).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// HTTP (wasi:http) components: crate name and output file name.
const HTTP_COMPONENTS: &[&str] = &[
    "hello-spin",
    "outbound-spin",
    "hostile",
    "greedy-imports",
    "crypto-probe",
    "storage-probe",
    "versioned",
    "mood",
    "journal",
];

/// Pure-function components (no imports at all).
const PURE_COMPONENTS: &[&str] = &["crisis-rules"];

/// Crates with native unit tests outside the default members.
const NATIVE_TESTED_COMPONENTS: &[&str] = &[
    "crisis-rules",
    "mood",
    "journal",
    "mindflow-component-kit",
    "mindflow-instance-arena",
];

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
            serve.args(&args[1..]);
            run(serve)
        }
        Some("test") => {
            let backend = option(&args, "--backend").unwrap_or_else(|| "all".into());
            test(&root, &backend)
        }
        Some("bench") => bench(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <components | build [--release] | run [SERVE FLAGS] | test [--backend sqlite|postgres|all] | bench [NAME]>"
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

fn build_components(root: &Path) -> Result<()> {
    ensure_target("wasm32-wasip2")?;
    ensure_target("wasm32-unknown-unknown")?;
    let out = components_dir(root);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let built = target_dir(root).join("wasm32-wasip2").join("component");

    let mut http = cargo(root);
    http.args([
        "build",
        "--target",
        "wasm32-wasip2",
        "--profile",
        "component",
    ]);
    for name in HTTP_COMPONENTS {
        http.args(["-p", name]);
    }
    run(http)?;
    for name in HTTP_COMPONENTS {
        let file = format!("{}.wasm", name.replace('-', "_"));
        let dest = if *name == "versioned" {
            "versioned-v1.wasm".to_owned()
        } else {
            format!("{name}.wasm")
        };
        copy(&built.join(&file), &out.join(dest))?;
    }
    // The second version of `versioned`, for the hot-swap tests.
    let mut v2 = cargo(root);
    v2.args([
        "build",
        "--target",
        "wasm32-wasip2",
        "--profile",
        "component",
        "-p",
        "versioned",
        "--features",
        "versioned/v2",
    ]);
    run(v2)?;
    copy(
        &built.join("versioned.wasm"),
        &out.join("versioned-v2.wasm"),
    )?;

    let pure_built = target_dir(root)
        .join("wasm32-unknown-unknown")
        .join("component");
    let mut pure = cargo(root);
    pure.args([
        "build",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "component",
    ]);
    for name in PURE_COMPONENTS {
        pure.args(["-p", name]);
    }
    run(pure)?;
    for name in PURE_COMPONENTS {
        let module = pure_built.join(format!("{}.wasm", name.replace('-', "_")));
        componentize(&module, &out.join(format!("{name}.wasm")))?;
    }
    build_crisis_rules_variants(root, &out)?;
    eprintln!("xtask: components are in {}", out.display());
    Ok(())
}

/// The crisis-rules variants the gate tests need (see components/crisis-rules/variants).
fn build_crisis_rules_variants(root: &Path, out: &Path) -> Result<()> {
    let crate_dir = root.join("components").join("crisis-rules");
    let ruleset = std::fs::read_to_string(crate_dir.join("rules").join("ruleset.toml"))
        .context("cannot read the crisis ruleset")?;
    let extra = std::fs::read_to_string(crate_dir.join("variants").join("improved-rule.toml"))
        .context("cannot read variants/improved-rule.toml")?;
    let improved = format!(
        "{}{extra}",
        ruleset.replacen("version = \"", "version = \"improved-", 1)
    );
    let weakened: Vec<&str> = ruleset
        .split("\n[[rule]]\n")
        .filter(|block| !block.starts_with("id = \"plan.note-written\""))
        .collect();
    let weakened = weakened.join("\n[[rule]]\n");
    if weakened.len() == ruleset.len() {
        bail!("rule plan.note-written is gone from the ruleset: update the weakened variant");
    }
    let variants_dir = root.join("target").join("crisis-variants");
    std::fs::create_dir_all(&variants_dir)?;
    for (variant, text) in [("improved", improved), ("weakened", weakened)] {
        let file = variants_dir.join(format!("{variant}.toml"));
        std::fs::write(&file, text)?;
        let mut build = cargo(root);
        build.args([
            "build",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "component",
            "-p",
            "crisis-rules",
        ]);
        // A target folder per variant keeps each one (and the default) incrementally cached.
        let variant_target = target_dir(root).join(format!("crisis-variant-{variant}"));
        build.env("MINDFLOW_CRISIS_RULESET", &file);
        build.env("CARGO_TARGET_DIR", &variant_target);
        run(build)?;
        componentize(
            &variant_target
                .join("wasm32-unknown-unknown")
                .join("component")
                .join("crisis_rules.wasm"),
            &out.join(format!("crisis-rules-{variant}.wasm")),
        )?;
    }
    Ok(())
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

fn postgres_url(root: &Path) -> Result<String> {
    let output = Command::new("bash")
        .arg(root.join("scripts").join("postgres-for-tests.sh"))
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run scripts/postgres-for-tests.sh")?;
    if !output.status.success() {
        bail!(
            "scripts/postgres-for-tests.sh failed with {}",
            output.status
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(|line| line.trim().to_owned())
        .filter(|line| line.starts_with("postgres"))
        .context("scripts/postgres-for-tests.sh printed no URL")
}

fn test(root: &Path, backend: &str) -> Result<()> {
    build_components(root)?;
    build_host(root, false)?;
    let binary = target_dir(root).join("debug").join("mindflow");

    // Unit tests of the host and xtask, and the components' native tests.
    let mut unit = cargo(root);
    unit.args(["test", "-p", "mindflow", "-p", "xtask"]);
    // The runtime's own tests call real compiled components.
    unit.env("MINDFLOW_COMPONENTS_DIR", components_dir(root));
    // With PostgreSQL in the run, the host's storage unit tests run on it too.
    if backend != "sqlite" && std::env::var_os("MINDFLOW_TEST_DATABASE_URL").is_none() {
        unit.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
    }
    run(unit)?;
    let mut native = cargo(root);
    native.arg("test");
    for name in NATIVE_TESTED_COMPONENTS {
        native.args(["-p", name]);
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
        if backend == "postgres" {
            suite.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
        }
        eprintln!("xtask: black-box suite on {backend}");
        run(suite)?;
    }
    Ok(())
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
    if std::env::var_os("MINDFLOW_TEST_DATABASE_URL").is_none() {
        bench.env("MINDFLOW_TEST_DATABASE_URL", postgres_url(root)?);
    }
    run(bench)
}
