//! `GET /api/v1/openapi.json`: one OpenAPI 3.1 document for the whole API. The host's own
//! routes are described here; each component ships its part (paths relative to the route it
//! is mounted at) in a `mindflow:openapi` custom section, so activating a new version updates
//! the document.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value, json};

use super::AppState;

fn problem_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

/// A 429 of the request rate limits: the problem and the fields it always carries.
fn rate_limited_response(description: &str) -> Value {
    let mut response = problem_response(description);
    response["headers"] = json!({
        "Retry-After": {"description": "Whole seconds until one request of the class is allowed (at least 1).", "required": true, "schema": {"type": "integer", "minimum": 1}},
        "RateLimit-Policy": {"description": "The class's quota and window: `\"class\";q=QUOTA;w=SECONDS` (draft-ietf-httpapi-ratelimit-headers-09).", "required": true, "schema": {"type": "string"}},
        "RateLimit": {"description": "What is left: `\"class\";r=0;t=SECONDS` (seconds until the whole quota is back).", "required": true, "schema": {"type": "string"}}
    });
    response
}

fn host_document() -> Value {
    let token = json!({
        "description": "Access and refresh tokens issued.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenResponse"}}}
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "MindFlow API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "MindFlow's REST API. Host routes (auth, admin, health) plus the routes of the active components."
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz", "responses": {"200": {"description": "The process is up."}}}},
            "/readyz": {"get": {"summary": "Readiness", "operationId": "readyz", "responses": {"200": {"description": "Database reachable and components loaded."}, "503": problem_response("Not ready.")}}},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "responses": {"200": {"description": "OpenAPI 3.1 document."}}}},
            "/api/v1/chat/ws/{session_id}": {"get": {
                "summary": "Chat over a WebSocket", "operationId": "chatSocket",
                "description": "Upgrades to a WebSocket relaying the chat session's messages: send `{\"type\": \"message\", \"content\": …}`, receive `{\"type\": \"message\"|\"delta\"|\"replace\"|\"done\"|\"error\", \"data\": …}` frames (the events of `POST /api/v1/chat/sessions/{id}/messages` with `Accept: text/event-stream`). Authenticate with the subprotocols `mindflow.chat.v1, bearer.<access token>` (offer both: the server selects `mindflow.chat.v1`, as browsers require a selected subprotocol) or a first frame `{\"type\": \"auth\", \"token\": …}`, never in the URL. Close codes: 4401 no valid token, 4404 not your session, 1008 not a chat frame, 1009 frame too large.",
                "parameters": [{"name": "session_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {"101": {"description": "Switched to the WebSocket protocol."}, "400": problem_response("Not a WebSocket handshake."), "426": problem_response("Upgrade required.")}
            }},
            "/api/v1/crisis/resources": {"get": {
                "summary": "Crisis services for a country and language", "operationId": "crisisResources",
                "description": "Hotlines, text lines and emergency numbers, ordered by priority: the country's own (in the language when one speaks it) and the international ones. Without `country`/`language` the caller's locale is used when an access token is given. No account needed: a person in crisis is never asked to sign in first.",
                "parameters": [
                    {"name": "country", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}},
                    {"name": "language", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[A-Za-z]{2,3}$"}}
                ],
                "responses": {"200": {"description": "The services.", "content": {"application/json": {"schema": {"type": "object"}}}}, "422": problem_response("Malformed country or language."), "503": problem_response("The database is unavailable.")}
            }},
            "/api/v1/crisis/check": {"post": {
                "summary": "A structured self-check (the C-SSRS screener's questions)", "operationId": "crisisCheck",
                "description": "Maps the answers to a severity and the resources to show; at or above the deployment's threshold a crisis event is recorded (never the answers' text). A screen, never a diagnosis.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["wish_to_be_dead", "suicidal_thoughts", "behavior"], "properties": {
                    "wish_to_be_dead": {"type": "boolean"}, "suicidal_thoughts": {"type": "boolean"}, "method": {"type": "boolean"}, "intent": {"type": "boolean"}, "plan": {"type": "boolean"}, "behavior": {"type": "boolean"}, "behavior_past_3_months": {"type": "boolean"}
                }}}}},
                "responses": {"200": {"description": "Severity, message and resources.", "content": {"application/json": {"schema": {"type": "object"}}}}, "401": problem_response("No valid access token."), "422": problem_response("Missing, unknown or inconsistent answers.")}
            }},
            "/api/v1/crisis/safety-plan": {
                "get": {
                    "summary": "The caller's safety plan", "operationId": "getSafetyPlan", "security": [{"bearer": []}],
                    "responses": {"200": {"description": "The plan (stored sealed under the caller's key).", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoredSafetyPlan"}}}}, "401": problem_response("No valid access token."), "404": problem_response("No plan yet.")}
                },
                "put": {
                    "summary": "Replace the caller's safety plan", "operationId": "putSafetyPlan", "security": [{"bearer": []}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SafetyPlan"}}}},
                    "responses": {"200": {"description": "The stored plan.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoredSafetyPlan"}}}}, "401": problem_response("No valid access token."), "422": problem_response("Invalid sections.")}
                }
            },
            "/api/v1/auth/register": {"post": {
                "summary": "Start a registration with email and password (finished by the code mailed)", "operationId": "register",
                "description": "The answer never says whether the address has an account. A free address gets a single-use code by mail, valid for 24 hours: `POST /api/v1/auth/verify-email` with it creates the account and signs in. A taken address gets a mail telling its owner instead. At most 3 mails of each kind go to one address in 24 hours.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string", "minLength": 10}, "display_name": {"type": "string", "maxLength": 100}}}}}},
                "responses": {"202": {"description": "Always the same answer, after the same minimum time (250 ms), whether or not the address has an account; what it causes is durable before it."}, "422": problem_response("Invalid field."), "429": problem_response("Too many registrations from this address (10 in 15 minutes by default; `too-many-attempts`, with `Retry-After`)."), "503": problem_response("Hashing saturated or the database unavailable: nothing was stored; try again.")}
            }},
            "/api/v1/auth/verify-email": {"post": {
                "summary": "Finish a registration with the code mailed to its address", "operationId": "verifyEmail",
                "description": "Creates the account (its address proven) and signs in, as a login does. The code is single-use; every other code of the address stops working too.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["token"], "additionalProperties": false, "properties": {"token": {"type": "string"}}}}}},
                "responses": {"201": token, "401": problem_response("Unknown, used or expired code (`invalid-registration-code`)."), "409": problem_response("The address got an account meanwhile: sign in instead."), "422": problem_response("Malformed body.")}
            }},
            "/api/v1/auth/login": {"post": {
                "summary": "Log in with email and password", "operationId": "login",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {"email": {"type": "string"}, "password": {"type": "string"}, "device_token": {"type": "string", "description": "The `device_token` an earlier sign-in on this device answered. Its attempts are then throttled on their own: failed guesses from elsewhere never make this device wait. An expired token, another account's, or one from before a password reset is ignored."}}}}}},
                "responses": {"200": token, "401": problem_response("Wrong email or password (the same answer for an unknown email)."), "429": problem_response("Too many failed attempts (`too-many-attempts`, with `Retry-After`): from this device; or, without a device token, for the account from this address (5 in 15 minutes), for the account from anywhere (after 10 in an hour each attempt waits twice as long, up to 15 minutes; never a lock), or from this address (20 in 15 minutes).")}
            }},
            "/api/v1/auth/refresh": {"post": {
                "summary": "Exchange a refresh token for new tokens (rotation)", "operationId": "refresh",
                "description": "The presented refresh token is rotated: it stops working and a new one of the same session (family) is returned. Presenting a rotated token again revokes the whole family (reuse detection).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RefreshTokenRequest"}}}},
                "responses": {"200": token, "401": problem_response("Unknown, expired, revoked or reused refresh token."), "422": problem_response("Malformed body.")}
            }},
            "/api/v1/auth/logout": {"post": {
                "summary": "End a session (revoke its refresh tokens; its access tokens stop working at once)", "operationId": "logout",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RefreshTokenRequest"}}}},
                "responses": {"204": {"description": "Done; the same answer whether or not the token existed."}, "422": problem_response("Malformed body.")}
            }},
            "/api/v1/auth/oauth/nonce": {"post": {
                "summary": "A nonce for provider sign-in", "operationId": "oauthNonce",
                "description": "Single use, valid for 10 minutes. Put it (Apple: its SHA-256 hex) in the provider's authorisation request, then send it with the ID token to `/auth/oauth/{provider}`.",
                "responses": {"201": {"description": "The nonce.", "content": {"application/json": {"schema": {"type": "object", "required": ["nonce", "expires_in"], "properties": {"nonce": {"type": "string"}, "expires_in": {"type": "integer"}}}}}}, "503": problem_response("The database is unavailable.")}
            }},
            "/api/v1/auth/oauth/{provider}": {"post": {
                "summary": "Sign in with Google or Apple", "operationId": "oauthSignIn",
                "description": "Verifies the provider's ID token (signature against the provider's JWKS, issuer, audience, expiry, an issue time within 10 minutes, and `nonce`: equal to the given nonce or to its SHA-256 hex, where the given nonce must come from `POST /auth/oauth/nonce` and is used up by the sign-in, so a token never signs in twice), then signs in the linked account, links the account with the same verified email (an account whose email was never proven loses its password and sessions then), or creates an account without a password.",
                "parameters": [{"name": "provider", "in": "path", "required": true, "schema": {"type": "string", "enum": ["google", "apple"]}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["id_token", "nonce"], "additionalProperties": false, "properties": {"id_token": {"type": "string"}, "nonce": {"type": "string", "maxLength": 512}}}}}},
                "responses": {
                    "200": {"description": "Signed in; `new_account` says whether the account was created.", "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/TokenResponse"}, {"type": "object", "properties": {"new_account": {"type": "boolean"}}}]}}}},
                    "401": problem_response("The ID token does not verify (`invalid-id-token`)."),
                    "404": problem_response("Unknown provider, or not configured (`provider-not-configured`)."),
                    "422": problem_response("Malformed body, or no verified email to link or create an account with (`email-not-verified`)."),
                    "503": problem_response("The provider's keys cannot be fetched.")
                }
            }},
            "/api/v1/auth/forgot-password": {"post": {
                "summary": "Request a password-reset code by mail", "operationId": "forgotPassword",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email"], "additionalProperties": false, "properties": {"email": {"type": "string"}}}}}},
                "responses": {"202": {"description": "Always the same answer, after the same minimum time (250 ms), whether or not an account uses the address. If one does, a single-use code valid for one hour is stored and its mail queued before the answer."}, "422": problem_response("Malformed body."), "503": problem_response("The database is unavailable: nothing was stored; try again.")}
            }},
            "/api/v1/auth/reset-password": {"post": {
                "summary": "Set a new password with a reset code", "operationId": "resetPassword",
                "description": "The code is single-use and valid for one hour. On success every session (refresh token) of the account is revoked.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["token", "new_password"], "additionalProperties": false, "properties": {"token": {"type": "string"}, "new_password": {"type": "string", "minLength": 10}}}}}},
                "responses": {"204": {"description": "Password changed; all sessions revoked."}, "401": problem_response("Unknown, used or expired code (`invalid-reset-token`)."), "422": problem_response("The new password breaks the policy.")}
            }},
            "/api/v1/auth/account": {"delete": {
                "summary": "Delete the caller's account", "operationId": "deleteAccount", "security": [{"bearer": []}],
                "description": "The data key is crypto-shredded and the account and all its data are purged; its access and refresh tokens stop working at once. Accounts with a password must confirm it; accounts without one need a provider sign-in within the last 10 minutes.",
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"password": {"type": "string"}}}}}},
                "responses": {"204": {"description": "Deleted."}, "401": problem_response("No valid access token, or (without a password) no sign-in within the last 10 minutes (`reauthentication-required`)."), "403": problem_response("Wrong password."), "422": problem_response("Password missing."), "429": problem_response("Too many wrong passwords."), "503": problem_response("Key store or database unavailable; nothing was deleted.")}
            }},
            "/api/v1/admin/components": {"get": {"summary": "Components, their versions and the active one", "operationId": "adminListComponents", "security": [{"bearer": []}], "responses": {"200": {"description": "Components."}, "401": problem_response("No token."), "403": problem_response("Not an admin.")}}},
            "/api/v1/admin/components/{name}/versions": {"post": {
                "summary": "Upload a component version (validated, compiled and gated; not activated)", "operationId": "adminUploadVersion", "security": [{"bearer": []}],
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "version", "in": "query", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/wasm": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": {"description": "Installed; the body carries the gate report."}, "404": problem_response("Unknown component."), "409": problem_response("Version label taken."), "422": problem_response("Invalid component or refused by the gate (with `gate_report`).")}
            }},
            "/api/v1/admin/components/{name}/activate": {"post": {
                "summary": "Activate a stored version", "operationId": "adminActivate", "security": [{"bearer": []}],
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["version"], "properties": {"version": {"type": "string"}}}}}},
                "responses": {"200": {"description": "Active."}, "404": problem_response("Unknown component or version."), "409": problem_response("The version was refused at install.")}
            }},
            "/api/v1/admin/components/{name}/rollback": {"post": {
                "summary": "Re-activate the previously active version", "operationId": "adminRollback", "security": [{"bearer": []}],
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "Active."}, "409": problem_response("Nothing to roll back to.")}
            }},
            "/api/v1/admin/audit": {"get": {"summary": "Newest audit-log entries", "operationId": "adminAudit", "security": [{"bearer": []}], "responses": {"200": {"description": "Entries."}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "SafetyPlan": {"type": "object", "description": "The Stanley–Brown safety plan's six sections and reasons for living.", "additionalProperties": false, "properties": {
                    "warning_signs": {"type": "array", "items": {"type": "string"}},
                    "internal_coping_strategies": {"type": "array", "items": {"type": "string"}},
                    "social_distractions": {"type": "array", "items": {"$ref": "#/components/schemas/SafetyPlanContact"}},
                    "people_to_ask_for_help": {"type": "array", "items": {"$ref": "#/components/schemas/SafetyPlanContact"}},
                    "professionals_and_agencies": {"type": "array", "items": {"$ref": "#/components/schemas/SafetyPlanContact"}},
                    "making_environment_safe": {"type": "array", "items": {"type": "string"}},
                    "reasons_for_living": {"type": "array", "items": {"type": "string"}}
                }},
                "StoredSafetyPlan": {"type": "object", "required": ["plan", "updated_at"], "additionalProperties": false, "properties": {
                    "plan": {"$ref": "#/components/schemas/SafetyPlan"}, "updated_at": {"type": "string", "format": "date-time"}
                }},
                "SafetyPlanContact": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "phone": {"type": "string"}}},
                "Problem": {"type": "object", "description": "RFC 9457 problem details.", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}
                }},
                "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token"], "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string", "const": "Bearer"}, "expires_in": {"type": "integer"},
                    "refresh_token": {"type": "string", "description": "Opaque; valid 30 days; single use (rotated by /api/v1/auth/refresh)."},
                    "device_token": {"type": "string", "description": "On a sign-in (verify-email, login, provider sign-in): keep it on the device and send it with the next logins, so failed guesses from elsewhere never make this device wait. Valid 180 days, until a password reset; it grants nothing else."},
                    "user": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "subscription_tier": {"type": "string"}}}
                }},
                "RefreshTokenRequest": {"type": "object", "required": ["refresh_token"], "additionalProperties": false, "properties": {"refresh_token": {"type": "string"}}}
            }
        }
    })
}

/// Joins a route's fixed prefix and a component-relative path.
fn mount(prefix: &str, relative: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match relative {
        "" | "/" => {
            if prefix.is_empty() {
                "/".into()
            } else {
                prefix.into()
            }
        }
        other => format!("{prefix}/{}", other.trim_start_matches('/')),
    }
}

/// The merged document.
pub fn build(state: &AppState) -> Value {
    let mut document = host_document();
    for fragment in [
        super::users::openapi_paths(),
        super::wearables::openapi_paths(),
    ] {
        if let (Some(Value::Object(paths)), Value::Object(more)) =
            (document.get_mut("paths"), fragment)
        {
            paths.extend(more);
        }
    }
    let active = state.registry.active();
    let mut extra_paths = Map::new();
    let mut extra_schemas = Map::new();
    for route in &state.registry.manifest().routes {
        let Some(component) = active.get(&route.component) else {
            continue;
        };
        let Some(fragment) = &component.prepared.openapi else {
            continue;
        };
        let pattern = route.route.pattern();
        let prefix = pattern.strip_suffix("/...").unwrap_or(pattern);
        if let Some(Value::Object(paths)) = fragment.get("paths") {
            for (relative, item) in paths {
                extra_paths.insert(mount(prefix, relative), item.clone());
            }
        }
        if let Some(Value::Object(schemas)) = fragment.pointer("/components/schemas") {
            for (name, schema) in schemas {
                extra_schemas.insert(name.clone(), schema.clone());
            }
        }
    }
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        paths.extend(extra_paths);
    }
    if let Some(Value::Object(schemas)) = document.pointer_mut("/components/schemas") {
        for (name, schema) in extra_schemas {
            schemas.entry(name).or_insert(schema);
        }
    }
    with_common_responses(&mut document);
    document
}

/// Documents, on every operation that lacks them, the errors any request may get whatever
/// the endpoint: a request that cannot be parsed (400), a body over the limit, not sent as
/// JSON, or JSON of another shape (413, 415, 422), no valid token where one is needed (401),
/// a path naming nothing (404), an admin route without the role (403), a request over its
/// class's rate limit (429, but for the health checks, which are never limited), and a
/// database or key store that is down (503).
/// Each is a problem document. An operation's own entries win.
fn with_common_responses(document: &mut Value) {
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Value::Object(item) = item else { continue };
        for (method, operation) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch") {
                continue;
            }
            let Value::Object(operation) = operation else {
                continue;
            };
            let has_body = operation.contains_key("requestBody");
            let needs_token = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|schemes| !schemes.is_empty());
            let limited = !matches!(path.as_str(), "/healthz" | "/readyz");
            let common: [(&str, &str, bool); 9] = [
                (
                    "400",
                    "The request cannot be parsed (query, path or body).",
                    true,
                ),
                ("401", "No valid access token.", needs_token),
                (
                    "403",
                    "The caller lacks the admin role.",
                    path.starts_with("/api/v1/admin"),
                ),
                (
                    "404",
                    "Nothing of the caller's has this id.",
                    path.contains('{'),
                ),
                ("413", "The body is over the size limit.", has_body),
                ("415", "The body is not sent as JSON.", has_body),
                ("422", "The body is not of the documented shape.", has_body),
                (
                    "429",
                    "Over the rate limit of the route's class (`rate-limited`, with `Retry-After`, `RateLimit` and `RateLimit-Policy`).",
                    limited,
                ),
                (
                    "503",
                    "The database or the key store is unavailable; retry.",
                    true,
                ),
            ];
            let responses = operation
                .entry("responses")
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(responses) = responses else {
                continue;
            };
            for (status, description, applies) in common {
                if applies {
                    responses.entry(status).or_insert_with(|| {
                        if status == "429" {
                            rate_limited_response(description)
                        } else {
                            problem_response(description)
                        }
                    });
                }
            }
        }
    }
}

/// The handler.
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(build(&state))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{host_document, mount};

    /// Every route the host serves itself is in the document, with its method.
    #[test]
    fn every_host_route_is_documented() {
        let mut document = host_document();
        for fragment in [
            crate::edge::users::openapi_paths(),
            crate::edge::wearables::openapi_paths(),
        ] {
            if let (Some(Value::Object(paths)), Value::Object(more)) =
                (document.get_mut("paths"), fragment)
            {
                paths.extend(more);
            }
        }
        let routes = crate::edge::host_route_list();
        assert!(routes.len() > 20, "{routes:?}");
        let missing: Vec<_> = routes
            .iter()
            .filter(|(method, path)| {
                document["paths"][*path]
                    .get(method.to_ascii_lowercase())
                    .is_none()
            })
            .collect();
        assert!(missing.is_empty(), "undocumented host routes: {missing:?}");
    }

    /// Every operation may answer the rate limits' 429, with its fields; the health checks,
    /// which are never limited, may not.
    #[test]
    fn every_limited_operation_documents_429() {
        let mut document = host_document();
        super::with_common_responses(&mut document);
        let limited = &document["paths"]["/api/v1/crisis/resources"]["get"]["responses"]["429"];
        assert!(
            limited["headers"]["Retry-After"]["required"] == true,
            "{limited}"
        );
        assert!(limited["headers"]["RateLimit"].is_object());
        // An operation's own 429 (registration throttling) wins.
        let own = &document["paths"]["/api/v1/auth/register"]["post"]["responses"]["429"];
        assert!(
            own["description"]
                .as_str()
                .is_some_and(|d| d.contains("registrations"))
        );
        for health in ["/healthz", "/readyz"] {
            assert!(
                document["paths"][health]["get"]["responses"]
                    .get("429")
                    .is_none()
            );
        }
    }

    #[test]
    fn mounts_relative_paths_under_the_route() {
        assert_eq!(mount("/api/v1/hello", "/"), "/api/v1/hello");
        assert_eq!(mount("/api/v1/hello", "/x/{id}"), "/api/v1/hello/x/{id}");
        assert_eq!(mount("", "/"), "/");
    }
}
