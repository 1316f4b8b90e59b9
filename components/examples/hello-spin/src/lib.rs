//! `hello-spin`: an ordinary Spin HTTP component (nothing MindFlow-specific).
//!
//! `GET <any path>` → `200 {"message": <variable "greeting">, "path": <path>, "component": "hello-spin"}`.
//! It is deliberately tiny: it is also the target of the dispatch benchmark.

use spin_sdk::http::{Method, Request, Response};

/// The component's OpenAPI 3.1 fragment, relative to the route it is mounted at. The host reads
/// it from the `mindflow:openapi` custom section.
const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

fn handle(req: Request) -> Response {
    if *req.method() != Method::Get {
        return Response::builder()
            .status(405)
            .header("allow", "GET")
            .header("content-type", "application/problem+json")
            .body(r#"{"type":"about:blank","title":"Method Not Allowed","status":405}"#)
            .build();
    }
    let message = spin_sdk::variables::get("greeting").unwrap_or_default();
    let body = serde_json::json!({
        "message": message,
        "path": req.path(),
        "component": "hello-spin",
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body.to_string())
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
