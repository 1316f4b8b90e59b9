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

/// The pure crisis-rules world (`mindflow:platform/crisis-rules`).
#[allow(missing_docs)]
pub mod crisis_rules {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "mindflow:platform/crisis-rules",
    });
}
