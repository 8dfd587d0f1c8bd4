//! The one error type of redpipe.

use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong while queueing, executing or reading a pipeline.
///
/// `Error` is `Clone` so that every clone of a [`Deferred`](crate::Deferred) can hand out
/// its own copy of the outcome it holds.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The deferred was read before the pipeline it belongs to executed.
    #[error(
        "result not ready: its pipeline has not executed yet; read deferreds in the tail \
         (the combine step) of a #[pipelined] function, or after `execute`"
    )]
    NotReady,

    /// The deferred will never get a value: the `execute` future was dropped before the
    /// replies arrived (a timeout or `select!` around it), or a combine step panicked
    /// before this one could run. Holds the reason.
    #[error("cancelled: {0}")]
    Cancelled(Arc<str>),

    /// A pipeline used a connection name that is not bound in its registry.
    #[error("connection `{connection}` is not configured")]
    NotConfigured {
        /// The name that was looked up.
        connection: Arc<str>,
    },

    /// A name is already bound to a different backend; use `replace` to rebind it.
    #[error("connection `{connection}` is already bound to a different backend; use `replace` to rebind it")]
    AlreadyConnected {
        /// The name that was being bound.
        connection: Arc<str>,
    },

    /// A value was rejected before anything was queued.
    #[error("invalid value for `{field}`: {reason}")]
    InvalidValue {
        /// The field, member, key or argument that was rejected.
        field: Arc<str>,
        /// Why it was rejected.
        reason: Arc<str>,
    },

    /// An operation that cannot be done in the current state.
    #[error("invalid operation: {0}")]
    InvalidOperation(Arc<str>),

    /// One command of a batch failed: Redis answered with an error, or its reply could not
    /// be converted into the type the caller asked for.
    #[error(
        "command #{index} ({command}) on connection `{connection}` failed: {source}{}",
        redirection_hint(source)
    )]
    Command {
        /// The connection the command was sent on.
        connection: Arc<str>,
        /// The command's name, for example `INCRBY`.
        command: Arc<str>,
        /// The command's position in that connection's batch, from 0.
        index: usize,
        /// What Redis (or the reply conversion) said.
        #[source]
        source: redis::RedisError,
    },

    /// A whole batch could not be sent or answered: network, I/O, timeout, or a transaction
    /// that Redis discarded.
    #[error("connection `{connection}` failed: {source}")]
    Connection {
        /// The connection's name (never its URL, which may hold credentials).
        connection: Arc<str>,
        /// The underlying error.
        #[source]
        source: redis::RedisError,
    },

    /// The deferred would have been filled by a combine step, but a command of that
    /// step's scope (its pipeline and the children it absorbed) failed, so the step was
    /// skipped. Holds the execute error.
    #[error("aborted because a command it depends on failed: {0}")]
    Aborted(Arc<Error>),

    /// Data stored in Redis could not be decoded into the type its keyspace or field
    /// declares (bytes another program wrote, a schema that changed).
    #[error("stored data in `{key}`{} cannot be decoded: {reason}", .member.as_ref().map(|m| format!(" (member `{m}`)")).unwrap_or_default())]
    Decode {
        /// The Redis key.
        key: Arc<str>,
        /// The hash member, when the data is one.
        member: Option<Arc<str>>,
        /// Why it could not be decoded.
        reason: Arc<str>,
    },

    /// A write's commands succeeded (the data landed), but reading the record back after
    /// it failed, for example because a stored member cannot be decoded. Holds why.
    #[error("the write landed, but reading the record back failed: {0}")]
    ReadBack(Arc<Error>),

    /// `execute` found one or more failures. Every one is in
    /// [`failures`](Error::failures) (its `Display` shows the first ten and a count, so it
    /// stays short whatever the batch size); each command deferred holds its own outcome.
    #[error("{}", Failures(.0))]
    Execute(Arc<[Error]>),

    /// An error from user code, for example the `E` of a `#[pipelined]` function that
    /// returns `Result<T, E>`.
    #[error(transparent)]
    Other(Arc<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// An [`Error::InvalidValue`] for `field` with the given reason.
    pub fn invalid_value(field: impl Into<Arc<str>>, reason: impl Into<Arc<str>>) -> Self {
        Error::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidOperation`] with the given message.
    pub fn invalid_operation(message: impl Into<Arc<str>>) -> Self {
        Error::InvalidOperation(message.into())
    }

    /// Wraps any error from user code.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Other(Arc::new(error))
    }

    /// The individual failures of an [`Error::Execute`]; any other error is its own single
    /// failure.
    pub fn failures(&self) -> &[Error] {
        match self {
            Error::Execute(all) => all,
            other => std::slice::from_ref(other),
        }
    }
}

/// How many failures the `Display` of [`Error::Execute`] lists; the rest are counted.
const SHOWN_FAILURES: usize = 10;

struct Failures<'a>(&'a [Error]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "execute failed with {} error(s)", self.0.len())?;
        for (n, e) in self.0.iter().take(SHOWN_FAILURES).enumerate() {
            write!(f, "; [{}] {e}", n + 1)?;
        }
        if let Some(more) = self.0.len().checked_sub(SHOWN_FAILURES).filter(|&n| n > 0) {
            write!(
                f,
                "; ... and {more} more (Error::failures() lists them all)"
            )?;
        }
        Ok(())
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// Shorthand for `Result<T, redpipe::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// After a `MOVED` or `ASK` reply, what follows Redis Cluster redirections (a plain
/// connection pointed at a cluster node gets them for every key of another node).
fn redirection_hint(source: &redis::RedisError) -> &'static str {
    use redis::{ErrorKind, ServerErrorKind};
    match source.kind() {
        ErrorKind::Server(ServerErrorKind::Moved | ServerErrorKind::Ask) => {
            " (a Redis Cluster redirection: bind a cluster with Connection::open_cluster, \
             whose connections follow them)"
        }
        _ => "",
    }
}
