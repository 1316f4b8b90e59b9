//! What an adapter must declare for the host to run it, checked when a version is prepared
//! (like the crisis gate, a version that fails is refused and the active one stays).

use crate::capabilities::outbound::AllowedHost;
use crate::runtime::adapter::{ProviderInfo, origin_of};
use crate::wearables::world::exports::mindflow::platform::adapter::{ConnectionKind, WebhookAuth};

/// The longest provider id.
const MAX_ID: usize = 30;

fn https_or_loopback(url: &str) -> bool {
    url.starts_with("https://")
        || url.starts_with("http://127.0.0.1")
        || url.starts_with("http://localhost")
}

/// Checks `info` against the manifest's `allowed` hosts.
///
/// # Errors
/// A message naming the first thing wrong.
pub fn check_info(info: &ProviderInfo, allowed: &[AllowedHost]) -> Result<(), String> {
    if info.id.is_empty()
        || info.id.len() > MAX_ID
        || !info
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "provider id `{}` must be 1–{MAX_ID} of a–z, 0–9 and -",
            info.id
        ));
    }
    if info.display_name.trim().is_empty() || info.display_name.len() > 100 {
        return Err("display-name must be 1–100 characters".into());
    }
    for host in &info.api_hosts {
        let origin =
            origin_of(host).ok_or_else(|| format!("api-host `{host}` is not an origin"))?;
        if !https_or_loopback(&origin) {
            return Err(format!("api-host `{host}` must be https"));
        }
        let (scheme, rest) = origin.split_once("://").unwrap_or(("https", &origin));
        let (name, port) = match rest.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                (name, port.parse().unwrap_or(443))
            }
            _ => (rest, crate::manifest::allowed_hosts::default_port(scheme)),
        };
        if !allowed.iter().any(|a| a.allows(scheme, name, port)) {
            return Err(format!(
                "api-host `{host}` is not in the manifest's allowed_outbound_hosts"
            ));
        }
    }
    if let ConnectionKind::Oauth(oauth) = &info.connection {
        for (what, url) in [
            (
                "authorization-endpoint",
                Some(&oauth.authorization_endpoint),
            ),
            ("token-endpoint", Some(&oauth.token_endpoint)),
            ("revocation-endpoint", oauth.revocation_endpoint.as_ref()),
        ] {
            if let Some(url) = url
                && (!https_or_loopback(url) || origin_of(url).is_none())
            {
                return Err(format!("{what} `{url}` must be an https URL"));
            }
        }
        if oauth.scopes.iter().any(|s| s.contains(char::is_whitespace)) {
            return Err("a scope contains white space".into());
        }
        if info.api_hosts.is_empty() {
            return Err("an OAuth provider must declare its api-hosts".into());
        }
    }
    if let Some(webhooks) = &info.webhooks {
        let header = match &webhooks.auth {
            WebhookAuth::HmacSha256(hmac) => &hmac.signature_header,
            WebhookAuth::SharedSecret(header) => header,
        };
        if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(format!("webhook header `{header}` is not a header name"));
        }
    }
    if info.backfill_days > 3650 {
        return Err("backfill-days is at most 3650".into());
    }
    Ok(())
}
