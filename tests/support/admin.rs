//! The admin API's component versions as the tests drive them, and the `versioned` test
//! component (it answers which version it is) that they swap.

use serde_json::{Value, json};

use crate::manifest::Manifest;
use crate::{Server, component};

/// The `versioned` test component (version 1) on `/api/v1/versioned`, anonymous, next to
/// the product's crisis rules.
#[must_use]
pub fn versioned_manifest() -> Manifest {
    Manifest::product(&["crisis-rules"]).with(
        r#"
[[trigger.http]]
route = "/api/v1/versioned/..."
component = "versioned"

[component.versioned]
source = "{components}/versioned-v1.wasm"
[component.versioned.tool.mindflow]
authentication = "none"
"#,
    )
}

/// The version `/api/v1/versioned` answers with (`v1`, `v2`), or `""`.
///
/// # Panics
/// When the request fails or its answer is not JSON.
pub async fn version_of(server: &Server) -> String {
    let body: Value = server
        .http
        .get(server.url("/api/v1/versioned"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    body["version"].as_str().unwrap_or_default().to_owned()
}

/// Uploads built component `file` ([`component`]) as version `label` of component `name`.
///
/// # Panics
/// When the file cannot be read or the request cannot be sent.
pub async fn upload(
    server: &Server,
    token: &str,
    name: &str,
    label: &str,
    file: &str,
) -> reqwest::Response {
    server
        .http
        .post(server.url(&format!(
            "/api/v1/admin/components/{name}/versions?version={label}"
        )))
        .bearer_auth(token)
        .header("content-type", "application/wasm")
        .body(std::fs::read(component(file)).expect("component file"))
        .send()
        .await
        .expect("upload")
}

/// Activates version `label` of component `name`.
///
/// # Panics
/// When the request cannot be sent.
pub async fn activate(server: &Server, token: &str, name: &str, label: &str) -> reqwest::Response {
    server
        .http
        .post(server.url(&format!("/api/v1/admin/components/{name}/activate")))
        .bearer_auth(token)
        .json(&json!({"version": label}))
        .send()
        .await
        .expect("activate")
}
