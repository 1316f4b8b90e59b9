//! OAuth 2.0 for wearable connections, run by the host from what an adapter declares: the
//! authorization URL (a single-use `state` bound to the user, PKCE S256), the code
//! exchange, refresh and revocation. The client id and secret come from the host's
//! environment (`MINDFLOW_WEARABLE_<ID>_CLIENT_ID` / `_CLIENT_SECRET`) and never enter an
//! adapter; neither do the tokens.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::runtime::adapter::OriginMap;
use crate::secrets::Secret;
use crate::wearables::world::exports::mindflow::platform::adapter::{ClientAuth, Oauth};

/// A provider's client credentials.
#[derive(Clone)]
pub struct Client {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: Secret,
}

/// The environment variable of a provider setting: `MINDFLOW_WEARABLE_OURA_CLIENT_ID`.
pub fn setting_name(provider: &str, setting: &str) -> String {
    format!(
        "MINDFLOW_WEARABLE_{}_{setting}",
        provider.to_ascii_uppercase().replace('-', "_")
    )
}

/// A provider setting from the environment (trimmed, non-empty).
pub fn setting(provider: &str, setting: &str) -> Option<String> {
    std::env::var(setting_name(provider, setting))
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The client credentials of `provider`, when configured.
pub fn client(provider: &str) -> Option<Client> {
    Some(Client {
        id: setting(provider, "CLIENT_ID")?,
        secret: Secret::new(setting(provider, "CLIENT_SECRET")?),
    })
}

/// Tokens as a token endpoint issued them.
#[derive(Clone)]
pub struct Tokens {
    /// The access token.
    pub access: Secret,
    /// The refresh token, when one was issued.
    pub refresh: Option<Secret>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes granted (the ones asked for when the answer names none).
    pub scopes: Vec<String>,
    /// The provider's id for the user, when the answer names one (`user_id`).
    pub provider_user_id: Option<String>,
}

/// Why a token request failed.
#[derive(Debug, Error)]
pub enum OauthError {
    /// The grant was refused (`invalid_grant`, a revoked or reused refresh token): the user
    /// must connect again.
    #[error("the provider refused the grant ({0})")]
    Refused(String),
    /// The provider could not be reached or answered something else.
    #[error("the provider's token endpoint failed: {0}")]
    Unavailable(String),
}

/// A random `state` and its SHA-256 (what is stored).
pub fn new_state() -> (String, String) {
    let state = random_token(32);
    let hash = state_hash(&state);
    (state, hash)
}

/// The SHA-256 of a `state`, hex.
pub fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

/// A PKCE verifier (RFC 7636: 43–128 unreserved characters) and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = random_token(48);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::fill(raw.as_mut_slice());
    URL_SAFE_NO_PAD.encode(raw)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The URL to send the user to.
pub fn authorization_url(
    oauth: &Oauth,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let scope = oauth.scopes.join(" ");
    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("state", state),
    ];
    if let Some(challenge) = challenge {
        pairs.push(("code_challenge", challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    for (k, v) in &oauth.extra_params {
        pairs.push((k, v));
    }
    let separator = if oauth.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!(
        "{}{separator}{}",
        oauth.authorization_endpoint,
        form_encode(&pairs)
    )
}

/// A token endpoint request.
async fn token_request(
    http: &reqwest::Client,
    origins: &OriginMap,
    oauth: &Oauth,
    client: &Client,
    grant: &[(&str, &str)],
    asked_scopes: &[String],
    now: DateTime<Utc>,
) -> Result<Tokens, OauthError> {
    let mut pairs: Vec<(&str, &str)> = grant.to_vec();
    if oauth.client_auth == ClientAuth::Body {
        pairs.push(("client_id", &client.id));
        pairs.push(("client_secret", client.secret.expose()));
    }
    let mut request = http
        .post(origins.apply(&oauth.token_endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(form_encode(&pairs));
    if oauth.client_auth == ClientAuth::Basic {
        let basic = STANDARD.encode(format!(
            "{}:{}",
            encode(&client.id),
            encode(client.secret.expose())
        ));
        request = request.header("authorization", format!("Basic {basic}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| OauthError::Unavailable(e.without_url().to_string()))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|_| OauthError::Unavailable(format!("answer {status} is not JSON")))?;
    if status.is_client_error() {
        let code = body["error"]
            .as_str()
            .unwrap_or("invalid_request")
            .to_owned();
        return Err(
            if matches!(
                code.as_str(),
                "invalid_grant" | "unauthorized_client" | "invalid_client"
            ) {
                OauthError::Refused(code)
            } else {
                OauthError::Unavailable(format!("{status} {code}"))
            },
        );
    }
    if !status.is_success() {
        return Err(OauthError::Unavailable(format!("answer {status}")));
    }
    let access = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OauthError::Unavailable("no access_token in the answer".into()))?;
    let expires_at = body["expires_in"]
        .as_i64()
        .or_else(|| body["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .map(|seconds| now + Duration::seconds(seconds.clamp(0, 10 * 365 * 86_400)));
    let scopes = body["scope"].as_str().map_or_else(
        || asked_scopes.to_vec(),
        |s| s.split_whitespace().map(str::to_owned).collect(),
    );
    let provider_user_id = body["user_id"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| body["user_id"].as_i64().map(|n| n.to_string()))
        .or_else(|| body["userId"].as_str().map(str::to_owned));
    Ok(Tokens {
        access: Secret::new(access.to_owned()),
        refresh: body["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.to_owned())),
        expires_at,
        scopes,
        provider_user_id,
    })
}

/// Exchanges an authorization code (with the PKCE verifier, when used).
///
/// # Errors
/// [`OauthError`].
pub async fn exchange_code(
    http: &reqwest::Client,
    origins: &OriginMap,
    oauth: &Oauth,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> Result<Tokens, OauthError> {
    let mut grant = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(verifier) = verifier {
        grant.push(("code_verifier", verifier));
    }
    token_request(
        http,
        origins,
        oauth,
        client,
        &grant,
        &oauth.scopes,
        Utc::now(),
    )
    .await
}

/// Refreshes tokens. A provider with single-use refresh tokens answers a new one, which
/// the caller must store before using the access token.
///
/// # Errors
/// [`OauthError`].
pub async fn refresh(
    http: &reqwest::Client,
    origins: &OriginMap,
    oauth: &Oauth,
    client: &Client,
    refresh_token: &str,
) -> Result<Tokens, OauthError> {
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_request(
        http,
        origins,
        oauth,
        client,
        &grant,
        &oauth.scopes,
        Utc::now(),
    )
    .await
}

/// Revokes a token at the provider (RFC 7009), where it offers revocation. Failures are
/// reported but never block a disconnect: the tokens are deleted here either way.
///
/// # Errors
/// [`OauthError::Unavailable`].
pub async fn revoke(
    http: &reqwest::Client,
    origins: &OriginMap,
    oauth: &Oauth,
    client: &Client,
    token: &str,
) -> Result<(), OauthError> {
    let Some(endpoint) = &oauth.revocation_endpoint else {
        return Ok(());
    };
    let mut pairs = vec![("token", token)];
    if oauth.client_auth == ClientAuth::Body {
        pairs.push(("client_id", &client.id));
        pairs.push(("client_secret", client.secret.expose()));
    }
    let mut request = http
        .post(origins.apply(endpoint))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&pairs));
    if oauth.client_auth == ClientAuth::Basic {
        let basic = STANDARD.encode(format!("{}:{}", client.id, client.secret.expose()));
        request = request.header("authorization", format!("Basic {basic}"));
    }
    let response = request
        .send()
        .await
        .map_err(|e| OauthError::Unavailable(e.without_url().to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(OauthError::Unavailable(format!(
            "revocation answered {}",
            response.status()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth() -> Oauth {
        Oauth {
            authorization_endpoint: "https://cloud.example.com/oauth/authorize".into(),
            token_endpoint: "https://api.example.com/oauth/token".into(),
            revocation_endpoint: None,
            scopes: vec!["daily".into(), "heartrate".into()],
            pkce: true,
            client_auth: ClientAuth::Body,
            extra_params: vec![("access_type".into(), "offline".into())],
        }
    }

    #[test]
    fn the_authorization_url_carries_state_pkce_and_scopes() {
        let url = authorization_url(
            &oauth(),
            "client 1",
            "https://app.example/cb",
            "st",
            Some("ch"),
        );
        assert!(url.starts_with("https://cloud.example.com/oauth/authorize?response_type=code&client_id=client%201&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=daily%20heartrate&state=st&code_challenge=ch&code_challenge_method=S256&access_type=offline"), "{url}");
    }

    #[test]
    fn pkce_challenges_are_the_s256_of_their_verifier() {
        let (verifier, challenge) = pkce();
        assert!((43..=128).contains(&verifier.len()));
        assert_eq!(
            challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        );
        let (state, hash) = new_state();
        assert_eq!(state_hash(&state), hash);
        assert_ne!(new_state().0, state);
    }

    #[test]
    fn settings_are_named_per_provider() {
        assert_eq!(
            setting_name("google-health", "CLIENT_ID"),
            "MINDFLOW_WEARABLE_GOOGLE_HEALTH_CLIENT_ID"
        );
    }
}
