//! Compiles `rules/ruleset.toml` into Rust tables in `$OUT_DIR/ruleset.rs`.
//!
//! A malformed ruleset fails the build and lists every problem as `file:line: message`.

#[path = "build_support/compile.rs"]
mod compile;
#[path = "src/normalize.rs"]
#[allow(dead_code)]
mod normalize;
#[path = "build_support/toml_lite.rs"]
#[allow(dead_code)]
mod toml_lite;

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // `MINDFLOW_CRISIS_RULESET` builds another ruleset file (the xtask uses it for the gate
    // tests' variants); by default the crate's own.
    println!("cargo::rerun-if-env-changed=MINDFLOW_CRISIS_RULESET");
    let path = std::env::var_os("MINDFLOW_CRISIS_RULESET")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("rules").join("ruleset.toml"));
    println!("cargo::rerun-if-changed={}", path.display());
    println!("cargo::rerun-if-changed=rules/ruleset.toml");
    println!("cargo::rerun-if-changed=build_support");
    println!("cargo::rerun-if-changed=src/normalize.rs");
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => fail(&[format!("cannot read {}: {e}", path.display())]),
    };
    let code = match compile::compile("rules/ruleset.toml", &src) {
        Ok(code) => code,
        Err(errors) => fail(&errors),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("ruleset.rs");
    if let Err(e) = std::fs::write(&out, code) {
        fail(&[format!("cannot write {}: {e}", out.display())]);
    }
}

fn fail(errors: &[String]) -> ! {
    eprintln!(
        "error: the crisis ruleset is malformed ({} problem(s)):",
        errors.len()
    );
    for e in errors {
        eprintln!("  {e}");
    }
    eprintln!("Fix rules/ruleset.toml (see components/crisis-rules/README.md) and rebuild.");
    std::process::exit(1);
}
