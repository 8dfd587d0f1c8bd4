//! Connections: backends that send batches, and registries that map names to them.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, RedisError, Value};

use crate::error::Error;
use crate::pipeline::Pipeline;

/// The name of the default connection.
pub const DEFAULT_CONNECTION: &str = "default";

/// A boxed future, as returned by [`Backend::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The commands one execute sends to one connection, in program order.
#[derive(Debug)]
pub struct Batch {
    pipeline: redis::Pipeline,
}

impl Batch {
    pub(crate) fn new(commands: usize, transaction: bool) -> Self {
        let mut pipeline = redis::Pipeline::with_capacity(commands);
        if transaction {
            pipeline.atomic();
        }
        Batch { pipeline }
    }

    pub(crate) fn push(&mut self, cmd: Cmd) {
        self.pipeline.add_command(cmd);
    }

    /// The commands, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Cmd> {
        self.pipeline.cmd_iter()
    }

    /// The number of commands (not counting MULTI/EXEC).
    pub fn len(&self) -> usize {
        self.pipeline.len()
    }

    /// True when there is no command.
    pub fn is_empty(&self) -> bool {
        self.pipeline.is_empty()
    }

    /// True when the batch must be wrapped in MULTI/EXEC.
    pub fn is_transaction(&self) -> bool {
        self.pipeline.is_transaction()
    }

    /// The batch as a redis-rs pipeline (atomic when it is a transaction), ready for
    /// `ConnectionLike::req_packed_commands`.
    pub fn pipeline(&self) -> &redis::Pipeline {
        &self.pipeline
    }

    /// The name of command `index` (for example `INCRBY`), for error messages.
    pub fn command_name(&self, index: usize) -> Arc<str> {
        self.commands()
            .nth(index)
            .and_then(|cmd| cmd.args_iter().next())
            .map(|arg| match arg {
                redis::Arg::Simple(name) => String::from_utf8_lossy(name).to_uppercase(),
                _ => String::from("?"),
            })
            .unwrap_or_default()
            .into()
    }
}

/// One reply per command of a batch: the reply (which may be a Redis error reply), or the
/// transport error that kept this command from being answered.
pub type Replies = Vec<Result<Value, RedisError>>;

/// Something that can send a [`Batch`] to Redis and return one reply per command.
///
/// Implemented for redis-rs's multiplexed connection and connection manager, and (with the
/// `cluster` feature) for Redis Cluster, whose backend groups the commands by node itself.
/// Wrap a backend to observe or count batches.
pub trait Backend: Send + Sync + 'static {
    /// Sends the batch (in one round trip per server) and returns exactly one entry per
    /// command, in the batch's order.
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies>;
}

/// A backend over any cloneable redis-rs async connection: one `req_packed_commands` call
/// per batch.
struct Direct<C>(C);

impl<C: ConnectionLike + Clone + Send + Sync + 'static> Backend for Direct<C> {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            let mut conn = self.0.clone();
            let count = batch.len();
            let replies = if batch.is_transaction() {
                conn.req_packed_commands(batch.pipeline(), count + 1, 1)
                    .await
                    .and_then(exec_replies)
            } else {
                conn.req_packed_commands(batch.pipeline(), 0, count).await
            };
            spread(replies, count)
        })
    }
}

/// The replies inside an EXEC reply.
pub(crate) fn exec_replies(mut replies: Vec<Value>) -> Result<Vec<Value>, RedisError> {
    match replies.pop() {
        Some(Value::Array(items)) => Ok(items),
        Some(Value::ServerError(e)) => Err(e.into()),
        _ => Err(RedisError::from((
            redis::ErrorKind::Client,
            "the transaction was aborted (EXEC did not return the replies)",
        ))),
    }
}

/// One entry per command from a whole-batch outcome; a reply count that does not match
/// the batch is an error for every command, never a panic.
pub fn spread(replies: Result<Vec<Value>, RedisError>, count: usize) -> Replies {
    match replies {
        Ok(values) if values.len() == count => values.into_iter().map(Ok).collect(),
        Ok(values) => {
            let error = RedisError::from((
                redis::ErrorKind::Client,
                "the server returned a different number of replies than commands sent",
                format!("expected {count}, got {}", values.len()),
            ));
            vec![Err(error); count]
        }
        Err(error) => vec![Err(error); count],
    }
}

/// A backend bound in a registry, with its per-connection options.
///
/// Cloning is cheap; clones are the same connection (binding a clone under a second name
/// makes an alias).
#[derive(Clone)]
pub struct Connection {
    backend: Arc<dyn Backend>,
    transaction: bool,
    response_timeout: Option<Duration>,
    /// What the connection is, for `Debug`; never holds credentials.
    label: Arc<str>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend", &self.label)
            .field("transaction", &self.transaction)
            .field("response_timeout", &self.response_timeout)
            .finish()
    }
}

impl Connection {
    /// A connection over any [`Backend`].
    pub fn new<B: Backend>(backend: B) -> Self {
        Self::from_backend(Arc::new(backend), std::any::type_name::<B>())
    }

    /// A connection over a shared backend (for wrappers that keep a handle to it).
    pub fn from_arc(backend: Arc<dyn Backend>) -> Self {
        Self::from_backend(backend, "custom backend")
    }

    pub(crate) fn from_backend(backend: Arc<dyn Backend>, label: &str) -> Self {
        Connection {
            backend,
            transaction: false,
            response_timeout: None,
            label: label.into(),
        }
    }

    /// A connection over a redis-rs multiplexed connection.
    pub fn multiplexed(conn: redis::aio::MultiplexedConnection) -> Self {
        Self::from_backend(Arc::new(Direct(conn)), "MultiplexedConnection")
    }

    /// A connection over a redis-rs connection manager, which reconnects after failures.
    pub fn manager(conn: redis::aio::ConnectionManager) -> Self {
        Self::from_backend(Arc::new(Direct(conn)), "ConnectionManager")
    }

    /// Opens a reconnecting connection ([`redis::aio::ConnectionManager`]) to a
    /// `redis://` URL. Errors name neither the URL nor its credentials.
    ///
    /// redis-rs's own 500 ms response timeout is turned off, so blocking commands and
    /// large batches work; set one with [`with_response_timeout`](Self::with_response_timeout).
    /// (Connections you build yourself and pass to [`multiplexed`](Self::multiplexed) or
    /// [`manager`](Self::manager) keep the settings you gave them.)
    pub async fn open(url: &str) -> Result<Self, Error> {
        let failed = |source| Error::Connection {
            connection: Arc::from("<url>"),
            source,
        };
        let client = redis::Client::open(url).map_err(|e| failed(redact(e)))?;
        let label = format!("ConnectionManager({})", redacted_url(url));
        let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(None);
        let manager = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| failed(redact(e)))?;
        Ok(Self::from_backend(Arc::new(Direct(manager)), &label))
    }

    /// Wraps each batch sent on this connection in MULTI/EXEC (off by default).
    pub fn with_transaction(mut self, on: bool) -> Self {
        self.transaction = on;
        self
    }

    /// Fails a batch that gets no complete answer within `timeout` (none by default), so a
    /// blocking command cannot hang an execute forever.
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// True when batches are wrapped in MULTI/EXEC.
    pub fn is_transaction(&self) -> bool {
        self.transaction
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
            && self.transaction == other.transaction
            && self.response_timeout == other.response_timeout
    }

    pub(crate) async fn send(&self, batch: &Batch) -> Replies {
        let sent = self.backend.send(batch);
        match self.response_timeout {
            None => sent.await,
            Some(limit) => match tokio::time::timeout(limit, sent).await {
                Ok(replies) => replies,
                Err(_) => {
                    let error = RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no complete response within {limit:?}"),
                    ));
                    vec![Err(error); batch.len()]
                }
            },
        }
    }
}

/// A URL with any user name and password replaced by `***`.
fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// A client error without any detail that could echo the URL.
pub(crate) fn redact(error: RedisError) -> RedisError {
    RedisError::from((
        error.kind(),
        "could not open the connection (URL details withheld)",
        format!("{:?}", error.kind()),
    ))
}

tokio::task_local! {
    static SCOPED: Registry;
}

/// Maps connection names to [`Connection`]s.
///
/// There is one process-wide registry ([`Registry::global`]), used by the free functions
/// of this crate, so a function needs no connection argument; and any number of explicit
/// ones, so tests and multi-tenant programs can run side by side against different
/// servers. [`Registry::scope`] makes a registry the current one for a task.
#[derive(Clone, Default)]
pub struct Registry {
    names: Arc<RwLock<HashMap<Arc<str>, Connection>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_map().entries(names.iter()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide registry.
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// The registry of the current [`scope`](Registry::scope), or the global one.
    pub fn current() -> Registry {
        SCOPED
            .try_with(Registry::clone)
            .unwrap_or_else(|_| Registry::global().clone())
    }

    /// Runs `future` with this registry as the current one: standalone pipelined calls and
    /// the free functions (`pipeline()`, `connect()`...) inside it use this registry.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        SCOPED.scope(self.clone(), future).await
    }

    /// Binds the default connection.
    pub fn connect(&self, connection: Connection) -> Result<(), Error> {
        self.connect_named(DEFAULT_CONNECTION, connection)
    }

    /// Binds `name`. Binding the same connection again is fine; binding a different one to
    /// a bound name is [`Error::AlreadyConnected`] (use [`replace`](Registry::replace)).
    pub fn connect_named(&self, name: &str, connection: Connection) -> Result<(), Error> {
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        match names.get(name) {
            Some(bound) if bound.same_as(&connection) => Ok(()),
            Some(_) => Err(Error::AlreadyConnected {
                connection: Arc::from(name),
            }),
            None => {
                names.insert(Arc::from(name), connection);
                Ok(())
            }
        }
    }

    /// Binds `name`, replacing whatever it was bound to; returns the old connection.
    pub fn replace(&self, name: &str, connection: Connection) -> Option<Connection> {
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        names.insert(Arc::from(name), connection)
    }

    /// Unbinds `name`; returns whether it was bound. Unbinding an unknown name is a no-op.
    pub fn disconnect(&self, name: &str) -> bool {
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        names.remove(name).is_some()
    }

    /// Unbinds every name.
    pub fn reset(&self) {
        self.names
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The connection bound to `name`.
    pub fn get(&self, name: &str) -> Option<Connection> {
        let names = self.names.read().unwrap_or_else(PoisonError::into_inner);
        names.get(name).cloned()
    }

    /// A new root pipeline on the default connection of this registry.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline_on(DEFAULT_CONNECTION)
    }

    /// A new root pipeline on connection `name` of this registry. The name is resolved
    /// when the pipeline executes.
    pub fn pipeline_on(&self, name: &str) -> Pipeline {
        static DEFAULT: OnceLock<Arc<str>> = OnceLock::new();
        let name = if name == DEFAULT_CONNECTION {
            Arc::clone(DEFAULT.get_or_init(|| Arc::from(DEFAULT_CONNECTION)))
        } else {
            Arc::from(name)
        };
        Pipeline::new(self.clone(), name)
    }
}
