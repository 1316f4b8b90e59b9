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
use spin_sdk::http_component;

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
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

#[http_component]
fn handle(_req: Request) -> Response {
    let who = context::current_user().map_or_else(|| "anonymous".to_owned(), |user| user.id);
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(who)
        .build()
}
