//! Host capabilities granted to components.
//!
//! Each module owns one capability with the same shape: what it grants, what it never
//! gives, its per-request state, and how it is added to the linker. A component gets a
//! capability only when its manifest grants it; an ungranted import fails at install.

pub mod context;
pub mod outbound;
pub mod variables;
