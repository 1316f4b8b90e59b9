//! Webhooks: the host checks a delivery by the scheme its adapter declares before the
//! adapter reads it, answers handshakes, and refuses replays.
//!
//! - `hmac-sha256`: HMAC-SHA256 under `MINDFLOW_WEARABLE_<ID>_WEBHOOK_SECRET` (else the
//!   client secret, as Oura signs) over the timestamp header's value (when declared) and the
//!   raw body, given in the signature header in hex (either case) or base64. A timestamp more
//!   than [`MAX_SKEW_SECONDS`] away is refused.
//! - `shared-secret(header)`: the header holds the webhook secret (or `Bearer <secret>`),
//!   compared in constant time.
//! - Replays: the SHA-256 of the provider, the signature and the body is recorded; the same
//!   delivery again is refused (409) for a day.
//! - A handshake (`GET`) answers `{"challenge": …}` when the verification token matches.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::oauth::setting;
use crate::wearables::world::exports::mindflow::platform::adapter::{WebhookAuth, Webhooks};

/// The most a timestamped delivery may be off.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// Why a delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The provider takes no webhooks, or no secret is configured for it.
    #[error("webhooks are not configured for this provider")]
    NotConfigured,
    /// The signature or secret is missing or wrong.
    #[error("the delivery's signature does not verify")]
    BadSignature,
    /// The timestamp is missing, unreadable or too far from now.
    #[error("the delivery's timestamp is missing or too old")]
    Stale,
}

/// The secret webhooks of `provider` are checked with.
pub fn secret(provider: &str) -> Option<String> {
    setting(provider, "WEBHOOK_SECRET").or_else(|| setting(provider, "CLIENT_SECRET"))
}

fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn decode_signature(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("sha256=").unwrap_or(text);
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(text.to_ascii_lowercase()).ok();
    }
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A timestamp in seconds or milliseconds since the epoch, or RFC 3339.
fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(n) = text.parse::<i64>() {
        let seconds = if n > 100_000_000_000 { n / 1000 } else { n };
        return DateTime::from_timestamp(seconds, 0);
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Checks a delivery; the digest to record against replays.
///
/// # Errors
/// [`Refusal`].
pub fn verify(
    provider: &str,
    webhooks: &Webhooks,
    headers: &http::HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    let secret = secret(provider).ok_or(Refusal::NotConfigured)?;
    let signature_text = match &webhooks.auth {
        WebhookAuth::HmacSha256(scheme) => {
            let given = header(headers, &scheme.signature_header).ok_or(Refusal::BadSignature)?;
            let signature = decode_signature(given).ok_or(Refusal::BadSignature)?;
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .map_err(|_| Refusal::NotConfigured)?;
            if let Some(name) = &scheme.timestamp_header {
                let stamp = header(headers, name).ok_or(Refusal::Stale)?;
                let at = timestamp(stamp).ok_or(Refusal::Stale)?;
                if (now - at).num_seconds().abs() > MAX_SKEW_SECONDS {
                    return Err(Refusal::Stale);
                }
                mac.update(stamp.as_bytes());
            }
            mac.update(body);
            mac.verify_slice(&signature)
                .map_err(|_| Refusal::BadSignature)?;
            given.to_owned()
        }
        WebhookAuth::SharedSecret(name) => {
            let given = header(headers, name).ok_or(Refusal::BadSignature)?;
            let given = given.strip_prefix("Bearer ").unwrap_or(given);
            if !bool::from(given.as_bytes().ct_eq(secret.as_bytes())) {
                return Err(Refusal::BadSignature);
            }
            String::new()
        }
    };
    let mut digest = Sha256::new();
    digest.update(provider.as_bytes());
    digest.update([0]);
    digest.update(signature_text.as_bytes());
    digest.update([0]);
    digest.update(body);
    Ok(hex::encode(digest.finalize()))
}

/// A handshake's answer: the challenge, when the verification token matches.
pub fn handshake(
    provider: &str,
    webhooks: &Webhooks,
    query: &std::collections::HashMap<String, String>,
) -> Option<String> {
    let challenge_param = webhooks.challenge_param.as_ref()?;
    let challenge = query.get(challenge_param)?;
    if let Some(param) = &webhooks.verification_param {
        let expected = setting(provider, "VERIFICATION_TOKEN")?;
        let given = query.get(param)?;
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return None;
        }
    }
    Some(challenge.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wearables::world::exports::mindflow::platform::adapter::Hmac as HmacScheme;

    fn oura() -> Webhooks {
        Webhooks {
            auth: WebhookAuth::HmacSha256(HmacScheme {
                signature_header: "x-oura-signature".into(),
                timestamp_header: Some("x-oura-timestamp".into()),
            }),
            challenge_param: Some("challenge".into()),
            verification_param: Some("verification_token".into()),
        }
    }

    fn signed(secret: &str, stamp: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(stamp.as_bytes());
        mac.update(body);
        hex::encode_upper(mac.finalize().into_bytes())
    }

    #[test]
    fn hmac_deliveries_verify_and_tampering_or_age_is_refused() {
        // The provider name is unique to this test: its secret is set for this test only.
        let provider = "webhook-test-hmac";
        // SAFETY-free: the variable names only this test's provider.
        unsafe_env(&oauth_name(provider, "WEBHOOK_SECRET"), "s3cret");
        let now = Utc::now();
        let stamp = now.timestamp().to_string();
        let body = br#"{"event_type":"create","data_type":"sleep","user_id":"u1"}"#;
        let mut headers = http::HeaderMap::new();
        headers.insert("x-oura-timestamp", stamp.parse().expect("header"));
        headers.insert(
            "x-oura-signature",
            signed("s3cret", &stamp, body).parse().expect("header"),
        );
        let digest = verify(provider, &oura(), &headers, body, now).expect("verifies");
        assert_eq!(digest.len(), 64);
        assert_eq!(
            verify(provider, &oura(), &headers, b"{}", now),
            Err(Refusal::BadSignature)
        );
        let later = now + chrono::Duration::seconds(MAX_SKEW_SECONDS + 5);
        assert_eq!(
            verify(provider, &oura(), &headers, body, later),
            Err(Refusal::Stale)
        );
        assert_eq!(
            verify("webhook-test-none", &oura(), &headers, body, now),
            Err(Refusal::NotConfigured)
        );
    }

    fn oauth_name(provider: &str, setting: &str) -> String {
        super::super::oauth::setting_name(provider, setting)
    }

    #[allow(unsafe_code)]
    fn unsafe_env(name: &str, value: &str) {
        // SAFETY: the test sets a variable no other test reads or writes (its name holds
        // this test's own provider), before reading it on the same thread.
        unsafe { std::env::set_var(name, value) };
    }
}
