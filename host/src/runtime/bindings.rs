//! Host-side bindings generated from `wit/`.

/// The capabilities a host provides (`mindflow:platform/host-provided`).
#[allow(missing_docs)]
pub mod host {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mindflow:platform/host-provided",
        // Async: capabilities reach the database; trappable: a host failure traps the guest.
        imports: { default: async | trappable },
    });
}

/// The pure crisis-rules world (`mindflow:platform/crisis-rules`). Its exports are async:
/// while serving a request the guest runs on the request's task and yields every so often
/// (fuel), instead of hopping to a blocking thread.
#[allow(missing_docs)]
pub mod crisis_rules {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mindflow:platform/crisis-rules",
        exports: { default: async },
    });
}
