//! The blocking API: the same pipelines, deferreds and `#[pipelined]` functions, executed
//! without an async runtime, over redis-rs's synchronous connections.
//!
//! A blocking connection ([`Connection::open_blocking`]) keeps a small pool of synchronous
//! sockets: each batch takes one (opening another when all are busy, so threads never wait
//! for each other), writes the batch and reads its replies on the calling thread, and puts
//! it back. [`Pipeline::execute_blocking`] and [`Deferred::wait`] drive the execute on the
//! calling thread; there is no driver task, channel or wake-up between the caller and the
//! socket.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use redis::{ConnectionLike, RedisError, Value};

use crate::connection::{
    exec_replies, open, timed_out, Backend, Batch, BoxFuture, Connection, Replies,
};
use crate::deferred::Deferred;
use crate::error::Error;
use crate::pipeline::{in_callbacks, Pipeline};

/// How long opening a socket may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sockets kept idle for reuse; more may be open while many threads send at once.
const IDLE_SOCKETS: usize = 16;

/// A pool of synchronous redis-rs connections to one server.
struct Blocking {
    client: redis::Client,
    /// `host:port` or the socket path, for errors.
    target: String,
    idle: Mutex<Vec<redis::Connection>>,
}

impl Blocking {
    fn idle(&self) -> MutexGuard<'_, Vec<redis::Connection>> {
        // Only short, non-panicking updates happen under this lock.
        self.idle.lock()
    }

    fn take(&self) -> Result<redis::Connection, RedisError> {
        if let Some(socket) = self.idle().pop() {
            return Ok(socket);
        }
        self.client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|error| open::connect_error(&self.target, &error))
    }

    fn put_back(&self, socket: redis::Connection) {
        let mut idle = self.idle();
        if idle.len() < IDLE_SOCKETS {
            idle.push(socket);
        }
    }

    fn send_now(&self, batch: &Batch) -> Replies {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Replies::Failed(RedisError::from((
                redis::ErrorKind::Client,
                "a blocking connection was used inside an async runtime",
                "it would block the runtime's thread; bind an async connection \
                 (Connection::open) for code that runs in tokio"
                    .to_owned(),
            )));
        }
        let mut socket = match self.take() {
            Ok(socket) => socket,
            Err(error) => return Replies::Failed(error),
        };
        // The response timeout bounds the write too: a server that stopped reading would
        // otherwise block a batch larger than the socket's buffers for good.
        if let Err(error) = socket
            .set_read_timeout(batch.timeout)
            .and_then(|()| socket.set_write_timeout(batch.timeout))
        {
            return Replies::Failed(error);
        }
        // The batch ends with an ECHO of a number of its own, read back after the
        // batch's replies: a reply too many or too few (a server or proxy out of step)
        // shows there, and no reply of this batch is ever read by the next one.
        let sentinel = SENTINELS.fetch_add(1, Ordering::Relaxed).to_string();
        let mut packed = batch.packed();
        packed.extend(redis::cmd("ECHO").arg(&sentinel).get_packed_command());
        let count = batch.len();
        let replies = if batch.is_transaction() {
            socket
                .req_packed_commands(&packed, count + 1, 1)
                .and_then(exec_replies)
        } else {
            socket.req_packed_commands(&packed, 0, count)
        };
        let replies = match open::in_step(batch, Replies::from(replies), &self.target) {
            // Out of step: closed, never reused.
            Err(failed) => return failed,
            Ok(replies) => replies,
        };
        match replies {
            // After a transport error or a timeout the socket may hold a late reply: it is
            // closed, never reused. A timeout is said as the async path says it, not as
            // the operating system's "resource temporarily unavailable".
            Replies::Failed(error) if open::leaves_socket_unknown(&error) => {
                Replies::Failed(match batch.timeout {
                    Some(limit) if error.is_timeout() => timed_out(limit),
                    _ => error,
                })
            }
            replies => match socket.recv_response() {
                Ok(Value::BulkString(echoed)) if echoed == sentinel.as_bytes() => {
                    self.put_back(socket);
                    replies
                }
                // Closed, never reused.
                Ok(other) => Replies::Failed(open::out_of_step_error(
                    &self.target,
                    format!(
                        "the batch's last reply was followed by {}, not the echo that ends it",
                        open::shape(&other)
                    ),
                )),
                Err(error) => Replies::Failed(error),
            },
        }
    }
}

/// The numbers the blocking batches end with (see [`Blocking::send_now`]).
static SENTINELS: AtomicU64 = AtomicU64::new(0);

impl Backend for Blocking {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        let replies = self.send_now(batch);
        Box::pin(std::future::ready(replies))
    }
}

impl Connection {
    /// Opens a blocking connection to a `redis://` or `redis+unix://` URL (`rediss://` with
    /// the `tls` feature), for [`Pipeline::execute_blocking`] and [`Deferred::wait`].
    ///
    /// It connects once, at once (failing fast, like [`open`](Self::open)), and keeps a
    /// pool of synchronous sockets, so threads sharing it send in parallel (its batches
    /// are not coalesced: see [`with_coalescing`](Self::with_coalescing)). A socket whose
    /// request failed or timed out is closed, never reused. Each batch ends with an `ECHO`
    /// of a number of its own, read back after its replies: a server that answers out of
    /// step fails that batch (and its socket is closed) instead of handing a reply to the
    /// next one. A response timeout ([`with_response_timeout`](Self::with_response_timeout))
    /// is the socket's read and write timeout. Used inside an async runtime, its batches
    /// fail with a clear error rather than block the runtime's thread.
    pub fn open_blocking(url: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|source| Error::Connection {
            connection: Arc::from("<url>"),
            source: crate::connection::redact(source),
        })?;
        Self::blocking_from_client(client)
    }

    /// Like [`open_blocking`](Self::open_blocking), from a redis-rs client you built (for
    /// TLS certificates, say).
    pub fn blocking_from_client(client: redis::Client) -> Result<Self, Error> {
        let label = open::describe(client.get_connection_info());
        let target = client.get_connection_info().addr().to_string();
        let backend = Blocking {
            client,
            target,
            idle: Mutex::default(),
        };
        let first = backend.take().map_err(|source| Error::Connection {
            connection: Arc::from(label.as_str()),
            source,
        })?;
        backend.put_back(first);
        Ok(Self::from_backend(Arc::new(backend), &label).into_blocking())
    }
}

impl Pipeline {
    /// Executes this root pipeline on the calling thread, without an async runtime: the
    /// blocking twin of [`execute`](Pipeline::execute), with the same batching, callbacks
    /// and errors.
    ///
    /// Every connection it uses must be blocking ([`Connection::open_blocking`]); an async
    /// one (or the cluster backend) is refused with an error naming it, before anything is
    /// sent. Called inside an async runtime it is an error (it would block the runtime's
    /// thread), never a deadlock. Either way every deferred of the batch resolves.
    pub fn execute_blocking(self) -> Result<(), Error> {
        let refusal = tokio::runtime::Handle::try_current().is_ok().then(|| {
            Error::invalid_operation(
                "execute_blocking was called inside an async runtime, where it would block \
                 the runtime's thread; use `execute().await` there",
            )
        });
        block_on(self.execute_checked(refusal, true))
    }
}

impl<T: Clone + Send + Sync + 'static> Deferred<T> {
    /// Waits for the value on the calling thread, without an async runtime: the blocking
    /// twin of `.await`. For a standalone call's deferred it executes the call's root
    /// pipeline (as [`Pipeline::execute_blocking`] does); otherwise it reads the outcome.
    ///
    /// Inside an async runtime it is an error (use `.await`), and nothing is sent. So is
    /// waiting in a combine step (or `on_execute` callback) for a standalone call that has
    /// not run: it would be a round trip after the running one, or, for the very call
    /// whose combine step it is, a wait that never ends. The call is left as it was.
    pub fn wait(self) -> Result<T, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::invalid_operation(
                "Deferred::wait was called inside an async runtime, where it would block the \
                 runtime's thread; use `.await` there",
            ));
        }
        if in_callbacks() && self.is_unexecuted_call() {
            return Err(Error::invalid_operation(
                "Deferred::wait was called inside a combine step or on_execute callback for \
                 a standalone call that is not resolved yet: running it there would be a \
                 round trip after the running one (or, for the call this step belongs to, \
                 would never end); read only deferreds of the same batch in callbacks",
            ));
        }
        block_on(self.into_future_with(true))
    }
}

/// Wakes the blocked thread.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` to completion on this thread, parking between polls.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
