//! Reading a component before running it: its imports and its custom sections.

use wasmparser::{Parser, Payload};
use wasmtime::Engine;
use wasmtime::component::Component;

/// One import of a component, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentImport {
    /// The whole import name, e.g. `wasi:http/types@0.2.0`.
    pub name: String,
    /// `wasi:http`, `mindflow:platform`, ...; empty for a plain (non-interface) import.
    pub package: String,
    /// `types`, `context`, ...
    pub interface: String,
}

/// The component's imports.
pub fn component_imports(engine: &Engine, component: &Component) -> Vec<ComponentImport> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| parse_import(name))
        .collect()
}

fn parse_import(name: &str) -> ComponentImport {
    let without_version = name.split('@').next().unwrap_or(name);
    match without_version.split_once('/') {
        Some((package, interface)) => ComponentImport {
            name: name.to_owned(),
            package: package.to_owned(),
            interface: interface.to_owned(),
        },
        None => ComponentImport {
            name: name.to_owned(),
            package: String::new(),
            interface: without_version.to_owned(),
        },
    }
}

/// The contents of the first custom section called `name`, at any nesting depth (a core
/// module's sections stay inside the component that wraps it).
pub fn custom_section(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::CustomSection(section)) if section.name() == name => {
                return Some(section.data().to_vec());
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_import_names() {
        let import = parse_import("wasi:http/types@0.2.0");
        assert_eq!(import.package, "wasi:http");
        assert_eq!(import.interface, "types");
        let import = parse_import("mindflow:platform/context@0.1.0");
        assert_eq!(import.package, "mindflow:platform");
        assert_eq!(import.interface, "context");
    }
}
