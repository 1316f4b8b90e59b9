//! `outbound-spin`: an ordinary Spin HTTP component that makes an outbound request.
//!
//! `GET /?url=<url>` fetches `<url>` (or, without `url`, the Spin variable `upstream_url`) with
//! `spin_sdk::http::send` and answers `200 {"upstream_status": n, "upstream_body": "..."}`.
//! When the outbound request fails (policy refusal, DNS, connection...), it answers `502` with
//! an RFC 9457 problem document whose `detail` is the error text.

use spin_sdk::http::{Method, Request, Response};

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

fn problem(status: u16, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/problem+json")
        .body(body.to_string())
        .build()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn handle(req: Request) -> Response {
    if *req.method() != Method::Get {
        return problem(405, "Method Not Allowed", "only GET is supported");
    }
    let url = match query_param(req.query(), "url") {
        Some(url) => url,
        None => match spin_sdk::variables::get("upstream_url") {
            Ok(url) => url,
            Err(e) => return problem(502, "Bad Gateway", &format!("no upstream URL: {e}")),
        },
    };
    let outbound = Request::get(url).build();
    match spin_sdk::http::send::<_, Response>(outbound).await {
        Ok(upstream) => {
            let body = serde_json::json!({
                "upstream_status": *upstream.status(),
                "upstream_body": String::from_utf8_lossy(upstream.body()),
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(body.to_string())
                .build()
        }
        Err(e) => problem(502, "Bad Gateway", &e.to_string()),
    }
}

/// The wasi:http export. Spin's `#[http_component]` expands to an `export_name` function and
/// `unsafe` conversions of resource handles, all of Spin's own making.
#[allow(unsafe_code)]
mod export {
    use spin_sdk::http::{Request, Response};

    #[spin_sdk::http_component]
    async fn handle(req: Request) -> Response {
        super::handle(req).await
    }
}
