//! `versioned`: answers `200 {"version":"v1"}`, or `{"version":"v2"}` when built with the
//! cargo feature `v2`. The xtask builds both (`versioned-v1.wasm`, `versioned-v2.wasm`) for the
//! hot-swap test.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

#[cfg(not(feature = "v2"))]
const BODY: &str = r#"{"version":"v1"}"#;
#[cfg(feature = "v2")]
const BODY: &str = r#"{"version":"v2"}"#;

#[http_component]
fn handle(_req: Request) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(BODY)
        .build()
}
