//! Pipelines: a root that talks to Redis, and nested pipelines that hand their commands
//! and callbacks up to their parent when they finish.
//!
//! Every pipeline of one root writes into one [`Store`]: a command list per connection and
//! one callback list, shared through the root. A nested pipeline that is the innermost one
//! alive (the usual case: a function body) appends straight to the end; its commands stay
//! where they are when it finishes, so nothing is copied or re-encoded per nesting level.
//! The store keeps a stack of the pipelines alive, each owning a contiguous region of every
//! list; a write by an outer pipeline lands at the end of its own region (before the inner
//! ones), and a pipeline that finishes out of order has its region moved to where it
//! finished. So the lists are always in program order.

use std::cell::Cell;
use std::sync::Arc;

use redis::{Cmd, FromRedisValue, Value};

use crate::buffers::{self, Spare};
use crate::callback::{Callback, Stored};
use crate::connection::DEFAULT_CONNECTION;
use crate::deferred::{
    ChunkList, Decoder, Deferred, ReleaseBatch, SlotRef, Slots, Target, TARGET_LISTS,
};
use crate::error::Error;
use crate::name::Name;
use crate::registry::Registry;
use crate::spin::{SpinGuard, SpinMutex};

/// The commands queued for one connection, in program order.
pub(crate) struct Queue {
    pub(crate) connection: Name,
    pub(crate) cmds: Vec<Cmd>,
    pub(crate) targets: Vec<Target>,
    /// Per live pipeline (stack position): where its region of this queue starts.
    starts: Vec<usize>,
}

impl Queue {
    /// Where the region of the live pipeline at stack position `at` ends.
    fn region_end(&self, at: usize) -> usize {
        self.starts.get(at + 1).copied().unwrap_or(self.cmds.len())
    }
}

/// The queues of a root, one per connection, in the order they were opened. The first is
/// kept inline: nearly every root talks to one connection, and a standalone call then
/// allocates no list for it.
#[derive(Default)]
pub(crate) struct Queues {
    first: Option<Queue>,
    more: Vec<Queue>,
}

impl Queues {
    pub(crate) fn len(&self) -> usize {
        self.first.iter().len() + self.more.len()
    }

    /// The one queue, when there is exactly one.
    pub(crate) fn only(&self) -> Option<&Queue> {
        match (&self.first, self.more.is_empty()) {
            (Some(first), true) => Some(first),
            _ => None,
        }
    }

    /// Takes the first queue, all there is when [`only`](Self::only) found one.
    pub(crate) fn take_first(&mut self) -> Option<Queue> {
        self.first.take()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Queue> {
        self.first.iter().chain(&self.more)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Queue> {
        self.first.iter_mut().chain(&mut self.more)
    }

    fn last(&self) -> Option<&Queue> {
        match self.more.last() {
            Some(last) => Some(last),
            None => self.first.as_ref(),
        }
    }

    fn push(&mut self, queue: Queue) {
        match self.first {
            None => self.first = Some(queue),
            Some(_) => self.more.push(queue),
        }
    }
}

impl std::ops::Index<usize> for Queues {
    type Output = Queue;

    fn index(&self, index: usize) -> &Queue {
        match (index, &self.first) {
            (0, Some(first)) => first,
            // Out of bounds like any list's index when there is no such queue.
            (n, _) => &self.more[n.saturating_sub(1)],
        }
    }
}

impl std::ops::IndexMut<usize> for Queues {
    fn index_mut(&mut self, index: usize) -> &mut Queue {
        match (index, &mut self.first) {
            (0, Some(first)) => first,
            (n, _) => &mut self.more[n.saturating_sub(1)],
        }
    }
}

impl IntoIterator for Queues {
    type Item = Queue;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Queue>, std::vec::IntoIter<Queue>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}

thread_local! {
    /// An emptied store, for the next root on this thread.
    static STORES: Cell<Option<Arc<SpinMutex<Store>>>> = const { Cell::new(None) };
    /// Emptied callback lists, for the next root on this thread (see [`buffers`]).
    pub(crate) static CALLBACK_LISTS: Spare<Registered> = const { buffers::spare() };
    /// Emptied lists of pipeline nodes' parents, likewise.
    pub(crate) static PARENT_LISTS: Spare<u32> = const { buffers::spare() };
}

/// A callback and the pipeline that registered it.
pub(crate) struct Registered {
    pub(crate) node: u32,
    pub(crate) callback: Stored,
}

/// A live pipeline of the store: its node and where its region of the callbacks starts.
struct Frame {
    node: u32,
    callbacks_start: usize,
}

/// Everything the pipelines of one root have queued.
#[derive(Default)]
pub(crate) struct Store {
    queues: Queues,
    callbacks: Vec<Registered>,
    /// Commands refused where they were queued (see [`Pipeline::query_with`]), with the
    /// node that queued each: the execute is refused with them.
    rejected: Vec<(u32, Error)>,
    /// The parent of every pipeline node ever created under this root (the root is 0);
    /// empty while the root has had no child.
    parents: Vec<u32>,
    frames: Vec<Frame>,
    slots: Slots,
}

/// What an execute takes from its root's store.
pub(crate) struct Queued {
    pub(crate) queues: Queues,
    pub(crate) callbacks: Vec<Registered>,
    /// See [`Store::rejected`].
    pub(crate) rejected: Vec<(u32, Error)>,
    /// See [`Store::parents`].
    pub(crate) parents: Vec<u32>,
    /// The chunks the queues' targets name.
    pub(crate) chunks: ChunkList,
}

#[cfg(test)]
impl Queued {
    pub(crate) fn command_count(&self) -> usize {
        self.queues.iter().map(|q| q.cmds.len()).sum()
    }
}

/// The first capacity of a connection's command list when no spare one is kept (many roots
/// queueing at once, such as concurrent standalone calls): 8 commands take 576 bytes,
/// within the allocator's fast per-thread cache, where 16 took 1,152 and went to its
/// slower bins.
const QUEUE_START: usize = 8;

/// The root's node.
pub(crate) const ROOT: u32 = 0;

impl Store {
    /// The one queue, when everything queued goes to one connection and nothing was
    /// refused where it was queued: the usual execute.
    #[inline]
    pub(crate) fn only_queue(&self) -> Option<&Queue> {
        if self.rejected.is_empty() {
            self.queues.only()
        } else {
            None
        }
    }

    /// The number of commands queued.
    pub(crate) fn command_count(&self) -> usize {
        self.queues.iter().map(|q| q.cmds.len()).sum()
    }

    /// Takes the first queue (see [`Queues::take_first`]).
    #[inline]
    pub(crate) fn take_first_queue(&mut self) -> Option<Queue> {
        self.queues.take_first()
    }

    /// Takes the callbacks, in program order.
    #[inline]
    pub(crate) fn take_callbacks(&mut self) -> Vec<Registered> {
        std::mem::take(&mut self.callbacks)
    }

    /// Takes the parents of the pipeline nodes.
    #[inline]
    pub(crate) fn take_parents(&mut self) -> Vec<u32> {
        std::mem::take(&mut self.parents)
    }

    /// Takes the chunks the queues' targets name (no slot is claimed after this).
    #[inline]
    pub(crate) fn take_chunks(&mut self) -> ChunkList {
        self.slots.take_chunks()
    }

    /// Takes everything queued.
    pub(crate) fn take_queued(&mut self) -> Queued {
        Queued {
            queues: std::mem::take(&mut self.queues),
            callbacks: self.take_callbacks(),
            rejected: std::mem::take(&mut self.rejected),
            parents: self.take_parents(),
            chunks: self.take_chunks(),
        }
    }

    /// Nothing queued is left: every list was taken.
    fn is_taken(&self) -> bool {
        self.queues.len() == 0
            && self.callbacks.is_empty()
            && self.rejected.is_empty()
            && self.parents.is_empty()
            && !self.slots.has_chunks()
    }

    /// An empty store. The root's frame, parent entry and region starts are only written
    /// when the first child opens, so a root without children (a standalone call)
    /// allocates none of them; until then every lookup of them falls back to the root.
    fn new() -> Self {
        Store::default()
    }

    /// A new live pipeline nested in `parent`; returns its node.
    fn open(&mut self, parent: u32) -> u32 {
        if self.frames.is_empty() {
            if self.parents.capacity() == 0 {
                self.parents = buffers::take(&PARENT_LISTS);
            }
            self.parents.push(ROOT);
            self.frames.push(Frame {
                node: ROOT,
                callbacks_start: 0,
            });
            for queue in self.queues.iter_mut() {
                queue.starts.push(0);
            }
        }
        let node = self.parents.len() as u32;
        self.parents.push(parent);
        self.frames.push(Frame {
            node,
            callbacks_start: self.callbacks.len(),
        });
        for queue in self.queues.iter_mut() {
            queue.starts.push(queue.cmds.len());
        }
        node
    }

    /// The stack position of a live node (searched from the top, where it nearly always is).
    #[inline]
    fn position(&self, node: u32) -> usize {
        self.frames
            .iter()
            .rposition(|f| f.node == node)
            .unwrap_or(0)
    }

    /// The queue of `connection`: nearly always the one opened last (usually the only
    /// one), under the same name (see [`Name::is`]).
    #[inline]
    fn queue(&mut self, connection: &Name) -> &mut Queue {
        let opened_last = match self.queues.last() {
            Some(last) => last.connection.is(connection),
            None => false,
        };
        let index = if opened_last {
            self.queues.len() - 1
        } else {
            self.find_or_add_queue(connection)
        };
        &mut self.queues[index]
    }

    #[cold]
    fn find_or_add_queue(&mut self, connection: &Name) -> usize {
        let found = self.queues.iter().position(|q| q.connection == *connection);
        match found {
            Some(index) => index,
            None => {
                self.queues.push(Queue {
                    connection: connection.clone(),
                    // Room for a typical function's commands before the first regrowth.
                    cmds: buffers::cmds(QUEUE_START),
                    targets: buffers::take_with_room(&TARGET_LISTS, QUEUE_START),
                    starts: vec![0; self.frames.len()],
                });
                self.queues.len() - 1
            }
        }
    }

    #[inline(always)]
    fn push_command(&mut self, node: u32, connection: &Name, cmd: Cmd, target: Target) {
        let at = self.position(node);
        let queue = self.queue(connection);
        match queue.starts.get(at + 1).copied() {
            None => {
                queue.cmds.push(cmd);
                queue.targets.push(target);
            }
            Some(end) => {
                queue.cmds.insert(end, cmd);
                queue.targets.insert(end, target);
                for start in &mut queue.starts[at + 1..] {
                    *start += 1;
                }
            }
        }
    }

    fn push_callback(&mut self, node: u32, callback: Stored) {
        if self.callbacks.capacity() == 0 {
            self.callbacks = buffers::take(&CALLBACK_LISTS);
        }
        let at = self.position(node);
        let registered = Registered { node, callback };
        match self.frames.get(at + 1).map(|f| f.callbacks_start) {
            None => self.callbacks.push(registered),
            Some(end) => {
                self.callbacks.insert(end, registered);
                for frame in &mut self.frames[at + 1..] {
                    frame.callbacks_start += 1;
                }
            }
        }
    }

    /// Registers `combine` as a callback of node `node`; returns the deferred it fills.
    fn combine_step<T: Send + Sync + 'static, E: Into<Error> + 'static>(
        &mut self,
        node: u32,
        combine: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Deferred<T> {
        let slot = self.slots.callback::<T>();
        let combine = Combine {
            slot: slot.slot.clone(),
            combine,
        };
        self.push_callback(node, Stored::new(combine));
        slot.deferred()
    }

    /// Closes a live node that finished: its region joins the end of its parent's region.
    fn finish(&mut self, node: u32) {
        let at = self.position(node);
        let parent = self.parents[node as usize];
        let parent_at = self.position(parent);
        if at != parent_at + 1 {
            // Out of order (a sibling created after it is still alive): move the region
            // down to the end of the parent's.
            let to = parent_at + 1;
            for queue in self.queues.iter_mut() {
                let end = queue.region_end(at);
                let moved = end - queue.starts[at];
                queue.cmds[queue.starts[to]..end].rotate_right(moved);
                queue.targets[queue.starts[to]..end].rotate_right(moved);
                for start in &mut queue.starts[to..at] {
                    *start += moved;
                }
            }
            let end = self.callbacks_end(at);
            let moved = end - self.frames[at].callbacks_start;
            let from = self.frames[to].callbacks_start;
            self.callbacks[from..end].rotate_right(moved);
            for frame in &mut self.frames[to..at] {
                frame.callbacks_start += moved;
            }
        }
        self.close(at);
    }

    /// Closes a live node that was dropped unfinished: its region is taken out, its
    /// commands' slots resolve to `error` at once (that runs no user code), and its
    /// callbacks are returned, to be skipped by the caller once the store is unlocked
    /// (dropping a callback may drop anything it captured, a pipeline included).
    fn discard(&mut self, node: u32, error: &Error) -> Vec<Registered> {
        let at = self.position(node);
        for queue in self.queues.iter_mut() {
            let end = queue.region_end(at);
            let range = queue.starts[at]..end;
            let removed = range.len();
            queue.cmds.drain(range.clone());
            self.slots.fail(&mut queue.targets[range.clone()], error);
            queue.targets.drain(range);
            for start in &mut queue.starts[at + 1..] {
                *start -= removed;
            }
        }
        if !self.rejected.is_empty() {
            let parents = &self.parents;
            self.rejected
                .retain(|(queued_by, _)| !descends_from(parents, *queued_by, node));
        }
        let end = self.callbacks_end(at);
        let range = self.frames[at].callbacks_start..end;
        let removed = range.len();
        let callbacks = self.callbacks.drain(range).collect();
        for frame in &mut self.frames[at + 1..] {
            frame.callbacks_start -= removed;
        }
        self.close(at);
        callbacks
    }

    fn close(&mut self, at: usize) {
        self.frames.remove(at);
        for queue in self.queues.iter_mut() {
            queue.starts.remove(at);
        }
    }

    /// Where the callbacks of the live pipeline at stack position `at` end.
    fn callbacks_end(&self, at: usize) -> usize {
        self.frames
            .get(at + 1)
            .map_or(self.callbacks.len(), |f| f.callbacks_start)
    }

    /// Commands in the region of a live node (its own and its finished children's).
    fn region_len(&self, node: u32) -> usize {
        let at = self.position(node);
        self.queues
            .iter()
            .map(|q| q.region_end(at) - q.starts.get(at).copied().unwrap_or(0))
            .sum()
    }

    fn region_callbacks(&self, node: u32) -> usize {
        let at = self.position(node);
        let end = self.callbacks_end(at);
        end - self.frames.get(at).map_or(0, |f| f.callbacks_start)
    }
}

/// A user's `on_execute` callback: nothing to resolve when it is skipped.
struct OnExecute<F>(F);

impl<F: FnOnce() + Send> Callback for OnExecute<F> {
    fn run(self) {
        (self.0)()
    }
    fn skip(self, _: Error) {}
}

/// A combine step that fills a deferred.
struct Combine<T, F> {
    slot: SlotRef<T>,
    combine: F,
}

impl<T: Send + Sync, E: Into<Error>, F: FnOnce() -> Result<T, E> + Send> Callback
    for Combine<T, F>
{
    fn run(self) {
        let Combine { slot, combine } = self;
        // Resolves the slot if the combine step panics (a no-op once it is filled).
        let unwinding = Cancelling(&slot);
        let outcome = combine().map_err(Into::into);
        // Returned normally: nothing to cancel.
        std::mem::forget(unwinding);
        slot.set(outcome);
    }
    fn skip(self, error: Error) {
        self.slot.set(Err(error));
    }
}

/// Resolves a callback's slot to `Cancelled` when dropped (on unwind) before it was filled.
struct Cancelling<'a, T>(&'a SlotRef<T>);

impl<T> Drop for Cancelling<'_, T> {
    fn drop(&mut self) {
        self.0
            .set(Err(Error::Cancelled("its combine step panicked".into())));
    }
}

thread_local! {
    /// Set while the callbacks of an execute run on this thread.
    static IN_CALLBACKS: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running callbacks until dropped (also on unwind). Meanwhile the
/// deferreds dropped on it (those the combine steps read) are given back in batches.
pub(crate) struct CallbackGuard {
    _releases: ReleaseBatch,
}

impl CallbackGuard {
    pub(crate) fn enter() -> Self {
        IN_CALLBACKS.with(|c| c.set(true));
        CallbackGuard {
            _releases: ReleaseBatch::open(),
        }
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
        "a network call (creating or executing a pipeline, or a standalone pipelined call) \
         was made inside a combine step or on_execute callback; callbacks run after the \
         round trip and must not do network I/O: queue the command in the function body",
    )
}

/// A queue of Redis commands and callbacks.
///
/// A pipeline you own is a *root*: [`execute`](Pipeline::execute) sends everything it
/// queued, one batch per connection, and then runs its callbacks. A pipeline nested in a
/// parent ([`Nested`](crate::Nested)) hands its queue to the parent when it finishes; only the root talks
/// to Redis.
///
/// Every command method returns a [`Deferred`] at once. The reply type is chosen by the
/// caller, as in redis-rs: `let n: Deferred<i64> = pipe.incr("k", 1);`.
///
/// A pipeline is `Send` and `Sync` (build and execute it inside `tokio::spawn`, hold a
/// `&Pipeline` across an `.await`). It is meant for one task at a time: commands queued
/// through shared references from several threads at once go in the order they arrive.
pub struct Pipeline {
    /// Shared by every pipeline of one root.
    store: Held<Arc<SpinMutex<Store>>>,
    /// This pipeline's node in the store.
    node: u32,
    connection: Name,
    registry: Held<Registry>,
    /// Set when the pipeline was created inside a callback; executing it is an error.
    created_in_callback: bool,
    /// A nested pipeline that is still alive: dropping it discards its region.
    open: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = self.store();
        f.debug_struct("Pipeline")
            .field("connection", &self.connection)
            .field("commands", &store.region_len(self.node))
            .field("callbacks", &store.region_callbacks(self.node))
            .finish()
    }
}

impl Pipeline {
    fn new(registry: Held<Registry>, connection: Name) -> Self {
        Pipeline {
            store: Held::owned(
                STORES
                    .try_with(|spare| spare.take())
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Arc::new(SpinMutex::new(Store::new()))),
            ),
            node: ROOT,
            connection,
            registry,
            created_in_callback: in_callbacks(),
            open: false,
        }
    }

    #[inline]
    fn store(&self) -> SpinGuard<'_, Store> {
        // The store is only ever locked for short, non-panicking updates.
        self.store.lock()
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
        self.store().region_len(self.node)
    }

    /// True when no command is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues any command; its reply is converted to `T` when the pipeline executes.
    /// Every Redis command is reachable this way, but for the few that would leave a
    /// shared connection out of step or changed for every caller, which are refused (see
    /// [`query_with`](Self::query_with)).
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
    ///
    /// Two kinds of commands are refused. After `SUBSCRIBE` (and the other Pub/Sub
    /// subscriptions), `MONITOR`, `SYNC`, `PSYNC` or `CLIENT REPLY` the connection no
    /// longer answers one reply per command, so every later reply on it, other callers'
    /// included, would go to the wrong command. `SELECT`, `RESET`, `AUTH`, `HELLO`,
    /// `MULTI`, `EXEC`, `DISCARD`, `WATCH` and `UNWATCH` change the state of a connection
    /// that other executes share (its database, user, protocol, transaction or watched
    /// keys). A refused command is not queued, its deferred holds
    /// [`Error::InvalidOperation`] at once, and the execute is refused with it (nothing of
    /// the batch is sent, as for a connection name that is not bound), unless the function
    /// that queued it stopped before finishing and its commands were discarded anyway. The
    /// database goes in the connection's URL, MULTI/EXEC is
    /// [`Connection::with_transaction`](crate::Connection::with_transaction), and the rest
    /// needs a redis-rs connection of its own.
    pub fn query_with<T: Send + Sync + 'static>(
        &self,
        cmd: Cmd,
        decode: fn(Value) -> Result<T, redis::RedisError>,
    ) -> Deferred<T> {
        match refused_command(&cmd) {
            None => self.queue_with(cmd, decode),
            Some((name, why)) => self.reject(name, why, decode),
        }
    }

    /// Resolves a new slot to the refusal of command `name` (for reason `why`) and
    /// records it for the execute; nothing is queued.
    #[cold]
    fn reject<T: Send + Sync + 'static>(
        &self,
        name: &str,
        why: &str,
        decode: fn(Value) -> Result<T, redis::RedisError>,
    ) -> Deferred<T> {
        let error = Error::invalid_operation(format!("{name} cannot be sent in a pipeline: {why}"));
        let mut store = self.store();
        let slot = store.slots.command(decode as Decoder<T>);
        slot.slot.set(Err(error.clone()));
        store.rejected.push((self.node, error));
        drop(store);
        slot.deferred()
    }

    /// [`query_with`](Self::query_with) for commands known to answer one reply each (the
    /// typed command methods).
    #[inline]
    pub(crate) fn queue_with<T: Send + Sync + 'static>(
        &self,
        cmd: Cmd,
        decode: fn(Value) -> Result<T, redis::RedisError>,
    ) -> Deferred<T> {
        let mut store = self.store();
        let slot = store.slots.command(decode as Decoder<T>);
        // SAFETY: the one target of this new slot; its deferred only reads it.
        let target = unsafe { Target::new(&slot, self.node) };
        store.push_command(self.node, &self.connection, cmd, target);
        slot.deferred()
    }

    /// Registers a callback to run after execute, synchronously and in program order,
    /// after every command deferred has been filled; it is skipped when a command queued
    /// in this pipeline (or in a child it absorbed) failed. It must not do network I/O:
    /// creating or executing a pipeline while callbacks run is an error.
    pub fn on_execute(&self, callback: impl FnOnce() + Send + 'static) {
        self.store()
            .push_callback(self.node, Stored::new(OnExecute(callback)));
    }

    /// A pipeline nested in this one (see [`Nested`](crate::Nested)), on `connection` or
    /// this one's.
    ///
    /// # Safety
    /// The child borrows this pipeline's counts of the store and the registry (four locked
    /// instructions fewer per nested call): it must be dropped before this pipeline is.
    pub(crate) unsafe fn child(&self, connection: Option<&str>) -> Pipeline {
        let connection = match connection {
            Some(name) if name != &*self.connection => Name::new(name),
            _ => self.connection.clone(),
        };
        let node = self.store().open(self.node);
        // SAFETY: the caller drops the child first.
        let (store, registry) = unsafe { (self.store.borrow(), self.registry.borrow()) };
        Pipeline {
            store,
            node,
            connection,
            registry,
            created_in_callback: in_callbacks(),
            open: true,
        }
    }

    /// Registers the combine step of a nested pipeline; returns the deferred it fills.
    pub(crate) fn combine_step<T: Send + Sync + 'static, E: Into<Error> + 'static>(
        &self,
        combine: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Deferred<T> {
        self.store().combine_step(self.node, combine)
    }

    /// Registers the combine step of a nested pipeline and finishes it, under one lock.
    pub(crate) fn finish_with<T: Send + Sync + 'static, E: Into<Error> + 'static>(
        mut self,
        combine: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Deferred<T> {
        self.open = false;
        let mut store = self.store();
        let deferred = store.combine_step(self.node, combine);
        store.finish(self.node);
        deferred
    }

    /// Finishes a nested pipeline: its region stays where it is in the root's lists.
    pub(crate) fn finish(mut self) {
        self.open = false;
        self.store().finish(self.node);
    }

    /// Takes this root apart for its execute: `take` is given the registry, the store,
    /// to take what is queued out of field by field (nothing is gathered into a value of
    /// its own that would be copied on the way), and whether this root was made inside a
    /// callback. Whatever `take` leaves is dropped, and the store, emptied, is kept for
    /// the next root on this thread. `take` runs with the store locked: it must not run
    /// user code.
    pub(crate) fn take_apart<R>(self, take: impl FnOnce(&Registry, &mut Store, bool) -> R) -> R {
        let mut store = self.store();
        let taken = take(&self.registry, &mut store, self.created_in_callback);
        // Dropped once the store is released (dropping callbacks resolves their deferreds).
        let left = (!store.is_taken()).then(|| store.take_queued());
        // What is left is the stack of live pipelines (the root's frame, if it had
        // children): emptied, keeping its room, the store is as new. Dropping the store in
        // place and writing a new one would run the drop code of every field, all of it
        // cold after the previous call's wait for its reply.
        store.frames.clear();
        drop(store);
        drop(left);
        // The root's counts move out rather than being copied and given back (four locked
        // instructions per standalone call): nothing is left for its `Drop` to do, as a
        // root is never an open nested pipeline.
        debug_assert!(!self.open, "only a root is executed");
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: each field is read out once, and `this` is neither used nor dropped
        // afterwards, so every count moves exactly once (the connection's and the
        // registry's are given back here).
        let (kept, registry, connection) = unsafe {
            (
                std::ptr::read(&this.store),
                std::ptr::read(&this.registry),
                std::ptr::read(&this.connection),
            )
        };
        drop((connection, registry));
        let kept = kept.into_owned();
        // Kept for the next root on this thread, when no other pipeline shares it.
        if Arc::strong_count(&kept) == 1 {
            let _ = STORES.try_with(|spare| spare.set(Some(kept)));
        }
        taken
    }

    /// The registry, everything queued, and whether this root was made inside a callback.
    #[cfg(test)]
    pub(crate) fn into_parts(self) -> (Registry, Queued, bool) {
        self.take_apart(|registry, store, in_callback| {
            (registry.clone(), store.take_queued(), in_callback)
        })
    }
}

/// A handle (an `Arc`, a [`Registry`]) that a root owns and the pipelines nested in it
/// borrow. A nested pipeline lives within its parent's borrow (see
/// [`Nested`](crate::Nested)), so it holds a copy of the parent's handle that owns no
/// count and is never given back.
struct Held<T> {
    handle: std::mem::ManuallyDrop<T>,
    owned: bool,
}

impl<T> Held<T> {
    fn owned(handle: T) -> Self {
        Held {
            handle: std::mem::ManuallyDrop::new(handle),
            owned: true,
        }
    }

    /// A copy of this handle that owns no count.
    ///
    /// # Safety
    /// `T` is a pointer to shared data that stays where it is (an `Arc`), and the copy is
    /// dropped before this handle's count is given back.
    unsafe fn borrow(&self) -> Self {
        Held {
            // SAFETY: a bit copy of a pointer whose count `self` keeps (the caller's
            // contract); it is never dropped as a `T`.
            handle: std::mem::ManuallyDrop::new(unsafe { std::ptr::read(&*self.handle) }),
            owned: false,
        }
    }

    /// The handle, with a count of its own: moved out of an owned one (a root's), a new
    /// one for a borrowed copy.
    fn into_owned(self) -> T
    where
        T: Clone,
    {
        if !self.owned {
            return T::clone(&self.handle);
        }
        let mut this = std::mem::ManuallyDrop::new(self);
        // SAFETY: taken once; `this` is not dropped, so the count moves out exactly once.
        unsafe { std::mem::ManuallyDrop::take(&mut this.handle) }
    }
}

impl Held<Registry> {
    /// The process-wide registry, held without a count.
    fn process_wide() -> Self {
        Held {
            // SAFETY: a bit copy of the process-wide registry's handle, which owns no count
            // and is never dropped as a `Registry` (`owned` is false): the `static` it is
            // copied from is never dropped, so its count keeps the registry for good.
            handle: std::mem::ManuallyDrop::new(unsafe { std::ptr::read(Registry::global()) }),
            owned: false,
        }
    }
}

impl<T> std::ops::Deref for Held<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.handle
    }
}

impl<T> Drop for Held<T> {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: an owned handle is dropped once, here.
            unsafe { std::mem::ManuallyDrop::drop(&mut self.handle) }
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if self.open {
            let error = Error::Cancelled(
                "the function that queued it stopped before finishing (an early return, `?` \
                 or a panic), so its commands were discarded unsent"
                    .into(),
            );
            let callbacks = self.store().discard(self.node, &error);
            for registered in callbacks {
                registered.callback.skip(error.clone());
            }
        }
    }
}

/// Why a command after which the connection no longer answers one reply per command is
/// refused.
const UNPAIRED: &str = "after it the connection no longer answers one reply per command, \
    so replies would not pair with their commands (other callers' on a shared connection \
    included); send it on a redis-rs connection of its own";

/// Why a command that changes a connection's state is refused.
const SHARED_STATE: &str = "it changes the state of the connection (its database, user, \
    protocol, transaction or watched keys) for every execute that shares it; choose the \
    database in the connection's URL, use Connection::with_transaction for MULTI/EXEC (bound \
    under a second name if only some batches need it), or a redis-rs connection of its own";

/// Commands a pipeline must not send, and why (`CLIENT REPLY` is checked apart).
const REFUSED: [(&str, &str); 18] = [
    ("SUBSCRIBE", UNPAIRED),
    ("PSUBSCRIBE", UNPAIRED),
    ("SSUBSCRIBE", UNPAIRED),
    ("UNSUBSCRIBE", UNPAIRED),
    ("PUNSUBSCRIBE", UNPAIRED),
    ("SUNSUBSCRIBE", UNPAIRED),
    ("MONITOR", UNPAIRED),
    ("SYNC", UNPAIRED),
    ("PSYNC", UNPAIRED),
    ("SELECT", SHARED_STATE),
    ("RESET", SHARED_STATE),
    ("AUTH", SHARED_STATE),
    ("HELLO", SHARED_STATE),
    ("MULTI", SHARED_STATE),
    ("EXEC", SHARED_STATE),
    ("DISCARD", SHARED_STATE),
    ("WATCH", SHARED_STATE),
    ("UNWATCH", SHARED_STATE),
];

/// The name of `cmd` and why it is refused, if it is a command a pipeline must not send:
/// one after which the connection stops answering one reply per command, or one that
/// changes the state of a connection that other executes share.
fn refused_command(cmd: &Cmd) -> Option<(&'static str, &'static str)> {
    let mut args = cmd.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => bytes,
        _ => &[],
    });
    let name = args.next()?;
    if name.eq_ignore_ascii_case(b"CLIENT") {
        let reply = args.next()?.eq_ignore_ascii_case(b"REPLY");
        return reply.then_some(("CLIENT REPLY", UNPAIRED));
    }
    REFUSED
        .iter()
        .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(name))
        .copied()
}

/// True when pipeline node `node` is `ancestor` or nested in it.
fn descends_from(parents: &[u32], mut node: u32, ancestor: u32) -> bool {
    loop {
        if node == ancestor {
            return true;
        }
        match parents.get(node as usize) {
            Some(&parent) if node != ROOT => node = parent,
            _ => return false,
        }
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

impl Registry {
    /// A new root pipeline on the default connection of this registry.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline_on(DEFAULT_CONNECTION)
    }

    /// A new root pipeline on connection `name` of this registry. The name is resolved
    /// when the pipeline executes.
    pub fn pipeline_on(&self, name: &str) -> Pipeline {
        self.clone().into_pipeline_on(name)
    }

    /// [`pipeline_on`](Self::pipeline_on) for a registry the caller gives away, so that no
    /// count of it is taken and given back.
    fn into_pipeline_on(self, name: &str) -> Pipeline {
        Pipeline::new(Held::owned(self), Name::new(name))
    }
}

impl Pipeline {
    /// A new root pipeline on connection `name` of the current registry (see
    /// [`Registry::current`]): the scope's, with a count of it, or the process-wide one,
    /// held without a count. That one lives in a `static` and is never dropped; and every
    /// standalone call and pipeline of every thread would otherwise write a count to the
    /// same cache line and back.
    #[inline]
    pub(crate) fn current_pipeline_on(name: &str) -> Pipeline {
        let registry = match Registry::scoped() {
            Some(scoped) => Held::owned(scoped),
            None => Held::process_wide(),
        };
        Pipeline::new(registry, Name::new(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_executed_roots_store_serves_the_next_root_on_the_thread_empty() {
        // A fresh thread: nothing kept yet.
        std::thread::spawn(|| {
            let registry = Registry::new();
            let root = registry.pipeline();
            // SAFETY: finished (and so dropped) before the root is taken apart.
            let nested = unsafe { root.child(None) };
            let _: Deferred<i64> = nested.incr("a", 1);
            nested.finish();
            let _: Deferred<String> = root.get("b");
            root.on_execute(|| {});
            let store = Arc::as_ptr(&root.store);
            let (_, queued, _) = root.into_parts();
            assert_eq!(queued.command_count(), 2);
            assert_eq!(queued.callbacks.len(), 1);

            let next = registry.pipeline();
            assert_eq!(Arc::as_ptr(&next.store), store, "the same allocation");
            let (_, queued, _) = next.into_parts();
            assert_eq!(
                queued.command_count(),
                0,
                "nothing of the first root is left"
            );
            assert!(queued.callbacks.is_empty() && queued.parents.is_empty());
            assert!(queued.chunks.is_empty());

            // A store still shared (as with a nested pipeline alive) is not kept.
            let root = registry.pipeline();
            let shared = root.store.clone();
            let _ = root.into_parts();
            assert_ne!(
                Arc::as_ptr(&registry.pipeline().store),
                Arc::as_ptr(&shared)
            );
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_nested_pipeline_borrows_its_roots_counts_and_gives_none_back() {
        let registry = Registry::new();
        let root = registry.pipeline();
        let registries = registry.handle_count();
        {
            // SAFETY: dropped at the end of this block, before the root.
            let child = unsafe { root.child(None) };
            // SAFETY: as above, within the child's life.
            let grandchild = unsafe { child.child(Some("other")) };
            assert_eq!(Arc::strong_count(&root.store), 1);
            assert_eq!(registry.handle_count(), registries);
            let _: Deferred<i64> = grandchild.incr("a", 1);
            grandchild.finish();
            let _: Deferred<i64> = child.incr("b", 1);
        }
        // The child was dropped open: its region was discarded, and the root's counts
        // are whole.
        assert_eq!(Arc::strong_count(&root.store), 1);
        assert_eq!(registry.handle_count(), registries);
        let _: Deferred<i64> = root.incr("c", 1);
        let (kept, queued, _) = root.into_parts();
        assert_eq!(queued.command_count(), 1);
        assert_eq!(registry.handle_count(), registries);
        drop(kept);
        assert_eq!(registry.handle_count(), registries - 1);
    }

    #[test]
    fn a_root_holds_the_process_wide_registry_without_a_count_and_a_scoped_one_with_one() {
        let root = Pipeline::current_pipeline_on(DEFAULT_CONNECTION);
        assert!(root.registry().is(Registry::global()));
        assert!(
            !root.registry.owned,
            "the process-wide registry is held without a count"
        );
        drop(root);

        let scoped = Registry::new();
        let before = scoped.handle_count();
        let root = scoped.scope_blocking(|| Pipeline::current_pipeline_on("other"));
        assert!(root.registry().is(&scoped) && root.registry.owned);
        assert_eq!(root.connection(), "other");
        assert_eq!(scoped.handle_count(), before + 1, "a count of the scope's");
        drop(root);
        assert_eq!(scoped.handle_count(), before);
    }

    fn queue(name: &str) -> Queue {
        Queue {
            connection: Name::new(name),
            cmds: Vec::new(),
            targets: Vec::new(),
            starts: Vec::new(),
        }
    }

    fn names(queues: &Queues) -> Vec<String> {
        queues.iter().map(|q| q.connection.to_string()).collect()
    }

    #[test]
    fn queues_keep_the_first_inline_and_the_order_they_were_opened_in() {
        let mut queues = Queues::default();
        assert_eq!(queues.len(), 0);
        assert!(queues.last().is_none());
        for name in ["a", "b", "c"] {
            queues.push(queue(name));
            assert_eq!(queues.last().map(|q| &*q.connection), Some(name));
        }
        assert_eq!(queues.len(), 3);
        assert_eq!(names(&queues), ["a", "b", "c"]);
        for (index, name) in ["a", "b", "c"].into_iter().enumerate() {
            assert_eq!(&*queues[index].connection, name);
            queues[index].starts.push(index);
        }
        for queue in queues.iter_mut() {
            queue.starts.push(9);
        }
        let owned: Vec<(String, Vec<usize>)> = queues
            .into_iter()
            .map(|q| (q.connection.to_string(), q.starts))
            .collect();
        assert_eq!(
            owned,
            [
                ("a".to_string(), vec![0, 9]),
                ("b".to_string(), vec![1, 9]),
                ("c".to_string(), vec![2, 9]),
            ]
        );
    }
}
