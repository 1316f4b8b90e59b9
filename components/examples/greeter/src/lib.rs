//! `greeter`: the smallest domain component on the kit, mounted at `/api/v1/greeter`.
//!
//! `GET /` answers `{"message": "Hello", "timezone": …, "premium": …}` for the caller (the
//! `context` capability); anything else is a problem document. It exists to show the "add a
//! domain component" walk-through of ARCHITECTURE.md: the domain logic below, tested natively
//! against the kit's fake, and the glue at the end.

use serde_json::json;

use mindflow_component_kit::{Platform, Problem, Reply, Request, Wording};

/// Where the component is mounted.
pub const BASE_PATH: &str = "/api/v1/greeter";
/// How the service words what it cannot find, and its own failures.
pub const WORDING: Wording = Wording::new("greeter", "no such greeting");

/// Serves one request.
///
/// # Errors
/// 401 without a caller, 404 for another path, 405 for another method.
pub fn handle(p: &impl Platform, request: &Request<'_>) -> Result<Reply, Problem> {
    if !matches!(request.path, "" | "/") {
        return Err(Problem::not_found("no such greeter resource"));
    }
    if request.method != "GET" {
        return Err(Problem::method_not_allowed("GET"));
    }
    let user = p.current_user().ok_or_else(Problem::unauthorized)?;
    Ok(Reply::json(
        200,
        &json!({"message": "Hello", "timezone": user.timezone, "premium": user.premium}),
    ))
}

// The glue: the kit's Spin export (with `openapi.json`) and the allocator.
#[cfg(target_arch = "wasm32")]
mindflow_component_kit::export_http!(handle, BASE_PATH, WORDING);

/// One request per instance: allocations bump through a static arena.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: mindflow_instance_arena::Bump = mindflow_instance_arena::Bump;

#[cfg(test)]
mod tests {
    use mindflow_component_kit::fake::FakePlatform;

    use super::*;

    fn call(p: &FakePlatform, method: &str, path: &str) -> Result<Reply, Problem> {
        handle(
            p,
            &Request {
                method,
                path,
                query: "",
                body: b"",
            },
        )
    }

    #[test]
    fn greets_the_caller_in_their_zone() {
        let host = FakePlatform::new("Europe/Paris", true);
        let reply = call(&host, "GET", "/").expect("greeting");
        assert_eq!(reply.status, 200);
        let body = reply.json_body();
        assert_eq!(body["message"], "Hello");
        assert_eq!(body["timezone"], "Europe/Paris");
        assert_eq!(body["premium"], true);
    }

    #[test]
    fn other_paths_and_methods_are_problems() {
        let host = FakePlatform::new("UTC", false);
        assert_eq!(call(&host, "GET", "/x").err().map(|p| p.status), Some(404));
        assert_eq!(call(&host, "POST", "/").err().map(|p| p.status), Some(405));
    }
}
