//! `crypto-probe`: MindFlow's `crypto` capability over HTTP, for the black-box tests.
//!
//! - `POST /seal/{purpose}` with the plaintext as the body → `200` `NONCE_HEX:CIPHERTEXT_HEX`;
//! - `POST /open/{purpose}` with `NONCE_HEX:CIPHERTEXT_HEX` → `200` with the plaintext;
//! - `POST /hash/{purpose}` with the data → `200` with the keyed hash (hex).
//!
//! A capability error is answered `409` with its name (`no-user`, `key-destroyed`,
//! `tampered`, `unavailable`); a malformed request `400`. Every call acts for the request's
//! caller: the component never names a user.

use spin_sdk::http::{Request, Response};

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "mindflow:platform/domain-imports",
        generate_all,
    });
}

use bindings::mindflow::platform::crypto;

const OPENAPI_JSON: &[u8] = include_bytes!("../openapi.json");
/// The component's OpenAPI 3.1 fragment, read by the host from this custom section.
// SAFETY: `mindflow:openapi` is a custom section of the wasm file: its bytes are never
// loaded into linear memory or run, only read by the host from the file.
#[allow(unsafe_code)]
#[unsafe(link_section = "mindflow:openapi")]
#[used]
static OPENAPI: [u8; OPENAPI_JSON.len()] = *include_bytes!("../openapi.json");

fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.into())
        .build()
}

fn error_name(error: &crypto::CryptoError) -> &'static str {
    match error {
        crypto::CryptoError::NoUser => "no-user",
        crypto::CryptoError::KeyDestroyed => "key-destroyed",
        crypto::CryptoError::Tampered => "tampered",
        crypto::CryptoError::Unavailable => "unavailable",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn handle(req: Request) -> Response {
    let path = req.path().to_owned();
    let body = req.body().to_vec();
    // The route is `/.../crypto-probe/...`: the action and purpose are the last two segments.
    let mut segments = path.rsplit('/');
    let (Some(purpose), Some(action)) = (segments.next(), segments.next()) else {
        return text(400, "expected /{action}/{purpose}");
    };
    match action {
        "seal" => match crypto::seal(purpose, &body) {
            Ok(sealed) => text(
                200,
                format!("{}:{}", hex(&sealed.nonce), hex(&sealed.ciphertext)),
            ),
            Err(error) => text(409, error_name(&error)),
        },
        "open" => {
            let parsed = std::str::from_utf8(&body)
                .ok()
                .and_then(|s| s.trim().split_once(':'))
                .and_then(|(nonce, ciphertext)| Some((unhex(nonce)?, unhex(ciphertext)?)));
            let Some((nonce, ciphertext)) = parsed else {
                return text(400, "expected NONCE_HEX:CIPHERTEXT_HEX");
            };
            match crypto::open(purpose, &crypto::Sealed { ciphertext, nonce }) {
                Ok(plaintext) => text(200, plaintext),
                Err(error) => text(409, error_name(&error)),
            }
        }
        "hash" => match crypto::keyed_hash(purpose, &body) {
            Ok(hash) => text(200, hash),
            Err(error) => text(409, error_name(&error)),
        },
        _ => text(404, "unknown action"),
    }
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
