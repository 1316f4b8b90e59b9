//! Which crates are components, and how each is built: found, not listed.
//!
//! A workspace member whose `Cargo.toml` lives under `components/` (or `templates/`, the
//! partner templates) says what it is in a
//! `[package.metadata.mindflow]` table (read here through `cargo metadata`):
//!
//! ```toml
//! [package.metadata.mindflow]
//! component = "http"        # "http": a wasi:http component, built for wasm32-wasip2;
//!                           # "pure": a pure-function world, built for
//!                           #   wasm32-unknown-unknown and componentized;
//!                           # "library": linked into components, never built alone
//! file = "versioned-v1"     # optional: the output's name, `NAME.wasm` by default
//!
//! # Optional: more builds of the same crate, each into `NAME-VARIANT.wasm`.
//! [package.metadata.mindflow.variants.v2]
//! features = ["v2"]        # with the crate's features; or, for a pure crisis-rules crate,
//!                           # from its rules/ruleset.toml plus a file or without a rule:
//! # ruleset = { append = "variants/extra.toml" }
//! # ruleset = { without-rule = "plan.note-written" }
//! ```
//!
//! Every component and library crate whose library target is an `rlib` (or that is a
//! `library`) has native tests: `cargo xtask test` runs them, `cargo xtask lint` lints them
//! natively. A crate under `components/` without the table is a mistake, not a crate to skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// The folders, under the workspace root, whose crates are components (`templates/` holds
/// the partner templates, built and tested like the shipped components).
const COMPONENT_FOLDERS: &[&str] = &["components", "templates"];

/// What a component crate builds into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A `wasi:http` component (`wasm32-wasip2`).
    Http,
    /// A pure-function world (`wasm32-unknown-unknown`, componentized by the xtask).
    Pure,
    /// A library linked into components; never built on its own.
    Library,
}

/// How a variant differs from the crate's default build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The crate's cargo features.
    Features(Vec<String>),
    /// A ruleset derived from the crate's own (a crisis-rules crate, whose build script reads
    /// the ruleset named by [`RULESET_ENV`]).
    Ruleset(RulesetChange),
}

/// How a variant's ruleset is derived from the crate's `rules/ruleset.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RulesetChange {
    /// The ruleset with this file (relative to the crate) appended.
    Append(PathBuf),
    /// The ruleset without the rule of this id.
    WithoutRule(String),
}

/// The environment variable a crisis-rules build reads its ruleset's path from
/// (`components/crisis-rules/build.rs`).
pub const RULESET_ENV: &str = "MINDFLOW_CRISIS_RULESET";

/// A crisis-rules crate's own ruleset, relative to the crate.
const RULESET: &str = "rules/ruleset.toml";

/// A further build of a component crate, into `NAME-VARIANT.wasm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The variant's name (the end of its file name).
    pub name: String,
    /// What it changes.
    pub change: Change,
}

/// A crate under `components/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The package name (`cargo -p`).
    pub package: String,
    /// The folder of its `Cargo.toml`.
    pub dir: PathBuf,
    /// What it builds into.
    pub kind: Kind,
    /// Its library target's name, which names the built `.wasm` (`hello_spin`).
    pub lib: String,
    /// Whether it has native tests (an `rlib`, or a library).
    pub native_tests: bool,
    /// The default build's output file name, without `.wasm`.
    pub file: String,
    /// Further builds.
    pub variants: Vec<Variant>,
}

impl Component {
    /// The `.wasm` file cargo writes for this crate.
    #[must_use]
    pub fn artifact(&self) -> String {
        format!("{}.wasm", self.lib)
    }

    /// The output file name of `variant`.
    #[must_use]
    pub fn variant_file(&self, variant: &Variant) -> String {
        format!("{}-{}.wasm", self.package, variant.name)
    }
}

/// `[package.metadata.mindflow]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    component: Kind,
    file: Option<String>,
    #[serde(default)]
    variants: BTreeMap<String, VariantTable>,
}

/// `[package.metadata.mindflow.variants.NAME]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantTable {
    #[serde(default)]
    features: Vec<String>,
    ruleset: Option<RulesetChange>,
}

/// The workspace's members: its component crates and the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The crates under `components/`, sorted by package name.
    pub components: Vec<Component>,
    /// Every other member's package name (the host and the crates beside it, xtask, the
    /// tests), sorted.
    pub others: Vec<String>,
}

/// The workspace's members, read with `cargo metadata`.
///
/// # Errors
/// When `cargo metadata` fails, or a crate under `components/` has no valid
/// `[package.metadata.mindflow]` table.
pub fn discover(root: &Path) -> Result<Workspace> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    from_metadata(&metadata)
}

/// The workspace in `cargo metadata --format-version 1 --no-deps` output.
///
/// # Errors
/// As [`discover`].
pub fn from_metadata(metadata: &Value) -> Result<Workspace> {
    let root = metadata["workspace_root"]
        .as_str()
        .context("cargo metadata has no workspace_root")?;
    let folders: Vec<PathBuf> = COMPONENT_FOLDERS
        .iter()
        .map(|f| Path::new(root).join(f))
        .collect();
    let mut components = Vec::new();
    let mut others = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let manifest = package["manifest_path"]
            .as_str()
            .map(PathBuf::from)
            .context("a package without manifest_path")?;
        if !folders.iter().any(|f| manifest.starts_with(f)) {
            others.push(
                package["name"]
                    .as_str()
                    .context("a package without a name")?
                    .to_owned(),
            );
            continue;
        }
        components.push(
            component(package, &manifest).with_context(|| format!("in {}", manifest.display()))?,
        );
    }
    components.sort_by(|a, b| a.package.cmp(&b.package));
    others.sort();
    Ok(Workspace { components, others })
}

/// One package of `cargo metadata` under `components/`.
fn component(package: &Value, manifest: &Path) -> Result<Component> {
    let name = package["name"]
        .as_str()
        .context("a package without a name")?;
    let table = package["metadata"].get("mindflow").with_context(|| {
        format!(
            "`{name}` is under {}/ but has no [package.metadata.mindflow] \
             table: add `component = \"http\"`, `\"pure\"` or `\"library\"`",
            COMPONENT_FOLDERS.join("/ or ")
        )
    })?;
    let table = Table::deserialize(table)
        .with_context(|| format!("[package.metadata.mindflow] of `{name}`"))?;
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|target| {
            ["lib", "rlib", "cdylib"]
                .iter()
                .any(|kind| has(&target["kind"], kind))
        })
        .with_context(|| format!("`{name}` has no library target"))?;
    let crate_types = &lib["crate_types"];
    if table.component != Kind::Library && !has(crate_types, "cdylib") {
        bail!("`{name}` is a component but its library is not a cdylib");
    }
    if table.component == Kind::Library && (table.file.is_some() || !table.variants.is_empty()) {
        bail!("`{name}` is a library: it has no file or variants");
    }
    let variants = table
        .variants
        .into_iter()
        .map(|(variant, spec)| {
            self::variant(table.component, variant, spec)
                .with_context(|| format!("[package.metadata.mindflow.variants] of `{name}`"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Component {
        package: name.to_owned(),
        dir: manifest
            .parent()
            .map(Path::to_path_buf)
            .context("a manifest without a folder")?,
        kind: table.component,
        lib: lib["name"]
            .as_str()
            .context("a target without a name")?
            .replace('-', "_"),
        native_tests: table.component == Kind::Library || has(crate_types, "rlib"),
        file: table.file.unwrap_or_else(|| name.to_owned()),
        variants,
    })
}

fn variant(kind: Kind, name: String, spec: VariantTable) -> Result<Variant> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        bail!("variant `{name}`: a name is lowercase letters, digits and `-`");
    }
    let change = match (spec.features.is_empty(), spec.ruleset) {
        (false, None) => Change::Features(spec.features),
        (true, Some(ruleset)) if kind == Kind::Pure => Change::Ruleset(ruleset),
        (true, Some(_)) => bail!("variant `{name}`: only a pure component has a ruleset"),
        (true, None) => bail!("variant `{name}` changes nothing: give `features` or `ruleset`"),
        (false, Some(_)) => bail!("variant `{name}`: `features` or `ruleset`, not both"),
    };
    Ok(Variant { name, change })
}

/// Whether a JSON array of strings holds `item`.
fn has(list: &Value, item: &str) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|i| i == item))
}

impl RulesetChange {
    /// The ruleset of variant `variant` of the crate in `crate_dir`: its `rules/ruleset.toml`
    /// changed, and its version prefixed with the variant's name (`improved-2025.11.1`), so
    /// that the host's reports say which one it is.
    ///
    /// # Errors
    /// When a file cannot be read, the ruleset has no version, or the rule to leave out is
    /// not in it.
    pub fn derive(&self, crate_dir: &Path, variant: &str) -> Result<String> {
        let path = crate_dir.join(RULESET);
        let base = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let extra = match self {
            Self::Append(file) => {
                let path = crate_dir.join(file);
                Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?,
                )
            }
            Self::WithoutRule(_) => None,
        };
        self.apply(&base, extra.as_deref(), variant)
    }

    /// [`RulesetChange::derive`] on texts: `extra` is the appended file's.
    fn apply(&self, base: &str, extra: Option<&str>, variant: &str) -> Result<String> {
        const VERSION: &str = "version = \"";
        if !base.contains(VERSION) {
            bail!("the ruleset has no `version`");
        }
        let base = base.replacen(VERSION, &format!("{VERSION}{variant}-"), 1);
        match self {
            Self::Append(_) => Ok(format!("{base}{}", extra.unwrap_or_default())),
            Self::WithoutRule(id) => {
                const RULE: &str = "\n[[rule]]\n";
                let first_line = format!("id = \"{id}\"");
                let kept: Vec<&str> = base
                    .split(RULE)
                    .filter(|block| !block.starts_with(&first_line))
                    .collect();
                let kept = kept.join(RULE);
                if kept.len() == base.len() {
                    bail!("rule `{id}` is not in the ruleset: update the variant");
                }
                Ok(kept)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn package(name: &str, dir: &str, crate_types: &[&str], metadata: &Value) -> Value {
        json!({
            "name": name,
            "manifest_path": format!("/ws/{dir}/Cargo.toml"),
            "metadata": metadata,
            "targets": [
                {"name": name, "kind": crate_types, "crate_types": crate_types},
                {"name": "build-script-build", "kind": ["custom-build"], "crate_types": ["bin"]},
            ],
        })
    }

    fn metadata(packages: &[Value]) -> Value {
        json!({"workspace_root": "/ws", "packages": packages})
    }

    fn the_workspace() -> Value {
        metadata(&[
            package("mindflow", "host", &["lib"], &Value::Null),
            package(
                "hello-spin",
                "components/examples/hello-spin",
                &["cdylib"],
                &json!({"mindflow": {"component": "http"}}),
            ),
            package(
                "mood",
                "components/mood",
                &["cdylib", "rlib"],
                &json!({"mindflow": {"component": "http"}}),
            ),
            package(
                "versioned",
                "components/testing/versioned",
                &["cdylib"],
                &json!({"mindflow": {
                    "component": "http",
                    "file": "versioned-v1",
                    "variants": {"v2": {"features": ["v2"]}},
                }}),
            ),
            package(
                "crisis-rules",
                "components/crisis-rules",
                &["cdylib", "rlib"],
                &json!({"mindflow": {
                    "component": "pure",
                    "variants": {
                        "improved": {"ruleset": {"append": "variants/improved-rule.toml"}},
                        "weakened": {"ruleset": {"without-rule": "plan.note-written"}},
                    },
                }}),
            ),
            package(
                "wearable-template",
                "templates/wearable-adapter",
                &["cdylib", "rlib"],
                &json!({"mindflow": {"component": "http"}}),
            ),
            package(
                "mindflow-component-kit",
                "components/kit",
                &["rlib"],
                &json!({"mindflow": {"component": "library"}}),
            ),
        ])
    }

    fn error(metadata: &Value) -> String {
        format!("{:#}", from_metadata(metadata).expect_err("refused"))
    }

    #[test]
    fn crates_under_components_are_found_with_their_kind() {
        let workspace = from_metadata(&the_workspace()).expect("components");
        assert_eq!(workspace.others, ["mindflow"]);
        let found = workspace.components;
        let names: Vec<(&str, Kind)> = found.iter().map(|c| (c.package.as_str(), c.kind)).collect();
        assert_eq!(
            names,
            [
                ("crisis-rules", Kind::Pure),
                ("hello-spin", Kind::Http),
                ("mindflow-component-kit", Kind::Library),
                ("mood", Kind::Http),
                ("versioned", Kind::Http),
                ("wearable-template", Kind::Http),
            ]
        );
        let hello = &found[1];
        assert_eq!(hello.artifact(), "hello_spin.wasm");
        assert_eq!(hello.file, "hello-spin");
        assert_eq!(hello.dir, Path::new("/ws/components/examples/hello-spin"));
        // Crates under templates/ are components too.
        assert_eq!(found[5].dir, Path::new("/ws/templates/wearable-adapter"));
    }

    #[test]
    fn rlibs_and_libraries_have_native_tests() {
        let found = from_metadata(&the_workspace())
            .expect("components")
            .components;
        let native: Vec<&str> = found
            .iter()
            .filter(|c| c.native_tests)
            .map(|c| c.package.as_str())
            .collect();
        assert_eq!(
            native,
            [
                "crisis-rules",
                "mindflow-component-kit",
                "mood",
                "wearable-template"
            ]
        );
    }

    #[test]
    fn variants_have_their_own_files() {
        let found = from_metadata(&the_workspace())
            .expect("components")
            .components;
        let versioned = &found[4];
        assert_eq!(versioned.file, "versioned-v1");
        assert_eq!(
            versioned.variants,
            [Variant {
                name: "v2".into(),
                change: Change::Features(vec!["v2".into()]),
            }]
        );
        assert_eq!(
            versioned.variant_file(&versioned.variants[0]),
            "versioned-v2.wasm"
        );
        let rules = &found[0];
        let files: Vec<String> = rules
            .variants
            .iter()
            .map(|v| rules.variant_file(v))
            .collect();
        assert_eq!(
            files,
            ["crisis-rules-improved.wasm", "crisis-rules-weakened.wasm"]
        );
        assert_eq!(
            rules.variants[1].change,
            Change::Ruleset(RulesetChange::WithoutRule("plan.note-written".into()))
        );
    }

    #[test]
    fn a_crate_under_components_without_the_table_is_refused() {
        let text = error(&metadata(&[package(
            "forgotten",
            "components/forgotten",
            &["cdylib"],
            &Value::Null,
        )]));
        assert!(text.contains("`forgotten`"), "{text}");
        assert!(text.contains("[package.metadata.mindflow]"), "{text}");
    }

    #[test]
    fn mistakes_in_the_table_are_refused_naming_the_crate() {
        let cases = [
            (
                json!({"component": "plugin"}),
                &["cdylib"][..],
                "unknown variant",
            ),
            (
                json!({"component": "http", "flie": "x"}),
                &["cdylib"],
                "unknown field",
            ),
            (json!({"component": "http"}), &["rlib"], "not a cdylib"),
            (
                json!({"component": "library", "variants": {"x": {"features": ["f"]}}}),
                &["rlib"],
                "is a library",
            ),
            (
                json!({"component": "http", "variants": {"x": {"ruleset": {"without-rule": "r"}}}}),
                &["cdylib"],
                "only a pure component",
            ),
            (
                json!({"component": "pure", "variants": {"x": {}}}),
                &["cdylib"],
                "changes nothing",
            ),
            (
                json!({"component": "http", "variants": {"V 2": {"features": ["v2"]}}}),
                &["cdylib"],
                "lowercase",
            ),
        ];
        for (table, crate_types, expected) in cases {
            let text = error(&metadata(&[package(
                "broken",
                "components/broken",
                crate_types,
                &json!({ "mindflow": table }),
            )]));
            assert!(text.contains("broken"), "{text}");
            assert!(text.contains(expected), "{expected}: {text}");
        }
    }

    const RULESET_TEXT: &str = "[ruleset]\nversion = \"2025.11.1\"\n\n[[rule]]\nid = \"a\"\nweight = 1\n\n[[rule]]\nid = \"plan.note-written\"\nweight = 2\n\n[[rule]]\nid = \"c\"\nweight = 3\n";

    #[test]
    fn a_derived_ruleset_names_its_variant_in_its_version() {
        let improved = RulesetChange::Append("extra.toml".into())
            .apply(RULESET_TEXT, Some("\n[[rule]]\nid = \"d\"\n"), "improved")
            .expect("improved");
        assert!(improved.contains("version = \"improved-2025.11.1\""));
        assert!(improved.ends_with("id = \"c\"\nweight = 3\n\n[[rule]]\nid = \"d\"\n"));
        let weakened = RulesetChange::WithoutRule("plan.note-written".into())
            .apply(RULESET_TEXT, None, "weakened")
            .expect("weakened");
        assert_eq!(
            weakened,
            "[ruleset]\nversion = \"weakened-2025.11.1\"\n\n[[rule]]\nid = \"a\"\nweight = 1\n\n[[rule]]\nid = \"c\"\nweight = 3\n"
        );
    }

    #[test]
    fn leaving_out_a_rule_that_is_not_there_is_a_mistake() {
        let text = format!(
            "{:#}",
            RulesetChange::WithoutRule("gone".into())
                .apply(RULESET_TEXT, None, "weakened")
                .expect_err("refused")
        );
        assert!(text.contains("rule `gone`"), "{text}");
    }

    #[test]
    fn the_repositorys_components_are_all_described() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace");
        let workspace = discover(root).expect("every crate under components/ has its table");
        for member in ["mindflow", "xtask", "mindflow-tests"] {
            assert!(workspace.others.iter().any(|o| o == member), "{member}");
        }
        let found = workspace.components;
        let outputs: Vec<String> = found
            .iter()
            .filter(|c| c.kind != Kind::Library)
            .flat_map(|c| {
                std::iter::once(format!("{}.wasm", c.file))
                    .chain(c.variants.iter().map(|v| c.variant_file(v)))
            })
            .collect();
        for expected in [
            "crisis-rules.wasm",
            "crisis-rules-improved.wasm",
            "crisis-rules-weakened.wasm",
            "hello-spin.wasm",
            "mood.wasm",
            "journal.wasm",
            "versioned-v1.wasm",
            "versioned-v2.wasm",
        ] {
            assert!(
                outputs.iter().any(|o| o == expected),
                "{expected}: {outputs:?}"
            );
        }
        for derived in found.iter().flat_map(|c| {
            c.variants.iter().filter_map(move |v| match &v.change {
                Change::Ruleset(change) => Some((c, v, change)),
                Change::Features(_) => None,
            })
        }) {
            let (component, variant, change) = derived;
            change
                .derive(&component.dir, &variant.name)
                .expect("the ruleset variants still apply");
        }
    }
}
