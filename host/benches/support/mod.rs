//! What the in-process benchmarks share.

// Statistics over timings and counts: converting them to `f64` and rounding back is the point.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

/// The `p` quantile (0–1) of `sorted` samples.
pub fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The built crisis-rules component (`target/components/crisis-rules.wasm`, from
/// `cargo xtask components`), prepared by `runtime` as the host prepares it, its
/// exemplars embedded by `semantic`.
#[allow(dead_code, reason = "used by the crisis benches, not by every bench")]
pub fn crisis_rules(
    runtime: &mindflow::runtime::Runtime,
    semantic: &mindflow::crisis::semantic::Semantic,
) -> anyhow::Result<mindflow::runtime::RulesComponent> {
    let components = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target/components");
    let manifest = mindflow::manifest::Manifest::parse(
        "spin_manifest_version = 2\n[application]\nname = \"bench\"\n[component.crisis-rules]\nsource = \"crisis-rules.wasm\"\n[component.crisis-rules.tool.mindflow]\nkind = \"crisis-rules\"\nfuel = 100000000\n",
        &components,
    )?;
    let decl = &manifest.components["crisis-rules"];
    let bytes = std::fs::read(&decl.source)?;
    let sha = mindflow::registry::sha256_hex(&bytes);
    Ok(runtime.prepare_rules(decl, &sha, &bytes, semantic)?)
}
