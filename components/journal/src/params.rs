//! Query parameters: `limit`, `cursor`, `from`/`to` (parsed by `mindflow-component-kit`).

pub use mindflow_component_kit::params::{DEFAULT_LIMIT, MAX_LIMIT, Params, Range};
