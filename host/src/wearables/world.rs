//! The host's bindings of a wearable adapter's exports (`wearable-adapter-exports`: the
//! `adapter` interface; its WASI and `wasi:http` imports are linked from wasmtime's own).

#![allow(missing_docs, clippy::all, clippy::pedantic)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "mindflow:platform/wearable-adapter-exports",
    exports: { default: async },
});
