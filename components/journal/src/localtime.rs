//! Instants: parsing RFC 3339 query parameters and formatting instants as the host stores them
//! (both from `mindflow-component-kit`).

pub use mindflow_component_kit::instant::{format_instant, parse_instant};
