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

fn host_document() -> Value {
    let token = json!({
        "description": "Access token issued.",
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
            "/api/v1/auth/register": {"post": {
                "summary": "Register with email and password", "operationId": "register",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {"email": {"type": "string", "format": "email"}, "password": {"type": "string", "minLength": 10}, "display_name": {"type": "string", "maxLength": 100}}}}}},
                "responses": {"201": token, "409": problem_response("Email taken."), "422": problem_response("Invalid field.")}
            }},
            "/api/v1/auth/login": {"post": {
                "summary": "Log in with email and password", "operationId": "login",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": {"200": token, "401": problem_response("Wrong email or password.")}
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
                "Problem": {"type": "object", "description": "RFC 9457 problem details.", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}
                }},
                "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"], "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string", "const": "Bearer"}, "expires_in": {"type": "integer"}
                }}
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
    document
}

/// The handler.
pub async fn document(State(state): State<AppState>) -> Json<Value> {
    Json(build(&state))
}

#[cfg(test)]
mod tests {
    use super::mount;

    #[test]
    fn mounts_relative_paths_under_the_route() {
        assert_eq!(mount("/api/v1/hello", "/"), "/api/v1/hello");
        assert_eq!(mount("/api/v1/hello", "/x/{id}"), "/api/v1/hello/x/{id}");
        assert_eq!(mount("", "/"), "/");
    }
}
