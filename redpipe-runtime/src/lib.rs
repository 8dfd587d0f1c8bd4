//! Runtime of [redpipe](https://docs.rs/redpipe): deferred results, nestable pipelines,
//! connections and one-round-trip execution over the `redis` crate and tokio.
//!
//! Users depend on the `redpipe` facade, which re-exports everything here; its crate
//! documentation is the guide.
//!
//! # Redis Cluster
//!
//! With the `cluster` feature (on by default), [`Connection::open_cluster`] binds a Redis
//! Cluster under any name, like any other connection, and a batch may touch keys in any
//! slots:
//!
//! - **Grouping.** Each command goes to the master that serves its keys' slot, per a slot
//!   map the connection reads with `CLUSTER SLOTS`. The commands of one master form one
//!   pipeline; the pipelines of all masters are sent concurrently, so an execute costs
//!   one round trip per master involved. Every reply returns to its own deferred. Within a
//!   slot, commands reach Redis in program order (during a slot migration, per key).
//! - **Commands without keys.** `SCAN`, `KEYS` and `DBSIZE` run on every master: `SCAN`
//!   walks the masters one after the other with a cursor that covers them all (the top 8
//!   bits name the master, the rest are its own cursor), so keyspace scans see every key;
//!   `KEYS` concatenates and `DBSIZE` adds. Other keyless commands (PING, INFO...) go to
//!   the master of slot 0.
//! - **Keys.** The keys of a command are found from its name (the first argument for most
//!   commands; all arguments for DEL, MGET...; `numkeys` for EVAL, FCALL, ZUNIONSTORE...;
//!   after STREAMS for XREAD). A command whose keys are in different slots fails the whole
//!   batch before anything is sent, naming the command; give such keys a common hash tag
//!   (`{user42}:a`, `{user42}:b`). Keyspace keys (`name{id}`) are tagged by their id, so
//!   every keyspace of one id shares a slot, while `mget` or `delete` over several ids is
//!   a cross-slot command.
//! - **Redirections.** A `MOVED` reply re-sends only that command to the node it names,
//!   records the new owner and reloads the slot map from that node; an `ASK` reply
//!   re-sends the command to the node it names, preceded by `ASKING`. Commands that
//!   succeeded are never sent twice.
//! - **Transactions** ([`Connection::with_transaction`]) are allowed when every key of the
//!   batch is in one slot, and are a clear error before sending otherwise. A transaction
//!   refused with `MOVED` (nothing ran) is re-sent once to the new owner.
//! - **Failures.** A master that cannot be reached fails the commands sent to it, with an
//!   error naming its `host:port`; the other masters' replies are kept, and its
//!   connection is reopened on the next execute.
//!
//! redis-rs's own `ClusterConnection` is not what `open_cluster` uses: its pipelines must
//! stay in one slot, and when one reply of a pipeline routed to a node is `MOVED` or `ASK`
//! it re-sends the whole pipeline elsewhere, running the other commands again. This
//! backend keeps one multiplexed connection per node instead.
//!
//! An application that already holds a `ClusterConnection` can bind it with
//! [`Connection::cluster_connection`]: the same batches work (any slots, the same early
//! errors, the transaction rule), but each command is its own request so that redis-rs
//! follows redirections per command, and, since redis-rs may reorder concurrent requests,
//! commands go in waves (the n-th command of every slot in wave n). A batch whose commands
//! all have different slots takes one round trip; prefer `open_cluster` for the rest.

// Layers, each importing only from those above it (no import circle):
//   error      the error type
//   buffers    emptied lists recycled per thread (each layer keeps its own kinds)
//   deferred   slots in per-batch chunks, deferred handles, completion targets
//   connection backends, batches, replies, coalescing; fills targets from replies
//   registry   named connections, task-local scopes
//   pipeline   the per-root store of commands and callbacks, pipelines writing into it
//   execute    sending a root's store and running its callbacks
//   nested     nested pipelines and standalone calls (which own a root and execute it)
//   blocking   blocking connections, execute_blocking and Deferred::wait
// keyspace, record, field, shard and cluster sit on top (cluster only on connection).
mod blocking;
mod buffers;
mod callback;
#[cfg(feature = "cluster")]
mod cluster;
mod commands;
mod connection;
mod deferred;
mod error;
mod execute;
pub mod field;
pub mod keyspace;
mod name;
mod nested;
mod pipeline;
pub mod record;
mod registry;
pub mod shard;
mod spin;

#[cfg(feature = "cluster")]
pub use cluster::{key_slot, SLOT_COUNT};
pub use commands::Script;
pub use connection::{Backend, Batch, BoxFuture, Connection, Replies, DEFAULT_CONNECTION};
pub use deferred::{Deferred, DeferredFuture};
pub use error::{Error, Result};
pub use nested::{Nested, Parent};
pub use pipeline::{IntoCmd, Pipeline};
pub use record::{Member, Struct};
pub use registry::Registry;

/// A new root pipeline on the default connection of the current registry (see
/// [`Registry::current`]).
pub fn pipeline() -> Pipeline {
    Pipeline::current_pipeline_on(DEFAULT_CONNECTION)
}

/// A new root pipeline on connection `name` of the current registry.
pub fn pipeline_on(name: &str) -> Pipeline {
    Pipeline::current_pipeline_on(name)
}

/// Spawns `future` on the current tokio runtime within the current registry's scope, so
/// that standalone calls in the task use the same registry as the caller (a plain
/// `tokio::spawn` falls back to the process-wide registry). See [`Registry::spawn`].
pub fn spawn<F>(future: F) -> Result<tokio::task::JoinHandle<F::Output>>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    Registry::current().spawn(future)
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
