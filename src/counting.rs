//! A backend wrapper that counts what reaches the real backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use redpipe::{Backend, Batch, BoxFuture, Connection, Replies};

/// Wraps a real backend and counts the batches (round trips) and commands sent through it.
#[derive(Clone)]
pub struct Counting {
    inner: Arc<dyn Backend>,
    batches: Arc<AtomicUsize>,
    commands: Arc<AtomicUsize>,
}

impl Counting {
    /// Wraps the backend of `connection`.
    pub fn wrap(connection: &Connection) -> Self {
        Counting {
            inner: Arc::clone(connection.backend()),
            batches: Arc::default(),
            commands: Arc::default(),
        }
    }

    /// A connection over this counter (same options as a plain connection).
    pub fn connection(&self) -> Connection {
        Connection::new(self.clone())
    }

    /// Batches sent so far.
    pub fn batches(&self) -> usize {
        self.batches.load(Ordering::SeqCst)
    }

    /// Commands sent so far.
    pub fn commands(&self) -> usize {
        self.commands.load(Ordering::SeqCst)
    }
}

impl Backend for Counting {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        self.commands.fetch_add(batch.len(), Ordering::SeqCst);
        self.inner.send(batch)
    }
}

/// A fresh server and a registry whose default connection is a counted connection to it:
/// the set-up of most behaviour tests. Each test gets its own server and registry, so tests
/// run in parallel without interfering.
///
/// # Panics
///
/// When the server cannot be started or bound (test support fails loudly).
pub async fn counted_server() -> (crate::RedisServer, redpipe::Registry, Counting) {
    let server = crate::RedisServer::start();
    let counting = Counting::wrap(&server.connection().await);
    let registry = redpipe::Registry::new();
    registry
        .connect(counting.connection())
        .unwrap_or_else(|e| panic!("binding the test connection: {e}"));
    (server, registry, counting)
}
