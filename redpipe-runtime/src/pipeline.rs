//! Pipelines: a root that talks to Redis, and nested pipelines that hand their commands
//! and callbacks up to their parent when they finish.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use redis::{Cmd, FromRedisValue, Value};

use crate::connection::{Registry, DEFAULT_CONNECTION};
use crate::deferred::{not_a_reply, Decoder, Deferred, Fill, Slot};
use crate::error::Error;

/// Commands queued for one connection, in program order. A child's segments are moved
/// into its parent whole, so merging never touches the commands themselves.
pub(crate) struct Segment {
    pub(crate) connection: Arc<str>,
    pub(crate) commands: Vec<Queued>,
}

/// One queued command and the slot its reply fills.
pub(crate) struct Queued {
    pub(crate) cmd: Cmd,
    pub(crate) slot: Arc<dyn Fill>,
}

/// Something to run after a successful execute, or to abort when it fails.
pub(crate) trait Callback: Send {
    fn run(self: Box<Self>);
    fn abort(self: Box<Self>, cause: &Arc<Error>);
}

/// A user's `on_execute` callback: nothing to abort.
struct OnExecute<F>(F);

impl<F: FnOnce() + Send> Callback for OnExecute<F> {
    fn run(self: Box<Self>) {
        (self.0)()
    }
    fn abort(self: Box<Self>, _: &Arc<Error>) {}
}

/// A combine step that fills a deferred.
struct Combine<T, F> {
    slot: Arc<Slot<T>>,
    combine: F,
}

impl<T: Send + Sync, E: Into<Error>, F: FnOnce() -> Result<T, E> + Send> Callback
    for Combine<T, F>
{
    fn run(self: Box<Self>) {
        let Combine { slot, combine } = *self;
        slot.set(combine().map_err(Into::into));
    }
    fn abort(self: Box<Self>, cause: &Arc<Error>) {
        self.slot.set(Err(Error::Aborted(Arc::clone(cause))));
    }
}

/// The initial capacity of a segment's command list.
const SEGMENT_CAPACITY: usize = 8;

/// Everything a pipeline has queued.
#[derive(Default)]
pub(crate) struct Buffer {
    pub(crate) segments: Vec<Segment>,
    pub(crate) callbacks: Vec<Box<dyn Callback>>,
}

impl Buffer {
    fn push(&mut self, connection: &Arc<str>, queued: Queued) {
        match self.segments.last_mut() {
            Some(last) if same_name(&last.connection, connection) => last.commands.push(queued),
            _ => {
                // Room for a few commands at once: most functions queue more than one, and
                // growing from one would reallocate at the second.
                let mut commands = Vec::with_capacity(SEGMENT_CAPACITY);
                commands.push(queued);
                self.segments.push(Segment {
                    connection: Arc::clone(connection),
                    commands,
                });
            }
        }
    }

    /// Appends a finished child's queue at this point of the program.
    fn absorb(&mut self, child: Buffer) {
        append(&mut self.segments, child.segments);
        append(&mut self.callbacks, child.callbacks);
    }

    pub(crate) fn command_count(&self) -> usize {
        self.segments.iter().map(|s| s.commands.len()).sum()
    }
}

fn append<T>(to: &mut Vec<T>, mut from: Vec<T>) {
    if to.is_empty() {
        *to = from;
    } else {
        to.append(&mut from);
    }
}

pub(crate) fn same_name(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

thread_local! {
    /// Set while the callbacks of an execute run on this thread.
    static IN_CALLBACKS: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running callbacks until dropped (also on unwind).
pub(crate) struct CallbackGuard(());

impl CallbackGuard {
    pub(crate) fn enter() -> Self {
        IN_CALLBACKS.with(|c| c.set(true));
        CallbackGuard(())
    }
}

impl Drop for CallbackGuard {
    fn drop(&mut self) {
        IN_CALLBACKS.with(|c| c.set(false));
    }
}

pub(crate) fn in_callbacks() -> bool {
    IN_CALLBACKS.with(Cell::get)
}

pub(crate) fn network_in_callback() -> Error {
    Error::invalid_operation(
        "a pipeline was created or executed inside an on_execute callback; callbacks run after \
         the round trip and must not do network I/O: queue the command in the function body",
    )
}

/// A queue of Redis commands and callbacks.
///
/// A pipeline you own is a *root*: [`execute`](Pipeline::execute) sends everything it
/// queued, one batch per connection, and then runs its callbacks. A pipeline nested in a
/// parent ([`Nested`]) hands its queue to the parent when it finishes; only the root talks
/// to Redis.
///
/// Every command method returns a [`Deferred`] at once. The reply type is chosen by the
/// caller, as in redis-rs: `let n: Deferred<i64> = pipe.incr("k", 1);`.
///
/// A pipeline is `Send` (build and execute it inside `tokio::spawn`) but not `Sync`: it is
/// used through shared references by one task at a time.
pub struct Pipeline {
    connection: Arc<str>,
    registry: Registry,
    buffer: RefCell<Buffer>,
    /// Set when the pipeline was created inside a callback; executing it is an error.
    created_in_callback: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let buffer = self.buffer.borrow();
        f.debug_struct("Pipeline")
            .field("connection", &self.connection)
            .field("commands", &buffer.command_count())
            .field("callbacks", &buffer.callbacks.len())
            .finish()
    }
}

impl Pipeline {
    pub(crate) fn new(registry: Registry, connection: Arc<str>) -> Self {
        Pipeline {
            connection,
            registry,
            buffer: RefCell::new(Buffer::default()),
            created_in_callback: in_callbacks(),
        }
    }

    /// The name of the connection this pipeline's own commands go to.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// The registry that resolves this pipeline's connection names.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// How many commands are queued here (including finished children's).
    pub fn len(&self) -> usize {
        self.buffer.borrow().command_count()
    }

    /// True when no command is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues any command; its reply is converted to `T` when the pipeline executes.
    /// Every Redis command is reachable this way.
    ///
    /// ```no_run
    /// # fn demo(pipe: &redpipe_runtime::Pipeline) {
    /// let len: redpipe_runtime::Deferred<usize> = pipe.query(redis::cmd("STRLEN").arg("k"));
    /// # }
    /// ```
    pub fn query<T: FromRedisValue + Send + Sync + 'static>(
        &self,
        cmd: impl IntoCmd,
    ) -> Deferred<T> {
        self.query_with(cmd.into_cmd(), decode_reply::<T>)
    }

    /// Queues a command whose reply is converted by `decode`; a decode error becomes the
    /// deferred's [`Error::Command`].
    pub fn query_with<T: Send + Sync + 'static>(
        &self,
        cmd: Cmd,
        decode: fn(Value) -> Result<T, redis::RedisError>,
    ) -> Deferred<T> {
        let slot: Arc<Slot<T>> = Arc::new(Slot::new(decode as Decoder<T>));
        self.buffer.borrow_mut().push(
            &self.connection,
            Queued {
                cmd,
                slot: Arc::clone(&slot) as Arc<dyn Fill>,
            },
        );
        Deferred::from_slot(slot)
    }

    /// Registers a callback to run after a fully successful execute, synchronously and in
    /// program order, after every command deferred has been filled. It must not do network
    /// I/O: creating or executing a pipeline while callbacks run is an error.
    pub fn on_execute(&self, callback: impl FnOnce() + Send + 'static) {
        self.push_callback(Box::new(OnExecute(callback)));
    }

    fn push_callback(&self, callback: Box<dyn Callback>) {
        self.buffer.borrow_mut().callbacks.push(callback);
    }

    /// A pipeline nested in this one, on the same connection. See [`Nested`].
    pub fn nested(&self) -> Nested<'_> {
        Nested::new(self)
    }

    /// A pipeline nested in this one whose commands go to `connection`.
    pub fn nested_on(&self, connection: &str) -> Nested<'_> {
        Nested::on(self, connection)
    }

    fn child(&self, connection: Option<&str>) -> Pipeline {
        let connection = match connection {
            Some(name) if name != &*self.connection => Arc::from(name),
            _ => Arc::clone(&self.connection),
        };
        Pipeline::new(self.registry.clone(), connection)
    }

    pub(crate) fn take_buffer(&self) -> Buffer {
        std::mem::take(&mut *self.buffer.borrow_mut())
    }

    pub(crate) fn into_parts(self) -> (Registry, Buffer, bool) {
        (
            self.registry,
            self.buffer.into_inner(),
            self.created_in_callback,
        )
    }
}

pub(crate) fn decode_reply<T: FromRedisValue>(reply: Value) -> Result<T, redis::RedisError> {
    T::from_redis_value(reply).map_err(Into::into)
}

/// Anything [`Pipeline::query`] accepts as a command: a `redis::Cmd` (moved), or a
/// reference to one (cloned), so `pipe.query(redis::cmd("GET").arg("k"))` works.
pub trait IntoCmd {
    /// The command to queue.
    fn into_cmd(self) -> Cmd;
}

impl IntoCmd for Cmd {
    fn into_cmd(self) -> Cmd {
        self
    }
}

impl IntoCmd for &Cmd {
    fn into_cmd(self) -> Cmd {
        self.clone()
    }
}

impl IntoCmd for &mut Cmd {
    fn into_cmd(self) -> Cmd {
        self.clone()
    }
}

/// An optional parent pipeline: what a pipelined function's pipeline parameter accepts.
/// Converts from `&pipe`, `Some(&pipe)`, `None` and `&nested`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parent<'a>(Option<&'a Pipeline>);

impl<'a> Parent<'a> {
    /// The parent pipeline, if any.
    pub fn get(self) -> Option<&'a Pipeline> {
        self.0
    }
}

impl<'a> From<&'a Pipeline> for Parent<'a> {
    fn from(pipe: &'a Pipeline) -> Self {
        Parent(Some(pipe))
    }
}

impl<'a> From<Option<&'a Pipeline>> for Parent<'a> {
    fn from(pipe: Option<&'a Pipeline>) -> Self {
        Parent(pipe)
    }
}

impl<'a> From<&'a Nested<'_>> for Parent<'a> {
    fn from(pipe: &'a Nested<'_>) -> Self {
        Parent(Some(&pipe.pipe))
    }
}

/// A pipeline nested in an optional parent: the Python `redpipe.pipeline(pipe)`.
///
/// With a parent, it buffers its own commands and callbacks and, when it finishes,
/// splices them into the parent at that point of the parent's queue. Without one, it is a
/// new root, and the deferred its finish returns owns it: awaiting that deferred executes
/// it. Dropped without finishing (an early return, `?`, a panic), it discards everything it
/// queued: nothing of it reaches Redis and its deferreds stay not ready.
///
/// This is all `#[pipelined]` generates; a function can be written by hand the same way:
///
/// ```no_run
/// use redpipe_runtime::{Deferred, Nested, Parent};
///
/// fn incr_sum<'a>(pipe: impl Into<Parent<'a>>, keys: &[&str]) -> Deferred<i64> {
///     let pipe = Nested::new(pipe);
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(*k, 1)).collect();
///     pipe.resolve(move || counts.iter().map(|c| **c).sum())
/// }
/// # async fn demo() -> redpipe_runtime::Result<()> {
/// let total = incr_sum(None, &["a", "b"]).await?; // standalone: one round trip
/// # Ok(()) }
/// ```
#[must_use = "a nested pipeline discards its commands unless it is finished"]
pub struct Nested<'a> {
    pipe: Pipeline,
    parent: Option<&'a Pipeline>,
}

impl std::fmt::Debug for Nested<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nested")
            .field("pipe", &self.pipe)
            .field("root", &self.parent.is_none())
            .finish()
    }
}

impl<'a> Nested<'a> {
    /// Nested in `parent` on its connection, or a new root on the default connection of
    /// the current registry when there is no parent.
    pub fn new(parent: impl Into<Parent<'a>>) -> Self {
        Self::with_connection(parent.into(), None)
    }

    /// Like [`Nested::new`], but this pipeline's commands go to `connection` whatever the
    /// parent uses.
    pub fn on(parent: impl Into<Parent<'a>>, connection: &str) -> Self {
        Self::with_connection(parent.into(), Some(connection))
    }

    fn with_connection(parent: Parent<'a>, connection: Option<&str>) -> Self {
        let pipe = match parent.0 {
            Some(parent) => parent.child(connection),
            None => Registry::current().pipeline_on(connection.unwrap_or(DEFAULT_CONNECTION)),
        };
        Nested {
            pipe,
            parent: parent.0,
        }
    }

    /// True when there is no parent: finishing yields a deferred that owns this root.
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// Finishes with `combine` as the combine step: it runs as a callback after execute and
    /// its value fills the returned deferred.
    pub fn resolve<T: Send + Sync + 'static>(
        self,
        combine: impl FnOnce() -> T + Send + 'static,
    ) -> Deferred<T> {
        self.resolve_result(move || Ok::<T, Error>(combine()))
    }

    /// Finishes with a fallible combine step; its error fills the deferred.
    pub fn resolve_result<T: Send + Sync + 'static, E: Into<Error> + 'static>(
        self,
        combine: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Deferred<T> {
        let slot: Arc<Slot<T>> = Arc::new(Slot::new(not_a_reply));
        self.pipe.push_callback(Box::new(Combine {
            slot: Arc::clone(&slot),
            combine,
        }));
        self.attach(Deferred::from_slot(slot))
    }

    /// Finishes and returns `deferred` unchanged (for functions whose result is the reply
    /// of one of their commands).
    pub fn forward<T>(self, deferred: Deferred<T>) -> Deferred<T> {
        self.attach(deferred)
    }

    /// Finishes without a result of its own.
    pub fn finish(self) -> Deferred<()> {
        self.resolve(|| ())
    }

    /// Abandons this pipeline: everything it queued is discarded, and the returned deferred
    /// holds `error`.
    pub fn fail<T>(self, error: impl Into<Error>) -> Deferred<T> {
        Deferred::failed(error.into())
    }

    fn attach<T>(self, deferred: Deferred<T>) -> Deferred<T> {
        match self.parent {
            Some(parent) => {
                let queued = self.pipe.take_buffer();
                parent.buffer.borrow_mut().absorb(queued);
                deferred
            }
            None => deferred.owning(self.pipe),
        }
    }
}

impl std::ops::Deref for Nested<'_> {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        &self.pipe
    }
}
