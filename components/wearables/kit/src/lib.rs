//! What MindFlow's wearable adapters share (the WIT world `mindflow:platform/wearable-adapter`,
//! documented in `wit/wearable.wit`).
//!
//! - [`model`]: the normalised day, sleep session, batch and error, as plain Rust, so an
//!   adapter's parsing is tested natively;
//! - [`fixture`]: the conformance fixture an adapter exports (`conformance`) and replays
//!   natively;
//! - [`time`]: civil dates, UTC offsets and RFC 3339 instants without a date crate;
//! - [`transport`]: the [`Transport`](transport::Transport) an adapter's `fetch` reads its
//!   provider through, and [`transport::Canned`] for native tests;
//! - on `wasm32` only: [`bindings`] (the world's bindings, with the
//!   `bindings::export_adapter!` macro), [`wasi_http::WasiHttp`] (the
//!   transport over `wasi:http`, to which the host adds the user's token) and the
//!   conversions from the model to the WIT types.
//!
//! An adapter crate implements the WIT `Guest` traits in a `wasm32`-only module, converting
//! its model values with `.into()`, and exports them with
//! `mindflow_adapter_kit::bindings::export_adapter!(Adapter with_types_in mindflow_adapter_kit::bindings);`.

pub mod fixture;
pub mod model;
pub mod time;
pub mod transport;

#[cfg(target_arch = "wasm32")]
#[allow(missing_docs, clippy::all, clippy::pedantic, unsafe_code)]
pub mod bindings {
    //! The `wearable-adapter` world's bindings (generated).
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "mindflow:platform/wearable-adapter",
        pub_export_macro: true,
        export_macro_name: "export_adapter",
        default_bindings_module: "mindflow_adapter_kit::bindings",
        generate_all,
    });
}

#[cfg(target_arch = "wasm32")]
pub mod convert;
#[cfg(target_arch = "wasm32")]
pub mod wasi_http;
