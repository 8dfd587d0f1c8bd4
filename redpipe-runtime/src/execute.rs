//! Executing a root pipeline: one batch per connection, sent concurrently; then every
//! command deferred is filled; then callbacks run in program order.

use std::sync::Arc;

use tracing::Instrument;

use crate::connection::{Batch, Connection, Registry, Replies};
use crate::deferred::Fill;
use crate::error::Error;
use crate::pipeline::{
    in_callbacks, network_in_callback, same_name, Buffer, CallbackGuard, Pipeline,
};

/// The commands of one connection, ready to send, and the slots their replies fill.
struct Outgoing {
    name: Arc<str>,
    connection: Connection,
    batch: Batch,
    slots: Vec<Arc<dyn Fill>>,
}

impl Pipeline {
    /// Sends everything queued (one batch per connection involved, sent concurrently),
    /// fills every command deferred, then runs the callbacks in program order.
    ///
    /// Consumes the pipeline, so nothing can be sent twice. If any command or connection
    /// fails, every backend is still joined; the error lists every failure
    /// ([`Error::Execute`]); each command deferred holds its own outcome; no callback runs
    /// and the deferreds callbacks would have filled hold [`Error::Aborted`].
    pub async fn execute(self) -> Result<(), Error> {
        let (registry, buffer, created_in_callback) = self.into_parts();
        if created_in_callback || in_callbacks() {
            return Err(abort_all(buffer, network_in_callback()));
        }
        let commands = buffer.command_count();
        let span = tracing::debug_span!("redpipe.execute", commands);
        execute(registry, buffer).instrument(span).await
    }
}

async fn execute(registry: Registry, buffer: Buffer) -> Result<(), Error> {
    let Buffer {
        segments,
        callbacks,
    } = buffer;

    // One batch per connection, filled straight from the segments in program order (no
    // intermediate grouping: each command is moved once, into its batch). Every name is
    // resolved before anything is sent: a missing one sends nothing at all.
    let mut remaining: usize = segments.iter().map(|s| s.commands.len()).sum();
    let mut outgoing: Vec<Outgoing> = Vec::with_capacity(1);
    let mut missing = None;
    for segment in segments {
        remaining -= segment.commands.len();
        let known = outgoing
            .iter()
            .position(|out| same_name(&out.name, &segment.connection));
        let out = match known {
            Some(index) => &mut outgoing[index],
            None => match registry.get(&segment.connection) {
                Some(connection) => {
                    // Sized for everything left, exact when there is one connection.
                    let capacity = segment.commands.len() + remaining;
                    outgoing.push(Outgoing {
                        name: segment.connection,
                        batch: Batch::new(capacity, connection.is_transaction()),
                        slots: Vec::with_capacity(capacity),
                        connection,
                    });
                    let last = outgoing.len() - 1;
                    &mut outgoing[last]
                }
                None => {
                    let error = Error::NotConfigured {
                        connection: segment.connection,
                    };
                    for q in segment.commands {
                        q.slot.fail(error.clone());
                    }
                    missing.get_or_insert(error);
                    continue;
                }
            },
        };
        for q in segment.commands {
            out.batch.push(q.cmd);
            out.slots.push(q.slot);
        }
    }
    if let Some(error) = missing {
        let rest = Buffer {
            segments: Vec::new(),
            callbacks,
        };
        for out in outgoing {
            for slot in out.slots {
                slot.fail(error.clone());
            }
        }
        return Err(abort_all(rest, error));
    }

    // Every batch is sent concurrently on the current task (no spawning) and all are
    // joined; the common single-connection case awaits its one batch directly.
    let mut failures = Vec::new();
    match outgoing.as_slice() {
        [one] => fill(one, send(one).await, &mut failures),
        many => {
            let replies = futures_util::future::join_all(many.iter().map(send)).await;
            for (out, replies) in many.iter().zip(replies) {
                fill(out, replies, &mut failures);
            }
        }
    }

    if failures.is_empty() {
        let _running = CallbackGuard::enter();
        for callback in callbacks {
            callback.run();
        }
        Ok(())
    } else {
        let cause = Arc::new(Error::Execute(failures.into()));
        for callback in callbacks {
            callback.abort(&cause);
        }
        Err(Error::clone(&cause))
    }
}

async fn send(out: &Outgoing) -> Replies {
    let span = tracing::debug_span!(
        "redpipe.batch",
        connection = %out.name,
        commands = out.batch.len(),
        transaction = out.batch.is_transaction(),
    );
    out.connection.send(&out.batch).instrument(span).await
}

/// Fills the slots of one batch from its replies and records its failures: one per failed
/// command, and one per distinct transport error.
fn fill(out: &Outgoing, replies: Replies, failures: &mut Vec<Error>) {
    let before = failures.len();
    let mut transport: Vec<String> = Vec::new();
    for (index, (slot, reply)) in out.slots.iter().zip(replies).enumerate() {
        match reply {
            Ok(value) => {
                let context = |source| Error::Command {
                    connection: Arc::clone(&out.name),
                    command: out.batch.command_name(index),
                    index,
                    source,
                };
                if let Some(error) = slot.fill(value, &context) {
                    failures.push(error);
                }
            }
            Err(source) => {
                let message = source.to_string();
                let error = Error::Connection {
                    connection: Arc::clone(&out.name),
                    source,
                };
                if !transport.contains(&message) {
                    transport.push(message);
                    failures.push(error.clone());
                }
                slot.fail(error);
            }
        }
    }
    let failed = failures.len() - before;
    tracing::debug!(connection = %out.name, commands = out.batch.len(), failed, "batch answered");
}

/// Fails everything queued with `error` (nothing was sent) and returns the error.
fn abort_all(buffer: Buffer, error: Error) -> Error {
    let cause = Arc::new(error.clone());
    for segment in buffer.segments {
        for q in segment.commands {
            q.slot.fail(error.clone());
        }
    }
    for callback in buffer.callbacks {
        callback.abort(&cause);
    }
    error
}
