//! Connections: backends that send batches, the per-connection options, and the exchange
//! of one execute's commands for their replies (coalesced with other executes' commands
//! when they overlap in time).

mod coalesce;
pub(crate) mod open;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::Either;
use redis::{Cmd, RedisError, Value};

use crate::deferred::{keep_chunk_list, ChunkTable, Target, Targets, TARGET_LISTS};
use crate::error::Error;
use crate::name::Name;
use coalesce::{Coalescer, Role, Sent};

/// The name of the default connection.
pub const DEFAULT_CONNECTION: &str = "default";

/// A boxed future, as returned by [`Backend::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The commands one send carries to one connection, in program order: those of one
/// execute, or of several overlapping executes written together.
#[derive(Debug)]
pub struct Batch {
    commands: Commands,
    /// The commands a pipeline of `commands` was made with room for (it is kept for the
    /// next batch on the thread that drops this one, see `buffers::pipeline`).
    room: usize,
    /// The connection's response timeout (blocking backends apply it to their socket).
    pub(crate) timeout: Option<Duration>,
}

/// The commands of a batch.
#[derive(Debug)]
enum Commands {
    /// One command outside a transaction, what most standalone calls send: it goes as a
    /// single request, so the pipeline a backend may still ask for is only made then.
    One {
        cmd: Cmd,
        pipeline: OnceLock<Box<redis::Pipeline>>,
    },
    /// Any other batch: several commands, or a transaction.
    Many(redis::Pipeline),
}

impl Batch {
    /// A batch of the commands of `lists` (`count` in all) for `connection`, wrapped in
    /// MULTI/EXEC when `transaction` is set. Each list, once emptied, goes to `emptied`,
    /// in order (to be kept for reuse).
    pub(crate) fn new(
        connection: &Connection,
        count: usize,
        lists: impl IntoIterator<Item = Vec<Cmd>>,
        transaction: bool,
        mut emptied: impl FnMut(Vec<Cmd>),
    ) -> Self {
        let (mut pipeline, room) = crate::buffers::pipeline(count);
        if transaction {
            pipeline.atomic();
        }
        for mut cmds in lists {
            for cmd in cmds.drain(..) {
                pipeline.add_command(cmd);
            }
            emptied(cmds);
        }
        Batch {
            commands: Commands::Many(pipeline),
            room,
            timeout: connection.response_timeout,
        }
    }

    /// A batch of one execute's `cmds` alone (see [`Batch::new`]); the emptied list goes
    /// to `emptied`.
    pub(crate) fn alone(
        connection: &Connection,
        mut cmds: Vec<Cmd>,
        transaction: bool,
        mut emptied: impl FnMut(Vec<Cmd>),
    ) -> Self {
        if cmds.len() == 1 && !transaction {
            if let Some(cmd) = cmds.pop() {
                emptied(cmds);
                return Batch {
                    commands: Commands::One {
                        cmd,
                        pipeline: OnceLock::new(),
                    },
                    room: 1,
                    timeout: connection.response_timeout,
                };
            }
        }
        Self::new(connection, cmds.len(), [cmds], transaction, emptied)
    }

    /// The commands, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Cmd> {
        let (one, many) = match &self.commands {
            Commands::One { cmd, .. } => (Some(cmd), None),
            Commands::Many(pipeline) => (None, Some(pipeline.cmd_iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// The number of commands (not counting MULTI/EXEC).
    pub fn len(&self) -> usize {
        match &self.commands {
            Commands::One { .. } => 1,
            Commands::Many(pipeline) => pipeline.len(),
        }
    }

    /// True when there is no command.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the batch must be wrapped in MULTI/EXEC.
    pub fn is_transaction(&self) -> bool {
        match &self.commands {
            Commands::One { .. } => false,
            Commands::Many(pipeline) => pipeline.is_transaction(),
        }
    }

    /// The batch as a redis-rs pipeline (atomic when it is a transaction), ready for
    /// `ConnectionLike::req_packed_commands`. A batch of one command outside a
    /// transaction makes it on the first call (copying the command): a backend that only
    /// writes the batch's bytes does better with [`packed`](Self::packed).
    pub fn pipeline(&self) -> &redis::Pipeline {
        match &self.commands {
            Commands::Many(pipeline) => pipeline,
            Commands::One { cmd, pipeline } => pipeline.get_or_init(|| {
                let mut one = redis::Pipeline::with_capacity(1);
                one.add_command(cmd.clone());
                Box::new(one)
            }),
        }
    }

    /// The batch encoded as it goes on the wire (inside MULTI/EXEC when it is a
    /// transaction): the same bytes as the pipeline's `get_packed_pipeline`.
    pub fn packed(&self) -> Vec<u8> {
        match &self.commands {
            Commands::One { cmd, .. } => cmd.get_packed_command(),
            Commands::Many(pipeline) => pipeline.get_packed_pipeline(),
        }
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

impl Drop for Batch {
    fn drop(&mut self) {
        if let Commands::Many(pipeline) = &mut self.commands {
            crate::buffers::keep_pipeline(pipeline, self.room);
        }
    }
}

/// What a backend answers for a batch.
#[derive(Debug)]
pub enum Replies {
    /// One reply per command, in the batch's order (a Redis error reply is a
    /// [`Value::ServerError`]).
    Values(Vec<Value>),
    /// Nothing was answered: the whole batch failed (network, I/O, a discarded
    /// transaction).
    Failed(RedisError),
    /// Per command, its reply or the transport error that kept it from being answered
    /// (for backends that talk to several servers, where one can fail alone).
    Each(Vec<Result<Value, RedisError>>),
}

impl From<Result<Vec<Value>, RedisError>> for Replies {
    fn from(replies: Result<Vec<Value>, RedisError>) -> Self {
        match replies {
            Ok(values) => Replies::Values(values),
            Err(error) => Replies::Failed(error),
        }
    }
}

impl Replies {
    /// How many replies there are (`None` for a whole-batch failure).
    pub fn count(&self) -> Option<usize> {
        match self {
            Replies::Values(values) => Some(values.len()),
            Replies::Each(each) => Some(each.len()),
            Replies::Failed(_) => None,
        }
    }

    /// One entry per command (for backends that assemble their answer from several
    /// servers' replies).
    pub fn into_each(self, count: usize) -> Vec<Result<Value, RedisError>> {
        match self {
            Replies::Values(values) => values.into_iter().map(Ok).collect(),
            Replies::Each(each) => each,
            Replies::Failed(error) => vec![Err(error); count],
        }
    }

    /// Checks that there is one reply per command of a batch of `count`; a wrong count
    /// fails the whole batch.
    pub(crate) fn checked(self, count: usize) -> Self {
        match self.count() {
            Some(n) if n != count => Replies::Failed(miscounted(n, count)),
            _ => self,
        }
    }

    /// The replies, to be handed out in consecutive parts (the executes of a coalesced
    /// batch), without copying them.
    pub(crate) fn into_parts(self) -> Parts {
        match self {
            Replies::Values(values) => Parts::Values(values.into_iter()),
            Replies::Each(each) => Parts::Each(each.into_iter()),
            Replies::Failed(error) => Parts::Failed(error),
        }
    }
}

/// The replies of a batch, consumed part by part by [`Outcome::fill_part`].
pub(crate) enum Parts {
    Values(std::vec::IntoIter<Value>),
    Each(std::vec::IntoIter<Result<Value, RedisError>>),
    /// Every part fails with this.
    Failed(RedisError),
}

impl Parts {
    /// Passes over the next `count` replies (those of an execute that was dropped).
    pub(crate) fn skip(&mut self, count: usize) {
        match self {
            Parts::Values(values) => values.by_ref().take(count).for_each(drop),
            Parts::Each(each) => each.by_ref().take(count).for_each(drop),
            Parts::Failed(_) => {}
        }
    }
}

/// Something that can send a [`Batch`] to Redis and return one reply per command.
///
/// A backend that writes the batch's bytes itself takes them from [`Batch::packed`];
/// [`Batch::pipeline`] gives it as a redis-rs pipeline.
///
/// Implemented for redis-rs's multiplexed connection and connection manager, and (with the
/// `cluster` feature) for Redis Cluster, whose backend groups the commands by node itself.
/// Wrap a backend to observe or count batches. A backend that answers with more or fewer
/// replies than commands fails the whole batch (the error names both counts).
pub trait Backend: Send + Sync + 'static {
    /// Sends the batch (in one round trip per server) and returns exactly one entry per
    /// command, in the batch's order.
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies>;
}

/// A backend over a redis-rs async connection: one request per batch.
struct Direct<C>(C);

impl<C: SendPacked> Backend for Direct<C> {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move { request(&mut self.0.clone(), batch).await })
    }
}

/// A redis-rs async connection, sent to through its own pipelined send: its
/// `ConnectionLike::req_packed_commands` boxes that same future, which would make a
/// second allocation per batch inside the backend's own box.
pub(crate) trait SendPacked: Clone + Send + Sync + 'static {
    /// Sends `pipeline` and reads `count` replies after skipping `offset`.
    fn send_packed<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> impl Future<Output = redis::RedisResult<Vec<Value>>> + Send + 'a;

    /// Sends one command and reads its reply (a server error reply is a value).
    fn send_one<'a>(
        &'a mut self,
        cmd: &'a Cmd,
    ) -> impl Future<Output = redis::RedisResult<Value>> + Send + 'a;
}

/// `SendPacked` for redis-rs connections with an inherent `send_packed_commands`.
macro_rules! send_packed_commands {
    ($($connection:ty),*) => {$(
        impl SendPacked for $connection {
            fn send_packed<'a>(
                &'a mut self,
                pipeline: &'a redis::Pipeline,
                offset: usize,
                count: usize,
            ) -> impl Future<Output = redis::RedisResult<Vec<Value>>> + Send + 'a {
                self.send_packed_commands(pipeline, offset, count)
            }

            fn send_one<'a>(
                &'a mut self,
                cmd: &'a Cmd,
            ) -> impl Future<Output = redis::RedisResult<Value>> + Send + 'a {
                self.send_packed_command(cmd)
            }
        }
    )*};
}

send_packed_commands!(
    redis::aio::MultiplexedConnection,
    redis::aio::ConnectionManager
);

/// Sends a batch on a redis-rs connection as one request. A lone command goes as a
/// single request, not a pipeline of one: redis-rs then collects no list of replies in its
/// driver.
pub(crate) async fn request(conn: &mut impl SendPacked, batch: &Batch) -> Replies {
    let count = batch.len();
    let lone = match batch.commands().next() {
        Some(cmd) if count == 1 && !batch.is_transaction() => Some(cmd),
        _ => None,
    };
    let replies = if let Some(cmd) = lone {
        conn.send_one(cmd).await.map(|reply| vec![reply])
    } else if batch.is_transaction() {
        conn.send_packed(batch.pipeline(), count + 1, 1)
            .await
            .and_then(exec_replies)
    } else {
        conn.send_packed(batch.pipeline(), 0, count).await
    };
    Replies::from(replies)
}

/// The error of a batch of `count` commands that got `n` replies.
#[cold]
fn miscounted(n: usize, count: usize) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Client,
        "the backend returned a different number of replies than commands",
        format!("{n} replies for {count} commands"),
    ))
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

/// What one execute's commands on one connection came to: every target is resolved, and
/// these are the failures (one per failed command, one per distinct transport error) and
/// the pipeline nodes whose commands failed.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) failures: Vec<Error>,
    pub(crate) failed_nodes: Vec<u32>,
}

impl Outcome {
    /// Resolves `targets` (the commands `offset..` of `batch`) from `replies`.
    /// Command `n` of the targets is command `offset + n` of the batch (a coalesced batch
    /// holds other executes' commands too); errors number commands within their execute.
    pub(crate) fn fill(
        name: &Name,
        batch: &Batch,
        offset: usize,
        targets: &mut Targets,
        replies: Replies,
    ) -> Self {
        let outcome = match replies.checked(targets.list.len()) {
            Replies::Values(values) => {
                Self::fill_values(name, batch, offset, targets, values.into_iter())
            }
            Replies::Each(each) => Self::fill_each(name, batch, offset, targets, each.into_iter()),
            Replies::Failed(source) => Self::fail_all(name, targets, source),
        };
        Self::keep(targets);
        outcome
    }

    /// Like [`Outcome::fill`], from the next of `parts` (as many replies as targets; the
    /// caller checked the total), but the emptied list and the chunk table are left in
    /// `targets`, for the execute they belong to to keep with [`Outcome::keep`] on its
    /// own thread.
    pub(crate) fn fill_part(
        name: &Name,
        batch: &Batch,
        offset: usize,
        targets: &mut Targets,
        parts: &mut Parts,
    ) -> Self {
        let count = targets.list.len();
        let outcome = match parts {
            Parts::Values(values) => {
                Self::fill_values(name, batch, offset, targets, values.by_ref().take(count))
            }
            Parts::Each(each) => {
                Self::fill_each(name, batch, offset, targets, each.by_ref().take(count))
            }
            Parts::Failed(source) => Self::fail_all(name, targets, source.clone()),
        };
        outcome
    }

    /// Resolves every target to `source`, a transport error of the whole write.
    pub(crate) fn failed(name: &Name, targets: &mut Targets, source: RedisError) -> Self {
        let outcome = Self::fail_all(name, targets, source);
        Self::keep(targets);
        outcome
    }

    /// Every target is resolved: the emptied list serves the next root on this thread.
    pub(crate) fn keep(targets: &mut Targets) {
        crate::buffers::keep(&TARGET_LISTS, std::mem::take(&mut targets.list));
        if let ChunkTable::Own(chunks) = &mut targets.chunks {
            keep_chunk_list(std::mem::take(chunks));
        }
    }

    /// Resolves every target to the batch's transport error.
    #[cold]
    fn fail_all(name: &Name, targets: &mut Targets, source: RedisError) -> Self {
        let error = Error::Connection {
            connection: name.to_arc(),
            source,
        };
        let mut outcome = Outcome::default();
        outcome
            .failed_nodes
            .extend(targets.list.iter().map(|target| target.node));
        targets.fail_all(&error);
        outcome.failures.push(error);
        outcome
    }

    /// Resolves each target from its reply (the usual case: every command was answered).
    fn fill_values(
        name: &Name,
        batch: &Batch,
        offset: usize,
        targets: &mut Targets,
        replies: impl Iterator<Item = Value>,
    ) -> Self {
        let mut outcome = Outcome::default();
        let Targets { list, chunks } = targets;
        for (n, (target, reply)) in list.iter_mut().zip(replies).enumerate() {
            if let Err(source) = chunks.fill(target, reply) {
                let error = command_error(name, batch, offset, n, source);
                outcome.command_failed(chunks, target, error);
            }
        }
        list.clear();
        outcome
    }

    /// Resolves each target from its reply or transport error; a transport error shared by
    /// several commands is reported once. (Only backends that talk to several servers
    /// answer so: out of the usual path's way.)
    #[inline(never)]
    fn fill_each(
        name: &Name,
        batch: &Batch,
        offset: usize,
        targets: &mut Targets,
        replies: impl Iterator<Item = Result<Value, RedisError>>,
    ) -> Self {
        let mut outcome = Outcome::default();
        let mut transport: Vec<String> = Vec::new();
        let Targets { list, chunks } = targets;
        for (n, (target, reply)) in list.iter_mut().zip(replies).enumerate() {
            match reply {
                Ok(value) => {
                    if let Err(source) = chunks.fill(target, value) {
                        let error = command_error(name, batch, offset, n, source);
                        outcome.command_failed(chunks, target, error);
                    }
                }
                Err(source) => {
                    let message = source.to_string();
                    let error = Error::Connection {
                        connection: name.to_arc(),
                        source,
                    };
                    chunks.fail(target, error.clone());
                    outcome.failed_nodes.push(target.node);
                    if !transport.contains(&message) {
                        transport.push(message);
                        outcome.failures.push(error);
                    }
                }
            }
        }
        list.clear();
        outcome
    }

    /// Resolves `target` to `error`, a failure of its command.
    fn command_failed(&mut self, chunks: &ChunkTable, target: &mut Target, error: Error) {
        chunks.fail(target, error.clone());
        self.failures.push(error);
        self.failed_nodes.push(target.node);
    }
}

/// The error of command `n` of an execute (`offset + n` of `batch`), whose reply is an
/// error or does not decode.
#[cold]
fn command_error(name: &Name, batch: &Batch, offset: usize, n: usize, source: RedisError) -> Error {
    Error::Command {
        connection: name.to_arc(),
        command: batch.command_name(offset + n),
        index: n,
        source,
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
    /// The queue of overlapping executes (shared by clones); `None` when turned off.
    coalescer: Option<Arc<Coalescer>>,
    /// The settings it was opened with (by [`Connection::from_client`]).
    settings: Option<Arc<redis::ConnectionInfo>>,
    /// A blocking connection (see [`Connection::open_blocking`]).
    blocking: bool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("backend", &self.label)
            .field("transaction", &self.transaction)
            .field("response_timeout", &self.response_timeout)
            .field("coalescing", &self.is_coalescing())
            .field("blocking", &self.blocking)
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
            coalescer: Some(Arc::new(Coalescer::default())),
            settings: None,
            blocking: false,
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

    /// Opens a connection to a `redis://`, `redis+unix://` or `unix://` URL (`rediss://`
    /// with the `tls` feature).
    ///
    /// It connects once, at once: a refused port, an unknown host or a wrong password
    /// fails here, with the cause and `host:port` (never the URL or its credentials), and
    /// no retries. After that the connection heals: a request that does not complete (a
    /// response timeout, a dropped execute, an I/O error) closes the socket, so that no
    /// late reply is ever taken for another command's answer, and the next execute opens
    /// a new one. There is no response timeout unless you set one with
    /// [`with_response_timeout`](Self::with_response_timeout). `Debug` shows
    /// `redis://[user@]host:port/db` (or the socket path), never a password.
    ///
    /// Connections you build yourself and pass to [`multiplexed`](Self::multiplexed) or
    /// [`manager`](Self::manager) keep the behaviour redis-rs gives them.
    pub async fn open(url: &str) -> Result<Self, Error> {
        let failed = |label: &str, source| Error::Connection {
            connection: Arc::from(label),
            source,
        };
        if !cfg!(feature = "tls") && url.trim_start().starts_with("rediss") {
            return Err(failed(
                "<url>",
                RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "TLS is not enabled",
                    "a rediss:// URL needs redpipe's `tls` cargo feature \
                     (redpipe = { features = [\"tls\"] })"
                        .to_owned(),
                )),
            ));
        }
        let client = redis::Client::open(url).map_err(|e| failed("<url>", redact(e)))?;
        Self::from_client(client).await
    }

    /// Like [`open`](Self::open), from a redis-rs client you built: for TLS with your own
    /// root or client certificates (`redis::Client::build_with_tls`, with the `tls`
    /// feature), or settings a URL cannot carry.
    pub async fn from_client(client: redis::Client) -> Result<Self, Error> {
        let settings = Arc::new(client.get_connection_info().clone());
        let label = open::describe(&settings);
        let backend =
            open::Reconnecting::open(client)
                .await
                .map_err(|source| Error::Connection {
                    connection: Arc::from(label.as_str()),
                    source,
                })?;
        let mut connection = Self::from_backend(Arc::new(backend), &label);
        connection.settings = Some(settings);
        Ok(connection)
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

    /// True for a blocking connection ([`open_blocking`](Self::open_blocking)), the kind
    /// [`Pipeline::execute_blocking`](crate::Pipeline::execute_blocking) needs.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// Marks a connection blocking. Its batches are not coalesced: each thread sends on a
    /// socket of its own from the pool, in parallel, where a coalescing queue would make
    /// threads wait for each other.
    pub(crate) fn into_blocking(mut self) -> Self {
        self.blocking = true;
        self.coalescer = None;
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

    /// Writes the commands of executes that overlap in time on this connection together
    /// (on by default): whichever execute finds the connection idle sends at once; those
    /// arriving while a batch is on its way queue, and a flusher task (spawned on the
    /// runtime of the first of them) writes all of them as one batch once the tasks ready
    /// to run have queued theirs, and hands each its replies; on a current-thread runtime,
    /// which runs tasks only inside its `block_on`, it hands each further round to a
    /// runtime a queued execute is awaited on. A lone caller never waits, and no execute
    /// waits for another one's future to be polled. Batches of a
    /// connection with [`with_transaction`](Self::with_transaction) are never merged (each
    /// stays its own MULTI/EXEC).
    pub fn with_coalescing(mut self, on: bool) -> Self {
        self.coalescer = on.then(|| Arc::new(Coalescer::default()));
        self
    }

    /// True when overlapping executes are written together.
    pub fn is_coalescing(&self) -> bool {
        self.coalescer.is_some()
    }

    /// The same backend (or one opened with the same settings) with the same options.
    pub(crate) fn same_as(&self, other: &Connection) -> bool {
        let same_backend = Arc::ptr_eq(&self.backend, &other.backend)
            || match (&self.settings, &other.settings) {
                (Some(a), Some(b)) => open::same_settings(a, b),
                _ => false,
            };
        same_backend
            && self.transaction == other.transaction
            && self.response_timeout == other.response_timeout
            && self.is_coalescing() == other.is_coalescing()
    }

    /// Sends one execute's commands for this connection (named `name` in that execute's
    /// registry) and resolves their targets. When other executes are sending on the same
    /// connection, the commands wait and go out together with theirs in one write.
    pub(crate) fn exchange<'a>(
        &'a self,
        name: &'a Name,
        cmds: Vec<Cmd>,
        targets: Targets,
    ) -> impl Future<Output = Outcome> + Send + 'a {
        // Not an `async fn`: it would hold its arguments beside the future it awaits. The
        // coalescing queue decides the role on the spot, so that the future holds only
        // what that role needs.
        match &self.coalescer {
            Some(coalescer) if !self.transaction => {
                match coalescer.take_turn(self, name, cmds, targets) {
                    Role::Send(cmds, targets, sent) => {
                        Either::Left(self.send_alone(name, cmds, targets, false, sent))
                    }
                    Role::Wait(waiting) => Either::Right(waiting.outcome(self, name)),
                }
            }
            _ => Either::Left(self.send_alone(name, cmds, targets, self.transaction, None)),
        }
    }

    /// Sends `cmds` as a batch of their own (wrapped in MULTI/EXEC when `transaction`
    /// is set) and resolves their targets. `sent`, if any, marks the end of the send on
    /// the coalescing queue when the future is done or dropped.
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would hold its arguments twice (see below)"
    )]
    pub(crate) fn send_alone<'a>(
        &'a self,
        name: &'a Name,
        cmds: Vec<Cmd>,
        mut targets: Targets,
        transaction: bool,
        sent: Option<Sent<'a>>,
    ) -> impl Future<Output = Outcome> + Send + 'a {
        // Not an `async fn`, which would keep its arguments twice (as arguments and as the
        // locals it moves them to); the batch is still built on the first poll, in place.
        async move {
            let _sent = sent;
            let batch = Batch::alone(self, cmds, transaction, crate::buffers::keep_cmds);
            let replies = self.send(&batch).await;
            Outcome::fill(name, &batch, 0, &mut targets, replies)
        }
    }

    /// Sends a batch, within the response timeout when one is set.
    pub(crate) async fn send(&self, batch: &Batch) -> Replies {
        let span = tracing::debug_span!(
            "redpipe.batch",
            backend = %self.label,
            commands = batch.len(),
            transaction = batch.is_transaction(),
        );
        let sent = tracing::Instrument::instrument(self.backend.send(batch), span);
        match self.response_timeout {
            // A blocking backend applies the timeout to its socket (there may be no tokio
            // timer to use).
            _ if self.blocking => sent.await,
            None => sent.await,
            // Boxed: a tokio timer is large, and every execute's future would carry it.
            Some(limit) => match Box::pin(tokio::time::timeout(limit, sent)).await {
                Ok(replies) => replies,
                Err(_) => Replies::Failed(timed_out(limit)),
            },
        }
    }
}

/// The error of a batch that got no complete answer within the response timeout.
pub(crate) fn timed_out(limit: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no complete response within {limit:?}"),
    ))
}

/// A client error without any detail that could echo the URL.
pub(crate) fn redact(error: RedisError) -> RedisError {
    RedisError::from((
        error.kind(),
        "could not open the connection (URL details withheld)",
        format!("{:?}", error.kind()),
    ))
}

/// A backend for unit tests that never send: it answers no replies.
#[cfg(test)]
pub(crate) struct Unused;

#[cfg(test)]
impl Backend for Unused {
    fn send<'a>(&'a self, _: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(std::future::ready(Replies::Values(Vec::new())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_command_makes_its_pipeline_only_when_asked_and_encodes_the_same() {
        let connection = Connection::new(Unused);
        let mut emptied = Vec::new();
        let one = Batch::alone(&connection, vec![Cmd::incr("k", 1)], false, |list| {
            emptied.push(list)
        });
        assert!(matches!(one.commands, Commands::One { .. }));
        assert_eq!(emptied.len(), 1, "the emptied list is handed back");
        assert!(emptied[0].is_empty());
        assert_eq!(
            (one.len(), one.is_empty(), one.is_transaction()),
            (1, false, false)
        );
        assert_eq!(one.commands().count(), 1);
        assert_eq!(&*one.command_name(0), "INCRBY");
        let mut reference = redis::Pipeline::new();
        reference.add_command(Cmd::incr("k", 1));
        assert_eq!(one.packed(), reference.get_packed_pipeline());
        assert_eq!(
            one.pipeline().get_packed_pipeline(),
            reference.get_packed_pipeline()
        );
        assert_eq!(one.pipeline().len(), 1);

        // Several commands, or one in a transaction, make a pipeline at once.
        let two = Batch::alone(
            &connection,
            vec![Cmd::incr("a", 1), Cmd::incr("b", 1)],
            false,
            drop,
        );
        assert!(matches!(two.commands, Commands::Many(_)));
        assert_eq!(two.len(), 2);
        assert_eq!(&*two.command_name(1), "INCRBY");
        let atomic = Batch::alone(&connection, vec![Cmd::incr("a", 1)], true, drop);
        assert!(matches!(atomic.commands, Commands::Many(_)));
        assert!(atomic.is_transaction());
        assert_eq!(atomic.packed(), atomic.pipeline().get_packed_pipeline());
    }
}
