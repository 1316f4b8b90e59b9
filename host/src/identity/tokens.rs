//! HS256 access tokens with key ids, so signing keys can rotate.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

/// The issuer and audience of MindFlow access tokens.
pub const ISSUER: &str = "mindflow";
/// The audience of access tokens.
pub const AUDIENCE: &str = "mindflow-api";
/// How long an access token lives.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// The audience of device tokens: a device token is never an access token.
pub const DEVICE_AUDIENCE: &str = "mindflow-device";
/// How long a device token is honoured after the sign-in that issued it.
pub const DEVICE_TTL_SECONDS: i64 = 180 * 24 * 60 * 60;

/// Why a token was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, badly signed, expired, or for another audience.
    #[error("the access token is invalid or expired")]
    Invalid,
    /// Signed by a key this host does not know.
    #[error("the access token was signed by an unknown key")]
    UnknownKey,
}

/// What an access token says about the session it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Session {
    /// The user's session epoch it is issued under.
    pub epoch: i64,
    /// When the person last proved who they are in this session.
    pub authenticated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The session itself: its refresh-token family. Ending it (logout) ends its access
    /// tokens too.
    pub family: Option<Uuid>,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The tier when the token was issued (the edge reads the current one from the database).
    pub tier: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Token id.
    pub jti: Uuid,
    /// The user's session epoch when it was issued: a token of an earlier epoch is refused
    /// (every session ended after a password reset). Absent in tokens issued before epochs
    /// existed, which were of epoch 0.
    #[serde(default)]
    pub epoch: i64,
    /// When the person last proved who they are (seconds since the epoch; a refresh keeps
    /// it): what a recent sign-in is judged by. 0 when unknown (counts as long ago).
    #[serde(default)]
    pub auth_time: i64,
    /// The session (refresh-token family) the token belongs to: refused once that session
    /// ends (logout). Absent in tokens issued before sessions were named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// The claims of a device token: a device on which the person has signed in to one account.
/// It grants nothing by itself; it only lets that device's login attempts be throttled on
/// their own, so guesses from elsewhere cannot lock the owner out
/// ([`super::throttle`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// The user id of the account signed in to.
    pub sub: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience ([`DEVICE_AUDIENCE`]).
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// The device's id: the key its attempts are counted under.
    pub jti: Uuid,
    /// The user's session epoch: a password reset (which ends every session) ends the
    /// device's standing too.
    pub epoch: i64,
}

/// The signing key and the keys still accepted for verification.
#[derive(Clone)]
pub struct TokenKeys {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

fn kid_of(secret: &[u8]) -> String {
    hex::encode(&Sha256::digest(secret)[..6])
}

impl TokenKeys {
    /// Keys from secrets: the first signs, all verify.
    pub fn from_secrets(current: &[u8], previous: &[Vec<u8>]) -> Self {
        let mut decoding = HashMap::new();
        for secret in std::iter::once(current).chain(previous.iter().map(Vec::as_slice)) {
            decoding.insert(kid_of(secret), DecodingKey::from_secret(secret));
        }
        Self {
            current_kid: kid_of(current),
            encoding: EncodingKey::from_secret(current),
            decoding,
        }
    }

    /// The configured secret (base64 in `MINDFLOW_JWT_SECRET`, previous ones comma-separated
    /// in `MINDFLOW_JWT_PREVIOUS_SECRETS`), or in development a generated one kept in
    /// `data_dir/jwt-secret` (owner-only permissions).
    ///
    /// # Errors
    /// A message when the configured secret is malformed or the file cannot be written.
    pub fn load(
        configured: Option<&str>,
        previous: Option<&str>,
        data_dir: &Path,
    ) -> Result<Self, String> {
        let decode = |text: &str| {
            STANDARD
                .decode(text.trim())
                .map_err(|e| format!("a JWT secret is not valid base64: {e}"))
                .and_then(|bytes| {
                    if bytes.len() < 32 {
                        Err("a JWT secret must be at least 32 bytes".into())
                    } else {
                        Ok(bytes)
                    }
                })
        };
        let previous = previous
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let current = match configured {
            Some(text) => decode(text)?,
            None => {
                let path = data_dir.join("jwt-secret");
                let secret = crate::secrets::load_or_generate(&path, 32)?;
                tracing::warn!(path = %path.display(), "no MINDFLOW_JWT_SECRET configured: using a generated development key");
                secret
            }
        };
        Ok(Self::from_secrets(&current, &previous))
    }

    /// Issues an access token for a user.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] if signing fails.
    pub fn issue(&self, user_id: Uuid, tier: &str, session: Session) -> Result<String, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id,
            tier: tier.to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + ACCESS_TTL_SECONDS,
            jti: Uuid::new_v4(),
            epoch: session.epoch,
            auth_time: session.authenticated_at.map_or(0, |t| t.timestamp()),
            sid: session.family,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|_| TokenError::Invalid)
    }

    /// Issues a device token for a device that has just signed in to `user_id`'s account.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] if signing fails.
    pub fn issue_device(&self, user_id: Uuid, epoch: i64) -> Result<String, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let claims = DeviceClaims {
            sub: user_id,
            iss: ISSUER.into(),
            aud: DEVICE_AUDIENCE.into(),
            iat: now,
            exp: now + DEVICE_TTL_SECONDS,
            jti: Uuid::new_v4(),
            epoch,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.current_kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|_| TokenError::Invalid)
    }

    /// Verifies a device token (signature, issuer, [`DEVICE_AUDIENCE`], expiry). Whether it
    /// names the account being signed in to, at its current epoch, is the caller's check.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify_device(&self, token: &str) -> Result<DeviceClaims, TokenError> {
        self.decode(token, DEVICE_AUDIENCE)
    }

    /// Verifies a token: signature under a known key, algorithm, issuer, audience, expiry.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.decode(token, AUDIENCE)
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.leeway = 5;
        jsonwebtoken::decode::<T>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_verifies_and_rotates() {
        let old = TokenKeys::from_secrets(&[1u8; 32], &[]);
        let token = old
            .issue(Uuid::nil(), "free", Session::default())
            .expect("issue");
        assert_eq!(old.verify(&token).expect("valid").sub, Uuid::nil());
        let rotated = TokenKeys::from_secrets(&[2u8; 32], &[vec![1u8; 32]]);
        assert!(
            rotated.verify(&token).is_ok(),
            "previous key still verifies"
        );
        let other = TokenKeys::from_secrets(&[3u8; 32], &[]);
        assert_eq!(other.verify(&token).err(), Some(TokenError::UnknownKey));
    }

    #[test]
    fn device_tokens_and_access_tokens_are_never_mistaken_for_each_other() {
        let keys = TokenKeys::from_secrets(&[1u8; 32], &[]);
        let user = Uuid::new_v4();
        let device = keys.issue_device(user, 3).expect("device token");
        let claims = keys.verify_device(&device).expect("valid device token");
        assert_eq!((claims.sub, claims.epoch), (user, 3));
        assert_eq!(keys.verify(&device).err(), Some(TokenError::Invalid));
        let access = keys
            .issue(user, "free", Session::default())
            .expect("access");
        assert!(keys.verify_device(&access).is_err());
    }

    #[test]
    fn refuses_tampered_tokens() {
        let keys = TokenKeys::from_secrets(&[1u8; 32], &[]);
        let token = keys
            .issue(Uuid::nil(), "free", Session::default())
            .expect("issue");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let forged = AccessClaims {
            sub: Uuid::new_v4(),
            tier: "premium".into(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: 0,
            exp: i64::MAX / 2,
            jti: Uuid::nil(),
            epoch: 0,
            auth_time: 0,
            sid: None,
        };
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&forged).expect("json"));
        assert_eq!(
            keys.verify(&parts.join(".")).err(),
            Some(TokenError::Invalid)
        );
    }
}
