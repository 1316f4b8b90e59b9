//! The clinician console: a small web application at `/console/` through which an
//! administrator lists components and their versions, uploads a version (a crisis-rules
//! version shows its gate report: recall and precision per severity against the active
//! version, regressions, every case whose answer changed), activates one, rolls back and
//! reads the audit log. It is three static files compiled into the binary (`index.html`,
//! `console.js`, `console.css`) plus an icon; everything it shows comes from the admin JSON
//! API (`/api/v1/admin`), which does every check. The console adds no authority of its own.
//!
//! **Security.**
//! - *Content-Security-Policy* ([`CONTENT_SECURITY_POLICY`]): nothing but this origin's own
//!   script, style, images and `fetch`; no inline script or style, no `eval`, no framing, no
//!   `<base>`, forms only to this origin, and Trusted Types required with no policy allowed,
//!   so string-to-HTML sinks (`innerHTML` and the like) throw instead of parsing data. The
//!   script builds every node with `textContent`. No third-party CDN: every byte is served
//!   from here.
//! - *CSRF.* The access token lives only in the page's script memory (never
//!   `localStorage`, never a cookie) and travels only in an `Authorization: Bearer` header
//!   that the script sets. A cross-site page can make a browser send requests here, but the
//!   browser attaches no credential to them (the API reads no cookie), and CORS keeps it
//!   from reading answers or setting that header. So a forged request is anonymous and
//!   refused (401). The cost: a reload signs the administrator out.
//! - Every answer is `no-store`, `nosniff`, `no-referrer`, and refuses framing.
//!
//! These routes are HTML, not API: they are merged into the router beside the host's API
//! routes but not listed among them, so the OpenAPI document (and its completeness test)
//! covers the API only. They are counted by the `reads` rate limit like any `GET`.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::AppState;

/// The console's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; \
    trusted-types 'none'";

const INDEX_HTML: &str = include_str!("index.html");
const CONSOLE_JS: &str = include_str!("console.js");
const CONSOLE_CSS: &str = include_str!("console.css");
const ICON_SVG: &str = include_str!("icon.svg");

/// The console's routes: `/console` (redirects to `/console/`), `/console/` and its assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/console/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", CONSOLE_JS) }),
        )
        .route(
            "/console/console.css",
            get(|| async { asset("text/css; charset=utf-8", CONSOLE_CSS) }),
        )
        .route(
            "/console/icon.svg",
            get(|| async { asset("image/svg+xml", ICON_SVG) }),
        )
}

/// One static file with the console's security headers.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (security_headers(content_type), body).into_response()
}

/// The headers every console answer carries.
fn security_headers(content_type: &'static str) -> [(HeaderName, HeaderValue); 8] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::{CONSOLE_CSS, CONSOLE_JS, CONTENT_SECURITY_POLICY, INDEX_HTML};

    #[test]
    fn the_page_loads_only_its_own_files() {
        // No inline script or style (the policy would block them), nothing from elsewhere.
        assert!(INDEX_HTML.contains(r#"<script src="console.js" defer></script>"#));
        assert!(INDEX_HTML.contains(r#"<link rel="stylesheet" href="console.css">"#));
        assert_eq!(INDEX_HTML.matches("<script").count(), 1);
        for forbidden in ["<style", " style=", "http://", "https://", "javascript:"] {
            assert!(
                !INDEX_HTML.contains(forbidden),
                "index.html contains `{forbidden}`"
            );
        }
        // No event-handler attributes (`onclick=` and the like).
        let handlers = INDEX_HTML.match_indices(" on").filter(|(at, _)| {
            let rest = &INDEX_HTML[at + 3..];
            let name = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name > 0 && rest[name..].starts_with('=')
        });
        assert_eq!(
            handlers.count(),
            0,
            "index.html has an event-handler attribute"
        );
        for text in [CONSOLE_JS, CONSOLE_CSS] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("@import"));
        }
    }

    #[test]
    fn the_script_never_parses_data_as_html() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
            "sessionStorage",
            "document.cookie",
        ] {
            assert!(!CONSOLE_JS.contains(sink), "console.js uses `{sink}`");
        }
    }

    #[test]
    fn the_policy_is_strict() {
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }
}
