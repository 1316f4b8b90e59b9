//! `hostile`: a Spin HTTP component that misbehaves on purpose, for the sandbox tests.
//!
//! Chosen by the path's last segment:
//! - `/loop`: an infinite loop the optimiser cannot remove (the host's time limit must stop it);
//! - `/memory`: allocates and touches 1 MiB chunks forever (the memory cap must stop it);
//! - `/trap`: executes `unreachable` (the request must fail, the host must not);
//! - `/egress?url=...`: outbound GET to `url`: `200 {"upstream_status": n}`, or `502` problem
//!   JSON with the error text when the request fails or is refused;
//! - `/sleep?ms=N`: sleeps N milliseconds (at most 30 s), then `200 slept` (for graceful
//!   shutdown: an in-flight request must finish);
//! - anything else: `200 ok`.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

const MIB: usize = 1 << 20;

fn spin_forever() -> ! {
    let mut i: u64 = 0;
    loop {
        i = std::hint::black_box(i.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    let mut n: u8 = 0;
    loop {
        n = n.wrapping_add(1);
        // `vec![n; MIB]` writes every byte, so the pages are really touched.
        let chunk = vec![n; MIB];
        hoard.push(std::hint::black_box(chunk));
        std::hint::black_box(&hoard);
    }
}

fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("hostile component: deliberate trap");
}

fn problem(status: u16, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    Response::builder()
        .status(status)
        .header("content-type", "application/problem+json")
        .body(body.to_string())
        .build()
}

async fn egress(query: &str) -> Response {
    let Some(url) = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned())
    else {
        return problem(400, "Bad Request", "missing query parameter `url`");
    };
    match spin_sdk::http::send::<_, Response>(Request::get(url).build()).await {
        Ok(upstream) => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(serde_json::json!({"upstream_status": *upstream.status()}).to_string())
            .build(),
        Err(e) => problem(502, "Bad Gateway", &e.to_string()),
    }
}

fn sleep(query: &str) -> Response {
    let ms = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "ms")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(100)
        .min(30_000);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body("slept")
        .build()
}

#[http_component]
async fn handle(req: Request) -> Response {
    let path = req.path().trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or_default();
    match last {
        "loop" => spin_forever(),
        "memory" => allocate_forever(),
        "trap" => trap(),
        "egress" => egress(req.query()).await,
        "sleep" => sleep(req.query()),
        _ => Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body("ok")
            .build(),
    }
}
