//! `versioned`: answers `200 {"version":"v1"}`, or `{"version":"v2"}` when built with the
//! cargo feature `v2`. The xtask builds both (`versioned-v1.wasm`, `versioned-v2.wasm`) for the
//! hot-swap test.

use spin_sdk::http::{Request, Response};

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

#[cfg(not(feature = "v2"))]
const BODY: &str = r#"{"version":"v1"}"#;
#[cfg(feature = "v2")]
const BODY: &str = r#"{"version":"v2"}"#;

fn handle(_req: Request) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(BODY)
        .build()
}

/// The wasi:http export. Spin's `#[http_component]` expands to an `export_name` function and
/// `unsafe` conversions of resource handles, all of Spin's own making.
#[allow(unsafe_code)]
mod export {
    use spin_sdk::http::{Request, Response};

    #[spin_sdk::http_component]
    fn handle(req: Request) -> Response {
        super::handle(req)
    }
}
