//! Host-side bindings generated from `wit/`: the capabilities a host provides
//! (`mindflow:platform/host-provided`), which the modules of [`super`] implement.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "mindflow:platform/host-provided",
    // Async: capabilities reach the database; trappable: a host failure traps the guest.
    imports: { default: async | trappable },
});
