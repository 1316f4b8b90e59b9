//! `greedy-imports`: a Spin HTTP component that also imports MindFlow's `context` interface.
//!
//! `GET /` → `200` with the caller's user id as text, or `anonymous`.
//!
//! Its HTTP export comes from `spin-sdk`; the MindFlow import is bound with `wit-bindgen` from
//! the `mindflow:platform/domain-imports` world. Only the interfaces a component actually calls
//! end up as imports of the component, so this one imports `mindflow:platform/context` (and
//! `types`, which `context` uses) on top of what spin-sdk needs. Its manifest entry grants
//! nothing, so the host must refuse to install it.

use spin_sdk::http::{Request, Response};

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "mindflow:platform/domain-imports",
        generate_all,
    });
}

use bindings::mindflow::platform::context;

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

fn handle(_req: Request) -> Response {
    let who = context::current_user().map_or_else(|| "anonymous".to_owned(), |user| user.id);
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(who)
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
