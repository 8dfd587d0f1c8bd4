//! Runtime of [redpipe](https://docs.rs/redpipe): deferred results, nestable pipelines,
//! connections and one-round-trip execution over the `redis` crate and tokio.
//!
//! Users depend on the `redpipe` facade, which re-exports everything here.

mod error;
pub mod field;
pub mod shard;

pub use error::{Error, Result};
