//! Wearable provider simulators on loopback (and `acme_ring`, the partner template's
//! fictional provider), speaking each provider's real wire format:
//! OAuth token endpoints (PKCE checked), paginated data endpoints, 401 on an expired token,
//! 429 with `Retry-After`, and webhooks signed with the provider's real scheme. Tests point
//! the host at them with `MINDFLOW_WEARABLE_ORIGINS` (`https://api.ouraring.com=http://127.0.0.1:PORT,…`).

pub mod acme_ring;
pub mod garmin;
pub mod google_health;
pub mod oura;
