//! sesame: a Redis-protocol-compatible session cache.
//!
//! The crate is the server; `main.rs` only parses the configuration, binds and calls
//! [`server::run`]. Layout follows the architecture (see `shared/DESIGN.md`):
//! [`protocol`] (the wire) → [`commands`] (one table, one dispatcher, one file per family) →
//! [`store`] (the lock-sharded keyspace and its expiry), with [`server`] owning the process and
//! [`error`] every error text.

pub mod commands;
pub mod error;
pub mod protocol;
pub mod server;
pub mod store;

/// The Redis version sesame answers as (INFO, HELLO): the compatibility target.
pub const REDIS_VERSION: &str = "7.0.15";
/// sesame's own version (INFO `sesame_version`).
pub const SESAME_VERSION: &str = env!("CARGO_PKG_VERSION");
