//! Runtime of [redpipe](https://docs.rs/redpipe): deferred results, nestable pipelines,
//! connections and one-round-trip execution over the `redis` crate and tokio.
//!
//! Users depend on the `redpipe` facade, which re-exports everything here; its crate
//! documentation is the guide.

#[cfg(feature = "cluster")]
mod cluster;
mod commands;
mod connection;
mod deferred;
mod error;
mod execute;
pub mod field;
pub mod keyspace;
mod pipeline;
pub mod record;
pub mod shard;

pub use commands::Script;
pub use connection::{
    spread, Backend, Batch, BoxFuture, Connection, Registry, Replies, DEFAULT_CONNECTION,
};
pub use deferred::Deferred;
pub use error::{Error, Result};
pub use pipeline::{IntoCmd, Nested, Parent, Pipeline};
pub use record::{Member, Struct};

/// A new root pipeline on the default connection of the current registry (see
/// [`Registry::current`]).
pub fn pipeline() -> Pipeline {
    Registry::current().pipeline()
}

/// A new root pipeline on connection `name` of the current registry.
pub fn pipeline_on(name: &str) -> Pipeline {
    Registry::current().pipeline_on(name)
}

/// Binds the default connection of the current registry.
pub fn connect(connection: Connection) -> Result<()> {
    Registry::current().connect(connection)
}

/// Binds connection `name` of the current registry; see [`Registry::connect_named`].
pub fn connect_named(name: &str, connection: Connection) -> Result<()> {
    Registry::current().connect_named(name, connection)
}

/// Unbinds connection `name` of the current registry; returns whether it was bound.
pub fn disconnect(name: &str) -> bool {
    Registry::current().disconnect(name)
}

/// Unbinds every connection of the current registry.
pub fn reset() {
    Registry::current().reset()
}
