//! Connections opened from a URL: a multiplexed connection that is closed after any
//! request that did not complete (a timeout, a dropped execute, an I/O error) and opened
//! again by the next send, with errors and labels built from the parsed connection info
//! (never from the URL string, which may hold credentials).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{AbortHandle, Abortable};
use parking_lot::{Mutex, MutexGuard};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, ErrorKind, RedisError, Value};

use super::{request, Backend, Batch, BoxFuture, Replies};

/// How long opening a connection may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `scheme://[user@]host:port/db`, or `redis+unix://path?db=N`: what a connection is,
/// without its password.
pub(crate) fn describe(info: &ConnectionInfo) -> String {
    let settings = info.redis_settings();
    let user = settings.username();
    let db = settings.db();
    let at = user.map(|user| format!("{user}@")).unwrap_or_default();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("redis://{at}{host}:{port}/{db}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{at}{host}:{port}/{db}"),
        ConnectionAddr::Unix(path) => {
            let user = user.map(|user| format!("user={user}&")).unwrap_or_default();
            format!("redis+unix://{}?{user}db={db}", path.display())
        }
        // A kind of address added by a later redis-rs: its display is host and port.
        other => format!("{other}/{db}"),
    }
}

/// True when two connection settings reach the same server the same way (address, db,
/// user, password, protocol): Python redpipe accepts binding such a connection twice.
pub(crate) fn same_settings(a: &ConnectionInfo, b: &ConnectionInfo) -> bool {
    let (x, y) = (a.redis_settings(), b.redis_settings());
    a.addr() == b.addr()
        && x.db() == y.db()
        && x.username() == y.username()
        && x.password() == y.password()
        && x.protocol() == y.protocol()
}

/// A connection error that says what failed where, in words, without the URL.
pub(crate) fn connect_error(target: &str, error: &RedisError) -> RedisError {
    let cause = match error.kind() {
        ErrorKind::AuthenticationFailed => "authentication failed (wrong user name or password)",
        ErrorKind::InvalidClientConfig => "invalid connection settings",
        _ if error.is_connection_refusal() => "connection refused",
        ErrorKind::Io if io_detail(error).contains("certificate") => "TLS handshake failed",
        _ if error.is_timeout() => "timed out",
        _ => match error.code() {
            Some("WRONGPASS") | Some("NOAUTH") | Some("NOPERM") => {
                "authentication failed (wrong user name or password)"
            }
            _ => "could not connect",
        },
    };
    let detail = match error.code() {
        Some(code) => format!("{target}: {code}"),
        None => match error.kind() {
            ErrorKind::Io => format!("{target}: {}", io_detail(error)),
            _ => target.to_owned(),
        },
    };
    RedisError::from((error.kind(), cause, detail))
}

/// The operating system's (or TLS library's) words for an I/O error; they name no URL.
fn io_detail(error: &RedisError) -> String {
    std::error::Error::source(error).map_or_else(|| "I/O error".to_owned(), ToString::to_string)
}

/// Tells whether the runtime a connection was opened on still runs its driver for the
/// caller. redis-rs runs a multiplexed connection's driver task on the runtime that opened
/// it, and the task goes when that runtime shuts down: the connection's next request then
/// fails ("broken pipe") though nothing was sent. A small task spawned beside the driver
/// clears the flag when that runtime drops it, so that the connection is opened again
/// before it is used; the task ends when the watch is dropped. A current-thread runtime
/// runs the driver only inside its `block_on`s (a job thread's runtime, say): a caller on a
/// multi-thread runtime, whose requests would wait for the next of those, opens the
/// connection again on its own runtime, which always runs.
pub(crate) struct RuntimeWatch {
    alive: Arc<AtomicBool>,
    stop: AbortHandle,
    /// The watched runtime is a current-thread one.
    current_thread: bool,
}

impl RuntimeWatch {
    /// Watches the current runtime (outside one there is nothing to watch, and the watch
    /// always says alive).
    pub(crate) fn current() -> Self {
        /// Clears the flag when the watching task is dropped.
        struct Gone(Arc<AtomicBool>);
        impl Drop for Gone {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let alive = Arc::new(AtomicBool::new(true));
        let (stop, registration) = AbortHandle::new_pair();
        let runtime = tokio::runtime::Handle::try_current().ok();
        let current_thread = runtime.as_ref().is_some_and(is_current_thread);
        if let Some(runtime) = runtime {
            let gone = Gone(Arc::clone(&alive));
            runtime.spawn(async move {
                let _gone = gone;
                let _ = Abortable::new(std::future::pending::<()>(), registration).await;
            });
        }
        RuntimeWatch {
            alive,
            stop,
            current_thread,
        }
    }

    /// False once the watched runtime shut down, or when it is a current-thread runtime
    /// and the caller runs on a multi-thread one.
    pub(crate) fn serves_here(&self) -> bool {
        self.alive.load(Ordering::Acquire)
            && !(self.current_thread
                && tokio::runtime::Handle::try_current()
                    .is_ok_and(|here| !is_current_thread(&here)))
    }
}

/// True for a current-thread runtime, which runs its tasks only inside its `block_on`; the
/// other kinds run them on worker threads of their own.
pub(crate) fn is_current_thread(runtime: &tokio::runtime::Handle) -> bool {
    runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
}

impl Drop for RuntimeWatch {
    fn drop(&mut self) {
        // Ends the watching task (which then clears a flag nobody reads any more).
        self.stop.abort();
    }
}

/// The live connection and its generation (so that a send only closes the one it used).
#[derive(Default)]
struct Current {
    generation: u64,
    /// The connection, and the watch on the runtime that runs its driver.
    connection: Option<(MultiplexedConnection, RuntimeWatch)>,
}

/// A multiplexed connection that heals: see the module documentation.
pub(crate) struct Reconnecting {
    client: redis::Client,
    config: AsyncConnectionConfig,
    /// `host:port` or the socket path, for errors.
    target: String,
    current: Mutex<Current>,
    /// Held while opening, so that concurrent sends open one connection, not many.
    opening: futures_util::lock::Mutex<()>,
}

impl Reconnecting {
    /// Opens the first connection (one attempt: a wrong password or a refused port fails
    /// at once, with the cause).
    pub(crate) async fn open(client: redis::Client) -> Result<Self, RedisError> {
        let target = client.get_connection_info().addr().to_string();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let backend = Reconnecting {
            client,
            config,
            target,
            current: Mutex::default(),
            opening: futures_util::lock::Mutex::new(()),
        };
        backend.connection().await?;
        Ok(backend)
    }

    fn current(&self) -> MutexGuard<'_, Current> {
        // Only short, non-panicking updates happen under this lock.
        self.current.lock()
    }

    /// The live connection, opened if there is none.
    async fn connection(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        if let Some(found) = self.live() {
            return Ok(found);
        }
        let _opening = self.opening.lock().await;
        if let Some(found) = self.live() {
            return Ok(found);
        }
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|error| connect_error(&self.target, &error))?;
        let watch = RuntimeWatch::current();
        let mut current = self.current();
        current.generation += 1;
        current.connection = Some((connection.clone(), watch));
        tracing::debug!(target = %self.target, generation = current.generation, "connected");
        Ok((current.generation, connection))
    }

    fn live(&self) -> Option<(u64, MultiplexedConnection)> {
        let mut current = self.current();
        let generation = current.generation;
        match &current.connection {
            Some((connection, watch)) if watch.serves_here() => {
                Some((generation, connection.clone()))
            }
            Some(_) => {
                current.connection = None;
                tracing::debug!(
                    target = %self.target,
                    generation,
                    "the runtime running the connection shut down, or runs it only inside \
                     its block_on; reconnecting"
                );
                None
            }
            None => None,
        }
    }

    /// Closes connection `generation` if it is still the live one.
    fn close(&self, generation: u64) {
        let mut current = self.current();
        if current.generation == generation && current.connection.take().is_some() {
            tracing::debug!(target = %self.target, generation, "connection closed");
        }
    }
}

/// Closes the connection when a request is abandoned before its replies arrived: a reply
/// that comes later must never be taken for another request's.
struct InFlight<'a> {
    backend: &'a Reconnecting,
    generation: u64,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.backend.close(self.generation);
        }
    }
}

impl Backend for Reconnecting {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            let (generation, mut connection) = match self.connection().await {
                Ok(found) => found,
                Err(error) => return Replies::Failed(error),
            };
            let mut in_flight = InFlight {
                backend: self,
                generation,
                done: false,
            };
            let replies = match in_step(batch, request(&mut connection, batch).await, &self.target)
            {
                Ok(replies) => replies,
                // Dropped with `done` unset, `in_flight` closes the connection.
                Err(failed) => return failed,
            };
            in_flight.done = match &replies {
                // The socket may be in any state after a transport error: start afresh.
                Replies::Failed(error) => !leaves_socket_unknown(error),
                _ => true,
            };
            replies
        })
    }
}

/// True after an error that may leave a socket holding a late reply (I/O, a timeout, a
/// dropped or unusable connection): such a socket is closed, never reused.
pub(crate) fn leaves_socket_unknown(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_unrecoverable_error()
}

/// Commands whose reply is always an integer (or an error).
const INTEGER_REPLIES: &[&[u8]] = &[
    b"INCR",
    b"INCRBY",
    b"DECR",
    b"DECRBY",
    b"HINCRBY",
    b"STRLEN",
    b"APPEND",
    b"EXISTS",
    b"DEL",
    b"UNLINK",
    b"EXPIRE",
    b"PEXPIRE",
    b"PERSIST",
    b"TTL",
    b"PTTL",
    b"HSET",
    b"HDEL",
    b"HLEN",
    b"HEXISTS",
    b"HSETNX",
    b"LPUSH",
    b"RPUSH",
    b"LLEN",
    b"SADD",
    b"SREM",
    b"SCARD",
    b"SISMEMBER",
    b"ZCARD",
    b"ZREM",
    b"PFADD",
    b"DBSIZE",
    b"SETNX",
];

/// The replies of `batch`, unless one cannot belong to its command: then the connection
/// (to `target`) is out of step and every reply of the batch is suspect, so the batch
/// fails as a whole (`Err`), and the caller must close the socket, not reuse it.
pub(crate) fn in_step(batch: &Batch, replies: Replies, target: &str) -> Result<Replies, Replies> {
    match out_of_step(batch, &replies) {
        None => Ok(replies),
        Some(step) => Err(Replies::Failed(out_of_step_error(target, step))),
    }
}

/// The error of a batch whose replies are out of step with its commands (`step` says how
/// it showed), on a connection to `target` that is closed for it.
pub(crate) fn out_of_step_error(target: &str, step: String) -> RedisError {
    tracing::warn!(%target, %step, "replies out of step; closing the socket");
    RedisError::from((
        ErrorKind::Client,
        "replies out of step with commands (the connection was closed)",
        step,
    ))
}

/// Detects a reply that cannot belong to its command (a desynchronised connection): a
/// non-integer answer to a command that always answers an integer.
fn out_of_step(batch: &Batch, replies: &Replies) -> Option<String> {
    let Replies::Values(values) = replies else {
        return None;
    };
    batch
        .commands()
        .zip(values)
        .enumerate()
        .find_map(|(n, (cmd, value))| match value {
            Value::Int(_) | Value::ServerError(_) => None,
            other => {
                let name = match cmd.args_iter().next() {
                    Some(redis::Arg::Simple(name)) => name,
                    _ => return None,
                };
                INTEGER_REPLIES
                    .iter()
                    .any(|known| known.eq_ignore_ascii_case(name))
                    .then(|| {
                        format!(
                            "command #{n} ({}) was answered with {}",
                            String::from_utf8_lossy(name).to_uppercase(),
                            shape(other)
                        )
                    })
            }
        })
}

/// The kind of a reply, in words.
pub(crate) fn shape(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Okay | Value::SimpleString(_) => "a simple string",
        Value::BulkString(_) => "a bulk string",
        Value::Array(_) => "an array",
        _ => "a reply of another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::IntoConnectionInfo;

    #[test]
    fn labels_come_from_the_parsed_info_and_never_hold_a_password() {
        let cases = [
            (
                "redis://:secret@127.0.0.1:6379/2",
                "redis://127.0.0.1:6379/2",
            ),
            (
                "redis://bob:secret@localhost:7000",
                "redis://bob@localhost:7000/0",
            ),
            ("redis://127.0.0.1:6379/?x=a@b", "redis://127.0.0.1:6379/0"),
            (
                "redis+unix:///tmp/r.sock?pass=secret&db=3",
                "redis+unix:///tmp/r.sock?db=3",
            ),
            (
                "unix:///tmp/r.sock?user=al&pass=secret",
                "redis+unix:///tmp/r.sock?user=al&db=0",
            ),
        ];
        for (url, expected) in cases {
            let info = url.into_connection_info().unwrap();
            assert_eq!(describe(&info), expected, "{url}");
        }
    }

    #[test]
    fn equal_urls_have_equal_settings() {
        let a = "redis://127.0.0.1:6379".into_connection_info().unwrap();
        let b = "redis://127.0.0.1:6379".into_connection_info().unwrap();
        assert!(same_settings(&a, &b));
        let c = "redis://127.0.0.1:6379/1".into_connection_info().unwrap();
        assert!(!same_settings(&a, &c));
    }
}
