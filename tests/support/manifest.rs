//! Manifests for test servers.
//!
//! A test that runs the product's components ([`Manifest::product`]) starts from the
//! repository's own `spin.toml`, so it runs them with the routes, variables and grants they
//! ship with; only each `source` is pointed at the built components. Test-only components
//! (hostile, storage-probe, versioned, ...) are added as TOML text ([`Manifest::with`]); a
//! test whose point is a different grant replaces that one field ([`Manifest::set`]).
//! [`manifest`] writes a manifest of test-only components from text alone.

use std::fmt;
use std::path::Path;

use toml::{Table, Value};

use crate::{component, workspace_root};

/// An application manifest for a test server; a `String` (for [`crate::ServerOptions`]) via
/// [`fmt::Display`] or `From`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    table: Table,
}

impl Manifest {
    /// The repository's `spin.toml` reduced to the components `names`: their
    /// `[component.NAME]` tables (with their `variables` and `tool.mindflow` grants) and the
    /// triggers that route to them; every other top-level table (`[application]`,
    /// `[variables]`) is kept whole. Each `source` names the built component of the same
    /// file name ([`component`]).
    ///
    /// # Panics
    /// When `spin.toml` cannot be read or parsed, or has no component of one of `names`.
    #[must_use]
    pub fn product(names: &[&str]) -> Self {
        let path = workspace_root().join("spin.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Self::select(&parse(&text, &path.display().to_string()), names)
    }

    /// `names`' part of a parsed product manifest (see [`Manifest::product`]).
    fn select(product: &Table, names: &[&str]) -> Self {
        let mut table = Table::new();
        for (key, value) in product {
            match (key.as_str(), value) {
                ("component", Value::Table(components)) => {
                    let mut kept = Table::new();
                    for name in names {
                        let mut entry = components
                            .get(*name)
                            .and_then(Value::as_table)
                            .cloned()
                            .unwrap_or_else(|| panic!("spin.toml has no [component.{name}]"));
                        point_at_built_component(name, &mut entry);
                        kept.insert((*name).to_owned(), Value::Table(entry));
                    }
                    table.insert(key.clone(), Value::Table(kept));
                }
                ("trigger", Value::Table(triggers)) => {
                    let mut kept = Table::new();
                    for (kind, entries) in triggers {
                        let routed: Vec<Value> = entries
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|entry| {
                                entry
                                    .get("component")
                                    .and_then(Value::as_str)
                                    .is_some_and(|name| names.contains(&name))
                            })
                            .cloned()
                            .collect();
                        if !routed.is_empty() {
                            kept.insert(kind.clone(), Value::Array(routed));
                        }
                    }
                    table.insert(key.clone(), Value::Table(kept));
                }
                _ => {
                    table.insert(key.clone(), value.clone());
                }
            }
        }
        Self { table }
    }

    /// Adds TOML `body` (test-only components, their routes, variables), in which
    /// `{components}` stands for the built components' folder. Tables merge; arrays of
    /// tables (`[[trigger.http]]`) are appended to; adding never replaces a value (that is
    /// what [`Manifest::set`] is for).
    ///
    /// # Panics
    /// When `body` is not TOML, or gives a value the manifest already has.
    #[must_use]
    pub fn with(mut self, body: &str) -> Self {
        let extra = parse(&with_components_dir(body), "the test's manifest text");
        merge(&mut self.table, extra, "");
        self
    }

    /// Sets the value at dotted `path` (e.g. `component.hello.tool.mindflow.timeout_ms`),
    /// replacing what is there and making missing tables on the way.
    ///
    /// # Panics
    /// When a step of `path` other than the last is a value that is not a table.
    #[must_use]
    pub fn set(mut self, path: &str, value: impl Into<Value>) -> Self {
        let mut keys: Vec<&str> = path.split('.').collect();
        let last = keys.pop().unwrap_or_default();
        let mut table = &mut self.table;
        for key in keys {
            table = table
                .entry(key)
                .or_insert(Value::Table(Table::new()))
                .as_table_mut()
                .unwrap_or_else(|| panic!("`{key}` in `{path}` is not a table"));
        }
        table.insert(last.to_owned(), value.into());
        self
    }
}

impl fmt::Display for Manifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.table, f)
    }
}

impl From<Manifest> for String {
    fn from(manifest: Manifest) -> Self {
        manifest.to_string()
    }
}

/// A manifest of test-only components: `spin_manifest_version`, an `[application]`, then
/// `body`, in which `{components}` stands for the built components' folder.
#[must_use]
pub fn manifest(body: &str) -> String {
    format!(
        "spin_manifest_version = 2\n[application]\nname = \"test\"\n\n{}",
        with_components_dir(body)
    )
}

/// `body` with `{components}` replaced by the built components' folder.
fn with_components_dir(body: &str) -> String {
    let dir = component("x");
    let dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    body.replace("{components}", &dir.display().to_string())
}

fn parse(text: &str, what: &str) -> Table {
    text.parse()
        .unwrap_or_else(|e| panic!("{what} is not a TOML table: {e}"))
}

/// Points `[component.NAME]`'s `source` (`target/components/FILE.wasm` in `spin.toml`) at
/// the built component `FILE`.
fn point_at_built_component(name: &str, entry: &mut Table) {
    let file = entry
        .get("source")
        .and_then(Value::as_str)
        .and_then(|source| Path::new(source).file_stem())
        .and_then(|stem| stem.to_str())
        .unwrap_or_else(|| panic!("[component.{name}] in spin.toml has no file `source`"))
        .to_owned();
    entry.insert(
        "source".into(),
        Value::String(component(&file).display().to_string()),
    );
}

/// Adds `extra` to `table`; `at` is the dotted path of `table`, for messages.
fn merge(table: &mut Table, extra: Table, at: &str) {
    for (key, value) in extra {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match (table.get_mut(&key), value) {
            (None, value) => {
                table.insert(key, value);
            }
            (Some(Value::Table(existing)), Value::Table(more)) => merge(existing, more, &path),
            (Some(Value::Array(existing)), Value::Array(more))
                if existing.iter().chain(&more).all(Value::is_table) =>
            {
                existing.extend(more);
            }
            (Some(_), _) => panic!("the manifest already has `{path}`: use Manifest::set"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCT: &str = r#"
spin_manifest_version = 2

[application]
name = "mindflow"

[variables]
greeting = { default = "Hello" }

[[trigger.http]]
route = "/api/v1/hello/..."
component = "hello"

[component.hello]
source = "target/components/hello-spin.wasm"
[component.hello.variables]
greeting = "{{ greeting }}"
[component.hello.tool.mindflow]
authentication = "none"

[[trigger.http]]
route = "/api/v1/mood/..."
component = "mood"

[component.mood]
source = "target/components/mood.wasm"
[component.mood.tool.mindflow]
capabilities = ["context", "storage"]

[component.crisis-rules]
source = "target/components/crisis-rules.wasm"
[component.crisis-rules.tool.mindflow]
kind = "crisis-rules"
fuel = 100000000
"#;

    fn product(names: &[&str]) -> Table {
        Manifest::select(&parse(PRODUCT, "PRODUCT"), names).table
    }

    fn at<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
        let mut keys = path.split('.');
        let first = table.get(keys.next()?)?;
        keys.try_fold(first, |value, key| value.get(key))
    }

    #[test]
    fn keeps_only_the_named_components_and_their_routes() {
        let table = product(&["mood", "crisis-rules"]);
        let components: Vec<&String> = at(&table, "component")
            .and_then(Value::as_table)
            .expect("components")
            .keys()
            .collect();
        assert_eq!(components.len(), 2, "{components:?}");
        let routes = at(&table, "trigger.http")
            .and_then(Value::as_array)
            .expect("routes");
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0]["component"].as_str(), Some("mood"));
        assert_eq!(
            at(&table, "component.crisis-rules.tool.mindflow.fuel"),
            Some(&Value::Integer(100_000_000))
        );
        assert_eq!(
            at(&table, "variables.greeting.default").and_then(Value::as_str),
            Some("Hello")
        );
        assert_eq!(
            at(&table, "application.name").and_then(Value::as_str),
            Some("mindflow")
        );
    }

    #[test]
    fn sources_name_the_built_components() {
        let table = product(&["hello"]);
        assert_eq!(
            at(&table, "component.hello.source").and_then(Value::as_str),
            Some(component("hello-spin").display().to_string().as_str())
        );
        assert_eq!(
            at(&table, "component.hello.variables.greeting").and_then(Value::as_str),
            Some("{{ greeting }}")
        );
    }

    #[test]
    #[should_panic(expected = "spin.toml has no [component.ghost]")]
    fn an_unknown_component_is_a_mistake() {
        let _ = product(&["ghost"]);
    }

    #[test]
    fn test_only_components_are_added_and_one_field_is_replaced() {
        let manifest = Manifest::select(&parse(PRODUCT, "PRODUCT"), &["hello"])
            .with(
                r#"
[[trigger.http]]
route = "/api/v1/probe/..."
component = "probe"

[component.probe]
source = "{components}/storage-probe.wasm"
"#,
            )
            .set("component.hello.tool.mindflow.timeout_ms", 0)
            .set("variables.greeting.default", "hi there");
        let table: Table = manifest.to_string().parse().expect("renders TOML");
        let routes = at(&table, "trigger.http")
            .and_then(Value::as_array)
            .expect("routes");
        let routed: Vec<&str> = routes
            .iter()
            .filter_map(|r| r["component"].as_str())
            .collect();
        assert_eq!(routed, ["hello", "probe"]);
        assert_eq!(
            at(&table, "component.probe.source").and_then(Value::as_str),
            Some(component("storage-probe").display().to_string().as_str())
        );
        assert_eq!(
            at(&table, "component.hello.tool.mindflow.timeout_ms"),
            Some(&Value::Integer(0))
        );
        assert_eq!(
            at(&table, "component.hello.tool.mindflow.authentication").and_then(Value::as_str),
            Some("none")
        );
        assert_eq!(
            at(&table, "variables.greeting.default").and_then(Value::as_str),
            Some("hi there")
        );
    }

    #[test]
    #[should_panic(expected = "already has `component.hello.tool.mindflow.authentication`")]
    fn adding_never_replaces_a_value() {
        let _ = Manifest::select(&parse(PRODUCT, "PRODUCT"), &["hello"]).with(
            r#"
[component.hello.tool.mindflow]
authentication = "required"
"#,
        );
    }

    #[test]
    fn the_repositorys_manifest_has_the_components_the_suite_runs() {
        let manifest = Manifest::product(&["hello", "mood", "journal", "crisis-rules"]);
        let table: Table = manifest.to_string().parse().expect("renders TOML");
        assert_eq!(
            at(&table, "spin_manifest_version"),
            Some(&Value::Integer(2))
        );
    }
}
