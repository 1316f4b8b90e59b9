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
//! - `/remember?value=V`: reports what an earlier request could have left behind (an
//!   initialised static, a zeroed static, and a large fresh heap buffer beyond the first
//!   megabytes of memory), then leaves `V` in all three: a fresh instance per request must
//!   answer `{"data": "pristine", "bss": "", "heap_dirty_bytes": 0}` every time;
//! - `/big?bytes=N`: a body of N bytes (at most 16 MiB) of a repeating pattern, more than
//!   the host buffers between the component and the client, so it must be streamed;
//! - anything else: `200 ok`.

use std::sync::Mutex;

use spin_sdk::http::{Request, Response};

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
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

/// Initialised data (in the component's memory image).
static DATA: Mutex<[u8; 32]> = Mutex::new(padded(b"pristine"));
const fn padded(text: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < text.len() && i < 32 {
        out[i] = text[i];
        i += 1;
    }
    out
}

/// Zero-initialised data.
static BSS: Mutex<[u8; 32]> = Mutex::new([0; 32]);
/// Larger than the pages a host keeps resident between instances, so the buffer lies in
/// memory the host must hand back zeroed some other way.
const HEAP_PROBE_BYTES: usize = 4 * MIB;

fn text_of(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Writes `value` at the start of `slot` (as much as fits).
fn store(slot: &mut [u8], value: &[u8]) {
    let n = value.len().min(slot.len());
    slot[..n].copy_from_slice(&value[..n]);
}

fn remember(query: &str) -> Response {
    let value = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "value")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let mut data = DATA.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut bss = BSS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let seen_data = text_of(&data[..]);
    let seen_bss = text_of(&bss[..]);
    // `vec![0; n]` asks the allocator for zeroed memory; on freshly grown wasm memory it
    // trusts the host to have zeroed it and writes nothing, so leftovers would show here.
    let mut heap = vec![0u8; HEAP_PROBE_BYTES];
    let heap_dirty_bytes = heap.iter().filter(|&&b| b != 0).count();
    store(&mut data[..], value.as_bytes());
    store(&mut bss[..], value.as_bytes());
    for page in heap.chunks_mut(4096) {
        store(page, value.as_bytes());
    }
    std::hint::black_box(&heap);
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(
            serde_json::json!({"data": seen_data, "bss": seen_bss, "heap_dirty_bytes": heap_dirty_bytes})
                .to_string(),
        )
        .build()
}

fn big(query: &str) -> Response {
    let bytes = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "bytes")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(MIB)
        .min(16 * MIB);
    let body: Vec<u8> = (b'a'..=b'z').cycle().take(bytes).collect();
    Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .body(body)
        .build()
}

async fn handle(req: Request) -> Response {
    let path = req.path().trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or_default();
    match last {
        "loop" => spin_forever(),
        "memory" => allocate_forever(),
        "trap" => trap(),
        "egress" => egress(req.query()).await,
        "sleep" => sleep(req.query()),
        "remember" => remember(req.query()),
        "big" => big(req.query()),
        _ => Response::builder()
            .status(200)
            .header("content-type", "text/plain")
            .body("ok")
            .build(),
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
