//! Types and pure rules used by both the server and the SPA.
//!
//! Everything here compiles for `wasm32-unknown-unknown`: serde and plain logic only.

pub mod names;
pub mod permissions;
pub mod roles;

pub use roles::{Format, GlobalRole, RepositoryRole, Visibility};
