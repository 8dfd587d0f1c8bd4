//! Executing a root pipeline: one batch per connection, sent concurrently; then every
//! command deferred is filled; then callbacks run in program order.

use std::sync::Arc;

use tracing::Instrument;

use crate::connection::{Batch, Connection, Registry, Replies};
use crate::deferred::Fill;
use crate::error::Error;
use crate::pipeline::{in_callbacks, network_in_callback, Buffer, CallbackGuard, Pipeline};

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

    // Group the segments by connection, keeping program order within each.
    let mut groups: Vec<(Arc<str>, Vec<_>)> = Vec::new();
    for segment in segments {
        match groups
            .iter_mut()
            .find(|(name, _)| *name == segment.connection)
        {
            Some((_, commands)) => commands.extend(segment.commands),
            None => groups.push((segment.connection, segment.commands)),
        }
    }

    // Resolve every name before anything is sent: a missing one sends nothing at all.
    let mut outgoing = Vec::with_capacity(groups.len());
    let mut missing = None;
    for (name, queued) in groups {
        match registry.get(&name) {
            Some(connection) => {
                let mut batch = Batch::new(queued.len(), connection.is_transaction());
                let mut slots = Vec::with_capacity(queued.len());
                for q in queued {
                    batch.push(q.cmd);
                    slots.push(q.slot);
                }
                outgoing.push(Outgoing {
                    name,
                    connection,
                    batch,
                    slots,
                });
            }
            None => {
                let error = Error::NotConfigured { connection: name };
                for q in queued {
                    q.slot.fail(error.clone());
                }
                missing.get_or_insert(error);
            }
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

    let replies = send_all(&outgoing).await;

    let mut failures = Vec::new();
    for (out, replies) in outgoing.iter().zip(replies) {
        fill(out, replies, &mut failures);
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

/// Sends every batch concurrently on the current task (no spawning) and joins them all.
async fn send_all(outgoing: &[Outgoing]) -> Vec<Replies> {
    match outgoing {
        [one] => vec![send(one).await],
        many => futures_util::future::join_all(many.iter().map(send)).await,
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
