//! Sign in with Google and Apple: verifying OpenID Connect ID tokens.
//!
//! An ID token is accepted when its signature verifies (RS256 or ES256) under a key of the
//! provider's published JWKS, its issuer is the provider's, its audience is one of the
//! configured client ids, it has not expired, it was issued within the last
//! [`MAX_ID_TOKEN_AGE_SECONDS`], and its `nonce` equals the nonce the client sent us, or that
//! nonce's SHA-256 in hex (Apple clients pass Apple a hashed nonce). The edge then uses up
//! that nonce, which must be one the server issued (`POST /auth/oauth/nonce`): a captured ID
//! token cannot sign in again.
//!
//! The JWKS is cached (for the `max-age` the provider announces, clamped to a minute to a
//! day; an hour otherwise) and fetched again when a token names a key id the cache lacks, at
//! most once per [`REFETCH_COOLDOWN`] so random key ids cannot make us hammer the provider.
//! The token and its claims are never logged.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::{Mutex, RwLock};

/// Google's JWKS.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Apple's JWKS.
pub const APPLE_JWKS_URL: &str = "https://appleid.apple.com/auth/keys";
/// The shortest time between two fetches of a provider's JWKS.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(1);
/// How long a JWKS is trusted when the provider does not say.
pub const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(3600);
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The longest `sub` the `oauth_connections` table holds.
const MAX_SUBJECT_LEN: usize = 255;

/// A supported identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Sign in with Google.
    Google,
    /// Sign in with Apple.
    Apple,
}

impl Provider {
    /// The provider named in a path (`google`, `apple`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "google" => Some(Self::Google),
            "apple" => Some(Self::Apple),
            _ => None,
        }
    }

    /// The name stored in `oauth_connections.provider`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Apple => "apple",
        }
    }

    /// The `iss` values the provider uses.
    pub fn issuers(self) -> &'static [&'static str] {
        match self {
            Self::Google => &["https://accounts.google.com", "accounts.google.com"],
            Self::Apple => &["https://appleid.apple.com"],
        }
    }
}

/// Why an ID token was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum OidcError {
    /// No client id is configured for the provider.
    #[error("sign-in with this provider is not configured")]
    NotConfigured,
    /// Not a JWT, or the header lacks a key id.
    #[error("the ID token is malformed")]
    Malformed,
    /// Signed with an algorithm other than RS256 or ES256, or not the key's algorithm.
    #[error("the ID token's signing algorithm is not accepted")]
    Algorithm,
    /// The provider publishes no key with the token's key id.
    #[error("the ID token was signed by a key the provider does not publish")]
    UnknownKey,
    /// Signature, issuer, audience, expiry or a required claim is wrong.
    #[error("the ID token is not valid: {0}")]
    Invalid(&'static str),
    /// The `nonce` claim does not match the nonce given.
    #[error("the ID token's nonce does not match")]
    Nonce,
    /// The provider's keys could not be fetched (and none are cached).
    #[error("the provider's signing keys are unavailable")]
    KeysUnavailable,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What a verified ID token says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider.
    pub provider: Provider,
    /// The provider's stable user id (`sub`).
    pub subject: String,
    /// The email, normalised, if the token carries one.
    pub email: Option<String>,
    /// Whether the provider verified the email.
    pub email_verified: bool,
}

/// A key usable to verify ID tokens.
#[derive(Clone)]
pub struct VerificationKey {
    /// The only algorithm this key verifies.
    pub algorithm: Algorithm,
    key: DecodingKey,
}

/// Parses a JWKS document into the keys usable for ID tokens, by key id: RSA keys (RS256)
/// and P-256 keys (ES256) meant for signatures. Keys without an id, for encryption, of
/// another type, curve or algorithm, or malformed, are skipped (a provider may publish keys
/// we do not use).
///
/// # Errors
/// [`OidcError::KeysUnavailable`] when the document is not a JWKS at all.
pub fn parse_jwks(document: &[u8]) -> Result<HashMap<String, VerificationKey>, OidcError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<serde_json::Value>,
    }
    let raw: RawSet = serde_json::from_slice(document).map_err(|_| OidcError::KeysUnavailable)?;
    let mut keys = HashMap::new();
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            continue;
        }
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        keys.insert(kid, VerificationKey { algorithm, key });
    }
    Ok(keys)
}

/// Whether the token's `nonce` claim matches the nonce the client gave: equal to it, or to
/// its SHA-256 in hex (Apple's flow: the client sends Apple the hash, us the original).
pub fn nonce_matches(claim: Option<&str>, given: &str) -> bool {
    let Some(claim) = claim else {
        return false;
    };
    if given.is_empty() || claim.is_empty() {
        return false;
    }
    claim == given || claim.eq_ignore_ascii_case(&hex::encode(Sha256::digest(given.as_bytes())))
}

/// The `max-age` of a `Cache-Control` header, clamped to a minute .. a day.
fn max_age(cache_control: Option<&str>) -> Duration {
    cache_control
        .into_iter()
        .flat_map(|value| value.split(','))
        .filter_map(|directive| directive.trim().strip_prefix("max-age="))
        .find_map(|seconds| seconds.trim().parse::<u64>().ok())
        .map_or(DEFAULT_JWKS_TTL, |seconds| {
            Duration::from_secs(seconds.clamp(60, 86_400))
        })
}

/// Where a provider's settings come from (configuration).
#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    /// Accepted audiences (the app's client ids); none means the provider is off.
    pub client_ids: Vec<String>,
    /// The provider's JWKS URL.
    pub jwks_url: String,
}

struct KeyCache {
    keys: HashMap<String, VerificationKey>,
    fresh_until: Instant,
}

struct ProviderKeys {
    provider: Provider,
    client_ids: Vec<String>,
    jwks_url: String,
    cache: RwLock<Option<KeyCache>>,
    /// Held while fetching; holds when the last fetch started.
    fetching: Mutex<Option<Instant>>,
}

impl ProviderKeys {
    async fn cached(&self, kid: &str, need_fresh: bool) -> Option<VerificationKey> {
        let cache = self.cache.read().await;
        cache
            .as_ref()
            .filter(|c| !need_fresh || c.fresh_until > Instant::now())
            .and_then(|c| c.keys.get(kid).cloned())
    }

    async fn key(&self, http: &reqwest::Client, kid: &str) -> Result<VerificationKey, OidcError> {
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        let mut last_fetch = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < REFETCH_COOLDOWN) {
            let have_keys = self.cache.read().await.is_some();
            return match self.cached(kid, false).await {
                Some(key) => Ok(key),
                None if have_keys => Err(OidcError::UnknownKey),
                None => Err(OidcError::KeysUnavailable),
            };
        }
        *last_fetch = Some(Instant::now());
        match self.fetch(http).await {
            Ok((keys, ttl)) => {
                let key = keys.get(kid).cloned();
                *self.cache.write().await = Some(KeyCache {
                    keys,
                    fresh_until: Instant::now() + ttl,
                });
                key.ok_or(OidcError::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(provider = self.provider.name(), %error, "cannot fetch the provider's JWKS");
                // A stale key is better than refusing every sign-in while the provider is
                // unreachable.
                self.cached(kid, false)
                    .await
                    .ok_or(OidcError::KeysUnavailable)
            }
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
    ) -> Result<(HashMap<String, VerificationKey>, Duration), String> {
        let response = http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("the JWKS is too large".into());
        }
        let ttl = max_age(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_JWKS_BYTES {
            return Err("the JWKS is too large".into());
        }
        let keys = parse_jwks(&body).map_err(|e| e.to_string())?;
        Ok((keys, ttl))
    }
}

#[derive(Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    iat: Option<i64>,
}

/// The oldest an ID token may be when it is presented: a sign-in happens right after the
/// provider issued the token, so an old one is a replayed one.
pub const MAX_ID_TOKEN_AGE_SECONDS: i64 = 600;

/// Verifies ID tokens of the configured providers. Cheap to clone.
#[derive(Clone)]
pub struct OidcVerifier {
    http: reqwest::Client,
    google: Option<Arc<ProviderKeys>>,
    apple: Option<Arc<ProviderKeys>>,
}

impl OidcVerifier {
    /// A verifier for the providers with client ids configured.
    ///
    /// # Errors
    /// [`OidcError::Client`] when the HTTP client cannot be built.
    pub fn new(google: ProviderSettings, apple: ProviderSettings) -> Result<Self, OidcError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("mindflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| OidcError::Client(e.to_string()))?;
        let keys = |provider: Provider, settings: ProviderSettings| {
            let client_ids: Vec<String> = settings
                .client_ids
                .into_iter()
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .collect();
            (!client_ids.is_empty()).then(|| {
                Arc::new(ProviderKeys {
                    provider,
                    client_ids,
                    jwks_url: settings.jwks_url,
                    cache: RwLock::new(None),
                    fetching: Mutex::new(None),
                })
            })
        };
        Ok(Self {
            http,
            google: keys(Provider::Google, google),
            apple: keys(Provider::Apple, apple),
        })
    }

    /// Whether sign-in with `provider` is configured.
    pub fn is_configured(&self, provider: Provider) -> bool {
        self.keys(provider).is_some()
    }

    fn keys(&self, provider: Provider) -> Option<&Arc<ProviderKeys>> {
        match provider {
            Provider::Google => self.google.as_ref(),
            Provider::Apple => self.apple.as_ref(),
        }
    }

    /// Verifies an ID token from `provider` against the nonce the client gave.
    ///
    /// # Errors
    /// [`OidcError`]: every refusal says why, without echoing the token.
    pub async fn verify(
        &self,
        provider: Provider,
        id_token: &str,
        nonce: &str,
    ) -> Result<VerifiedIdentity, OidcError> {
        let keys = self.keys(provider).ok_or(OidcError::NotConfigured)?;
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| OidcError::Malformed)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(OidcError::Algorithm);
        }
        let kid = header.kid.as_deref().ok_or(OidcError::Malformed)?;
        let key = keys.key(&self.http, kid).await?;
        if key.algorithm != header.alg {
            return Err(OidcError::Algorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(provider.issuers());
        validation.set_audience(&keys.client_ids);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let claims = jsonwebtoken::decode::<IdClaims>(id_token, &key.key, &validation)
            .map_err(|e| OidcError::Invalid(reason(e.kind())))?
            .claims;
        if claims.sub.is_empty() || claims.sub.len() > MAX_SUBJECT_LEN {
            return Err(OidcError::Invalid("the subject is missing or too long"));
        }
        if !nonce_matches(claims.nonce.as_deref(), nonce) {
            return Err(OidcError::Nonce);
        }
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(LEEWAY_SECONDS).unwrap_or(60);
        match claims.iat {
            Some(iat) if iat > now + leeway => {
                return Err(OidcError::Invalid("it was issued in the future"));
            }
            Some(iat) if iat < now - MAX_ID_TOKEN_AGE_SECONDS - leeway => {
                return Err(OidcError::Invalid("it was issued too long ago"));
            }
            Some(_) => {}
            None => return Err(OidcError::Invalid("it has no issue time")),
        }
        let email_verified = match claims.email_verified {
            Some(serde_json::Value::Bool(b)) => b,
            Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(VerifiedIdentity {
            provider,
            subject: claims.sub,
            email: claims
                .email
                .map(|e| super::normalise_email(&e))
                .filter(|e| super::is_plausible_email(e)),
            email_verified,
        })
    }
}

fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::ImmatureSignature => "it is not valid yet",
        ErrorKind::InvalidAudience => "it was issued for another audience",
        ErrorKind::InvalidIssuer => "it was issued by another issuer",
        ErrorKind::InvalidSignature => "the signature does not verify",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        ErrorKind::InvalidAlgorithm => "the algorithm does not match the key",
        _ => "it cannot be decoded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The example public keys of RFC 7517, appendix A.1 (a P-256 key and a 2048-bit RSA key).
    const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn parses_rsa_and_ec_keys_and_skips_the_rest() {
        let document = json!({"keys": [
            {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": EC_X, "y": EC_Y},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": RSA_N, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": EC_X},
            {"kty": "weird", "kid": "weird"},
            "not even an object"
        ]});
        let keys = parse_jwks(document.to_string().as_bytes()).expect("a JWKS");
        let mut kids: Vec<&str> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["ec-1", "rsa-1"]);
        assert_eq!(keys["rsa-1"].algorithm, Algorithm::RS256);
        assert_eq!(keys["ec-1"].algorithm, Algorithm::ES256);
    }

    #[test]
    fn a_document_without_keys_is_refused() {
        assert_eq!(
            parse_jwks(b"<html>").err(),
            Some(OidcError::KeysUnavailable)
        );
        assert_eq!(
            parse_jwks(b"{\"nope\": []}").err(),
            Some(OidcError::KeysUnavailable)
        );
        assert!(parse_jwks(b"{\"keys\": []}").expect("empty").is_empty());
    }

    #[test]
    fn nonce_matches_plain_or_sha256_hex() {
        let given = "n-0S6_WzA2Mj";
        let hashed = hex::encode(Sha256::digest(given.as_bytes()));
        assert!(nonce_matches(Some(given), given));
        assert!(nonce_matches(Some(&hashed), given));
        assert!(nonce_matches(Some(&hashed.to_uppercase()), given));
        assert!(!nonce_matches(Some(given), "another nonce"));
        assert!(!nonce_matches(Some(&hashed), &hashed[..10]));
        assert!(!nonce_matches(None, given));
        assert!(!nonce_matches(Some(""), ""));
        // The hash of the hash is not accepted.
        let double = hex::encode(Sha256::digest(hashed.as_bytes()));
        assert!(!nonce_matches(Some(&double), given));
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        assert_eq!(max_age(None), DEFAULT_JWKS_TTL);
        assert_eq!(
            max_age(Some("public, max-age=21600, must-revalidate")),
            Duration::from_secs(21_600)
        );
        assert_eq!(max_age(Some("max-age=5")), Duration::from_secs(60));
        assert_eq!(
            max_age(Some("max-age=99999999")),
            Duration::from_secs(86_400)
        );
        assert_eq!(max_age(Some("no-cache")), DEFAULT_JWKS_TTL);
    }

    #[test]
    fn providers_parse_and_unconfigured_ones_are_off() {
        assert_eq!(Provider::parse("google"), Some(Provider::Google));
        assert_eq!(Provider::parse("apple"), Some(Provider::Apple));
        assert_eq!(Provider::parse("facebook"), None);
        let verifier = OidcVerifier::new(
            ProviderSettings {
                client_ids: vec!["  ".into()],
                jwks_url: GOOGLE_JWKS_URL.into(),
            },
            ProviderSettings {
                client_ids: vec!["com.example.app".into()],
                jwks_url: APPLE_JWKS_URL.into(),
            },
        )
        .expect("verifier");
        assert!(!verifier.is_configured(Provider::Google));
        assert!(verifier.is_configured(Provider::Apple));
    }

    #[tokio::test]
    async fn unconfigured_and_malformed_tokens_are_refused_before_any_fetch() {
        let verifier = OidcVerifier::new(
            ProviderSettings::default(),
            ProviderSettings {
                client_ids: vec!["com.example.app".into()],
                jwks_url: "http://127.0.0.1:9/never-fetched".into(),
            },
        )
        .expect("verifier");
        assert_eq!(
            verifier.verify(Provider::Google, "x.y.z", "n").await.err(),
            Some(OidcError::NotConfigured)
        );
        assert_eq!(
            verifier
                .verify(Provider::Apple, "not a jwt", "n")
                .await
                .err(),
            Some(OidcError::Malformed)
        );
        // An HS256 token is refused on its header, whatever its key id.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header {
                kid: Some("k".into()),
                ..jsonwebtoken::Header::new(Algorithm::HS256)
            },
            &json!({"sub": "x"}),
            &jsonwebtoken::EncodingKey::from_secret(b"secret"),
        )
        .expect("encode");
        assert_eq!(
            verifier.verify(Provider::Apple, &hs, "n").await.err(),
            Some(OidcError::Algorithm)
        );
    }
}
