//! Executing a root pipeline: one batch per connection, sent concurrently; then every
//! command deferred is filled; then callbacks run in program order, each only when every
//! command of its scope succeeded.

use std::any::TypeId;
use std::cell::{RefCell, UnsafeCell};
use std::future::Future;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_util::future::Either;
use parking_lot::Mutex;
use redis::Cmd;
use tracing::Instrument;

use crate::buffers::{self, Spare};
use crate::connection::{Connection, Outcome};
use crate::deferred::{ChunkTable, Owner, OwnerHeader, OwnerRef, Targets};
use crate::error::Error;
use crate::name::Name;
use crate::pipeline::{
    in_callbacks, network_in_callback, CallbackGuard, Pipeline, Queued, Registered, Store,
    CALLBACK_LISTS, PARENT_LISTS, ROOT,
};
use crate::registry::Registry;
use crate::spin::{SpinGuard, SpinMutex};

impl Pipeline {
    /// Sends everything queued (one batch per connection involved, sent concurrently),
    /// fills every command deferred, then runs the callbacks in program order.
    ///
    /// Consumes the pipeline, so nothing can be sent twice. If any command or connection
    /// fails, every backend is still joined and the error lists every failure
    /// ([`Error::Execute`]); each command deferred holds its own outcome. A callback runs
    /// only when every command queued in its scope (the pipeline that registered it and
    /// the children that pipeline absorbed) succeeded; otherwise it is skipped and the
    /// deferred it would have filled holds [`Error::Aborted`].
    ///
    /// Dropping the returned future before it completes (a timeout, `select!`) resolves
    /// every deferred of the batch that has no outcome yet to [`Error::Cancelled`]; the
    /// commands may or may not have run. If a combine step panics, the panic reaches the
    /// caller, and that step's deferred and those of the callbacks after it resolve to
    /// [`Error::Cancelled`].
    pub async fn execute(self) -> Result<(), Error> {
        self.execute_checked(None, false).await
    }

    /// Executes, or, with a `refusal`, resolves everything to it and sends nothing.
    /// `blocking` refuses connections that are not blocking.
    ///
    /// Everything that needs no waiting (taking the store apart, resolving connection
    /// names, a refusal) happens here, before the future exists: the future holds only
    /// what crosses the round trip, so it stays small (it is moved, and boxed for
    /// standalone calls, on every execute).
    pub(crate) fn execute_checked(
        self,
        refusal: Option<Error>,
        blocking: bool,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let mut commands = 0;
        let plan = self.take_apart(|registry, store, created_in_callback| {
            commands = store.command_count();
            let refusal = match refusal {
                None if created_in_callback || in_callbacks() => Some(network_in_callback()),
                other => other,
            };
            prepare(registry, store, refusal, blocking)
        });
        let span = tracing::debug_span!("redpipe.execute", commands, blocking);
        let exchanged = match plan {
            Plan::Lone(one) => Either::Left(Either::Left(Either::Left(exchange_lone(one)))),
            Plan::Single(one, callbacks) => {
                Either::Left(Either::Left(Either::Right(exchange_single(one, callbacks))))
            }
            Plan::Full(prepared) => Either::Left(Either::Right(exchange(prepared))),
            Plan::General(general) => match general.prepare() {
                Ok(prepared) => Either::Left(Either::Right(exchange(prepared))),
                Err(refused) => Either::Right(std::future::ready(Err(refused))),
            },
        };
        exchanged.instrument(span)
    }
}

/// The callbacks of an execute that have not run yet. Dropped with callbacks left (the
/// execute future was dropped, or a callback panicked), it resolves them to `Cancelled`.
struct Callbacks {
    /// Those left, the last first: taken from the end, in program order, so that the
    /// emptied list is kept for the next root on this thread.
    left: Vec<Registered>,
    reason: &'static str,
}

impl Callbacks {
    fn new(mut list: Vec<Registered>, reason: &'static str) -> Self {
        list.reverse();
        Callbacks { left: list, reason }
    }

    /// The next callback, in program order.
    fn next(&mut self) -> Option<Registered> {
        self.left.pop()
    }
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        while let Some(registered) = self.next() {
            registered
                .callback
                .skip(Error::Cancelled(self.reason.into()));
        }
        buffers::keep(&CALLBACK_LISTS, std::mem::take(&mut self.left));
    }
}

thread_local! {
    /// Emptied lists of an execute's connections, for the next execute on this thread.
    static OUTGOING_LISTS: Spare<Outgoing> = const { buffers::spare() };
}

/// One connection's commands of an execute, ready to go.
struct Outgoing {
    name: Name,
    connection: Arc<Connection>,
    cmds: Vec<Cmd>,
    targets: Targets,
}

/// What an execute takes across its round trip.
struct Prepared {
    outgoing: Vec<Outgoing>,
    callbacks: Callbacks,
    parents: Vec<u32>,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        buffers::keep(&OUTGOING_LISTS, std::mem::take(&mut self.outgoing));
        buffers::keep(&PARENT_LISTS, std::mem::take(&mut self.parents));
    }
}

/// Takes what an execute sends out of its root's `store`. The usual case (one
/// connection, bound, nothing refused) is made ready here, field by field: a standalone
/// call's cost is mostly the code and data it touches, cold after the wait for the
/// previous reply, so it moves nothing twice, and the general case stays out of its way.
#[inline]
fn prepare(registry: &Registry, store: &mut Store, refused: Option<Error>, blocking: bool) -> Plan {
    let bound = match store.only_queue() {
        Some(queue) if refused.is_none() => registry
            .get_shared(&queue.connection)
            .filter(|connection| !blocking || connection.is_blocking()),
        _ => None,
    };
    let Some(connection) = bound else {
        return general(registry, store, refused, blocking);
    };
    // The one queue (`only_queue` found it).
    let Some(queue) = store.take_first_queue() else {
        return general(registry, store, refused, blocking);
    };
    let one = Outgoing {
        name: queue.connection,
        connection,
        cmds: queue.cmds,
        targets: Targets {
            list: buffers::trimmed(queue.targets),
            chunks: ChunkTable::Own(store.take_chunks()),
        },
    };
    let (callbacks, parents) = (store.take_callbacks(), store.take_parents());
    if parents.is_empty() {
        // Its emptied list, if the root took one, is kept here (by `Prepared`'s drop
        // otherwise).
        buffers::keep(&PARENT_LISTS, parents);
        if callbacks.is_empty() {
            buffers::keep(&CALLBACK_LISTS, callbacks);
            return Plan::Lone(one);
        }
        let callbacks = Callbacks::new(buffers::trimmed(callbacks), DROPPED);
        return Plan::Single(one, callbacks);
    }
    let callbacks = Callbacks::new(buffers::trimmed(callbacks), DROPPED);
    let mut outgoing = buffers::take(&OUTGOING_LISTS);
    outgoing.push(one);
    Plan::Full(Prepared {
        outgoing,
        callbacks,
        parents: buffers::trimmed(parents),
    })
}

/// [`prepare`] for anything but the usual execute: everything is taken out of the store,
/// to be prepared once the store is released (refusing resolves deferreds, whose values
/// may run user code as they drop).
#[cold]
#[inline(never)]
fn general(registry: &Registry, store: &mut Store, refused: Option<Error>, blocking: bool) -> Plan {
    Plan::General(Box::new(General {
        registry: registry.clone(),
        queued: store.take_queued(),
        refused,
        blocking,
    }))
}

/// An execute that is not the usual one (see [`prepare`]).
struct General {
    registry: Registry,
    queued: Queued,
    refused: Option<Error>,
    blocking: bool,
}

impl General {
    fn prepare(self) -> Result<Prepared, Error> {
        prepare_all(&self.registry, self.queued, self.refused, self.blocking)
    }
}

/// What an execute does once prepared.
enum Plan {
    /// Anything but the usual execute, to be prepared once the store is released.
    General(Box<General>),
    /// Commands on one connection and no callback (a standalone call that returns the
    /// reply of its one command, say): the exchange, and nothing around it. (Measured
    /// with `scripts/bench-cpu.sh`: a one-command standalone call touches 56 fewer cache
    /// lines of code and data and runs 330 fewer instructions than through [`exchange`].)
    Lone(Outgoing),
    /// Commands on one connection from a root without children (nearly every other
    /// execute: every standalone call of a function that calls no other): its exchange,
    /// and its callbacks run straight. (Measured likewise: a standalone call of 2 INCR
    /// and a sum, 26 fewer cache lines and 220 fewer instructions.)
    Single(Outgoing, Callbacks),
    /// Anything else.
    Full(Prepared),
}

/// Sends the commands of an execute on one connection without callbacks and fills their
/// deferreds: [`exchange`] without what only callbacks and several connections need.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold `one` twice (see `exchange`)"
)]
fn exchange_lone(one: Outgoing) -> impl Future<Output = Result<(), Error>> + Send {
    async move {
        let Outgoing {
            name,
            connection,
            cmds,
            targets,
        } = one;
        let outcome = connection.exchange(&name, cmds, targets).await;
        tracing::debug!(connection = %name, failed = outcome.failures.len(), "batch answered");
        if outcome.failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Execute(outcome.failures.into()))
        }
    }
}

/// [`exchange`] for an execute on one connection from a root without children: without
/// the list of connections and of pipeline nodes.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold `one` twice (see `exchange`)"
)]
fn exchange_single(
    one: Outgoing,
    mut callbacks: Callbacks,
) -> impl Future<Output = Result<(), Error>> + Send {
    async move {
        let Outgoing {
            name,
            connection,
            cmds,
            targets,
        } = one;
        let outcome = connection.exchange(&name, cmds, targets).await;
        tracing::debug!(connection = %name, failed = outcome.failures.len(), "batch answered");
        callbacks.reason = PANICKED;
        let _running = CallbackGuard::enter();
        if outcome.failures.is_empty() {
            while let Some(registered) = callbacks.next() {
                registered.callback.run();
            }
            return Ok(());
        }
        Err(run_scoped(
            &mut callbacks,
            &[],
            std::slice::from_ref(&outcome),
        ))
    }
}

/// Why the callbacks after one that panicked are cancelled.
const PANICKED: &str = "an earlier combine step panicked";

/// Why the callbacks of an execute dropped before its replies arrived are cancelled.
const DROPPED: &str = "the execute future was dropped before the replies arrived";

/// Resolves every connection name before anything is sent: a missing one (or a
/// `refused` execute) sends nothing at all and resolves every deferred to the error. For
/// any number of connections, some of them perhaps not bound, or a refused execute.
#[cold]
#[inline(never)]
fn prepare_all(
    registry: &Registry,
    queued: Queued,
    mut refused: Option<Error>,
    blocking: bool,
) -> Result<Prepared, Error> {
    let Queued {
        queues,
        callbacks,
        rejected,
        parents,
        chunks,
    } = queued;
    // A command refused where it was queued refuses the whole execute: nothing of a batch
    // is half sent.
    if refused.is_none() && !rejected.is_empty() {
        refused = Some(rejection(rejected));
    }
    // One connection (the usual case): its targets own the chunk table.
    let (mut own, shared) = match chunks {
        table if queues.len() > 1 => (None, Some(Arc::new(table))),
        table => (Some(table), None),
    };
    let mut chunks = || match &shared {
        Some(shared) => ChunkTable::Shared(Arc::clone(shared)),
        None => ChunkTable::Own(own.take().unwrap_or_default()),
    };
    let parents = buffers::trimmed(parents);
    let callbacks = Callbacks::new(buffers::trimmed(callbacks), DROPPED);
    let mut outgoing = buffers::take(&OUTGOING_LISTS);
    let mut unbound = Vec::new();
    for queue in queues {
        let targets = Targets {
            list: buffers::trimmed(queue.targets),
            chunks: chunks(),
        };
        match registry.get_shared(&queue.connection) {
            Some(connection) if blocking && !connection.is_blocking() => {
                refused.get_or_insert(Error::invalid_operation(format!(
                    "connection `{}` is async: a blocking execute needs blocking connections \
                     (Connection::open_blocking)",
                    queue.connection
                )));
                unbound.push(targets);
            }
            Some(connection) => outgoing.push(Outgoing {
                name: queue.connection,
                connection,
                cmds: queue.cmds,
                targets,
            }),
            None => {
                refused.get_or_insert(Error::NotConfigured {
                    connection: queue.connection.to_arc(),
                });
                unbound.push(targets);
            }
        }
    }
    let Some(error) = refused else {
        return Ok(Prepared {
            outgoing,
            callbacks,
            parents,
        });
    };
    let all = outgoing.into_iter().map(|o| o.targets);
    for mut targets in all.chain(unbound) {
        targets.fail_all(&error);
    }
    skip_all(callbacks, &Arc::new(error.clone()));
    Err(error)
}

/// The error of an execute refused for the commands refused where they were queued.
#[cold]
fn rejection(rejected: Vec<(u32, Error)>) -> Error {
    Error::Execute(rejected.into_iter().map(|(_, error)| error).collect())
}

/// Sends every batch, fills the command deferreds, then runs the callbacks. (The fields
/// of `prepared` are used in place: moving them out would copy them within the future.)
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would hold `prepared` twice (see below)"
)]
fn exchange(mut prepared: Prepared) -> impl Future<Output = Result<(), Error>> + Send {
    // Not an `async fn`, which would keep `prepared` twice: as its argument and as the
    // local it moves it to.
    async move {
        // Every batch is sent concurrently on the current task (no spawning) and all are
        // joined; the common single-connection case awaits its one batch directly.
        let single: Outcome;
        let joined: Vec<Outcome>;
        let outcomes: &[Outcome] = match prepared.outgoing.as_mut_slice() {
            [one] => {
                let cmds = std::mem::take(&mut one.cmds);
                let targets = std::mem::take(&mut one.targets);
                single = one.connection.exchange(&one.name, cmds, targets).await;
                std::slice::from_ref(&single)
            }
            many => {
                let sends = many.iter_mut().map(|one| {
                    let cmds = std::mem::take(&mut one.cmds);
                    let targets = std::mem::take(&mut one.targets);
                    one.connection.exchange(&one.name, cmds, targets)
                });
                joined = futures_util::future::join_all(sends).await;
                &joined
            }
        };
        for (one, outcome) in prepared.outgoing.iter().zip(outcomes) {
            tracing::debug!(connection = %one.name, failed = outcome.failures.len(), "batch answered");
        }

        prepared.callbacks.reason = PANICKED;
        let _running = CallbackGuard::enter();
        if outcomes.iter().all(|outcome| outcome.failures.is_empty()) {
            while let Some(registered) = prepared.callbacks.next() {
                registered.callback.run();
            }
            return Ok(());
        }
        Err(run_scoped(
            &mut prepared.callbacks,
            &prepared.parents,
            outcomes,
        ))
    }
}

/// Runs the callbacks of an execute some of whose commands failed, in program order: a
/// callback runs when no command of its scope failed, and is skipped otherwise (its
/// deferred holds `Aborted`). Returns the execute's error, which lists every failure.
#[cold]
#[inline(never)]
fn run_scoped(callbacks: &mut Callbacks, parents: &[u32], outcomes: &[Outcome]) -> Error {
    let failures: Vec<Error> = outcomes
        .iter()
        .flat_map(|o| o.failures.iter().cloned())
        .collect();
    // Mark every pipeline node that holds a failed command, and its ancestors. (A root
    // without children has no entry: everything is in its scope.)
    let mut failed = vec![false; parents.len()];
    for outcome in outcomes {
        for &node in &outcome.failed_nodes {
            let mut node = node as usize;
            while let Some(mark) = failed.get_mut(node).filter(|marked| !**marked) {
                *mark = true;
                if node == ROOT as usize {
                    break;
                }
                node = parents.get(node).map_or(ROOT as usize, |&p| p as usize);
            }
        }
    }
    let cause = Arc::new(Error::Execute(failures.into()));
    while let Some(registered) = callbacks.next() {
        if failed
            .get(registered.node as usize)
            .copied()
            .unwrap_or(true)
        {
            registered.callback.skip(Error::Aborted(Arc::clone(&cause)));
        } else {
            registered.callback.run();
        }
    }
    Error::clone(&cause)
}

/// Resolves every callback to `Aborted` without running it.
fn skip_all(mut callbacks: Callbacks, cause: &Arc<Error>) {
    while let Some(registered) = callbacks.next() {
        registered.callback.skip(Error::Aborted(Arc::clone(cause)));
    }
}

/// A standalone call's root pipeline, then its execute future, in the one allocation its
/// deferreds share: awaiting needs no box, and the future is written once, in place, and
/// never moved.
///
/// The execute is polled under the lock by whichever await of a clone polls. An await
/// that finds the lock taken (another one is polling, which may run every combine step of
/// a large batch) does not wait for it: it leaves its waker and returns, and is woken when
/// the lock is released; an await dropped meanwhile leaves a count that the holder takes
/// in. The wakers of awaits that polled before the latest one are kept and woken when the
/// execute finishes, or when an await leaves, so that another one takes over the polling.
/// Awaits are told apart by a number each gets when it first polls, not by comparing
/// wakers: an executor's waker and its clones need not `will_wake` each other (those of a
/// `block_on` do not), and the await that finishes the execute must not be woken again.
#[repr(C)]
struct Standalone<F> {
    /// First, as `Owner` requires: the functions its deferreds' thin handle calls.
    header: OwnerHeader,
    /// Only ever tried, never waited for: a spin lock, whose release is a plain store.
    state: SpinMutex<State>,
    /// The wakers of awaits that found `state` locked; woken after a release of it.
    blocked: Mutex<Vec<Waker>>,
    /// `blocked` is not empty (changed under its lock; read without it, see `Released`).
    contended: AtomicBool,
    /// Awaits dropped while `state` was held by another: counted here, and taken off
    /// `state.awaiters` by whoever holds it next (see `Released`).
    departed: AtomicUsize,
    /// Initialised while `state.running`; only touched under the lock of `state`.
    execute: UnsafeCell<MaybeUninit<F>>,
    /// `Pipeline::execute_checked`, through which `F`, its future's type, gets a name.
    start: fn(Pipeline, Option<Error>, bool) -> F,
}

// SAFETY: `execute` is only written, polled and dropped under the lock of `state`, so
// sharing the owner never gives two threads access to it at once.
unsafe impl<F: Send> Sync for Standalone<F> {}

struct State {
    /// The pipeline, until the first poll starts its execute.
    root: Option<Pipeline>,
    /// `execute` holds the running future.
    running: bool,
    /// Awaits that polled and have neither finished nor been dropped.
    awaiters: usize,
    /// The number the next await to join gets (from 1).
    next_awaiter: u32,
    /// The latest poll's await and waker (the execute holds that waker too).
    latest: Option<(u32, Waker)>,
    /// The latest wakers of the other awaits that polled, one per await.
    others: Vec<(u32, Waker)>,
}

impl<F> Standalone<F> {
    /// The state, or `None` when another await holds it: then this await's waker is left
    /// to be woken when it is released.
    fn try_state(&self, cx: &Context<'_>) -> Option<SpinGuard<'_, State>> {
        if let Some(state) = self.state.try_lock() {
            return Some(state);
        }
        let mut blocked = self.blocked.lock();
        blocked.push(cx.waker().clone());
        self.contended.store(true, Ordering::Relaxed);
        drop(blocked);
        // Released meanwhile, before the waker was there to be woken: take it now. (The
        // fence pairs with the one in `Released`: either this retry sees the release, or
        // the releasing side sees `contended`.)
        fence(Ordering::SeqCst);
        self.state.try_lock()
    }

    /// Takes the awaits dropped since the state was last held off its count: when none is
    /// left (and none is about to poll), the execute is dropped, cancelling what is left;
    /// otherwise the others are woken, since the execute may hold only a dropped await's
    /// waker, so that one of them polls again and the execute gets its waker.
    fn take_in_departed(&self, state: &mut State) {
        let gone = self.departed.swap(0, Ordering::Relaxed);
        state.awaiters = state.awaiters.saturating_sub(gone);
        if gone == 0 || !state.running {
            return;
        }
        if state.awaiters == 0 && !self.contended.load(Ordering::Relaxed) {
            self.end(state, None);
            return;
        }
        let latest = state.latest.take();
        let others = std::mem::take(&mut state.others);
        latest
            .into_iter()
            .chain(others)
            .for_each(|(_, waker)| waker.wake());
    }

    /// Drops the running execute in place and wakes every await still waiting but the one
    /// polling now (by its number), if any.
    fn end(&self, state: &mut State, polling: Option<u32>) {
        if !std::mem::take(&mut state.running) {
            return;
        }
        // SAFETY: under the lock (`state` is its guard's), and `running` said the future
        // is there; it is dropped where it was polled.
        unsafe { (*self.execute.get()).assume_init_drop() };
        let latest = state.latest.take();
        let others = std::mem::take(&mut state.others);
        for (awaiter, waker) in latest.into_iter().chain(others) {
            if Some(awaiter) != polling {
                waker.wake();
            }
        }
    }
}

impl<F: Future<Output = Result<(), Error>>> Standalone<F> {
    /// Starts the execute on the first poll; true while it runs (false once it ended).
    /// `state` is the guard's, so the lock is held.
    #[inline]
    fn start_once(&self, state: &mut State, blocking: bool) -> bool {
        if let Some(root) = state.root.take() {
            // SAFETY: under the lock, and nothing was written yet (`root` was there).
            unsafe { (*self.execute.get()).write((self.start)(root, None, blocking)) };
            state.running = true;
        }
        state.running
    }

    /// [`Owner::poll_run`] for the await of the only handle (the usual `call(None,
    /// ..).await`), which never joined the awaits of clones: none can join now, and none is
    /// polling or left wakers to wake. So it takes no number, keeps no waker (the execute
    /// holds its own), and has nothing to take in or wake when it releases the state.
    fn poll_alone(&self, cx: &mut Context<'_>, blocking: bool) -> Poll<()> {
        let mut state = self.state.lock();
        if !self.start_once(&mut state, blocking) {
            return Poll::Ready(());
        }
        let guard = EndOnUnwind {
            owner: self,
            state: &mut state,
        };
        // SAFETY: as in `poll_run`.
        let execute = unsafe { Pin::new_unchecked((*self.execute.get()).assume_init_mut()) };
        if execute.poll(cx).is_ready() {
            self.end(guard.state, None);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<F> Drop for Standalone<F> {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if state.running {
            // SAFETY: `running` says the future is there, and nothing else can reach it.
            unsafe { self.execute.get_mut().assume_init_drop() };
        }
    }
}

/// What the holder of the state does once it released it: takes in the awaits dropped
/// meanwhile, and wakes those that found the state locked. Declared before the state's
/// guard, so it is dropped after it, on every way out (a panic included). Only a holder of
/// the state does this: an await that found it locked must not wake itself.
///
/// The fences pair with those of the sides that found the state locked (`try_state`,
/// `leave`): either such a side's retry finds the state free, or the releasing side sees
/// its `contended` or `departed`.
struct Released<'a, F>(&'a Standalone<F>);

impl<F> Drop for Released<'_, F> {
    fn drop(&mut self) {
        let owner = self.0;
        // Every way out of the loop comes after a fence that follows this side's last
        // release of the state, so that fence also orders the read of `contended` below.
        loop {
            fence(Ordering::SeqCst);
            if owner.departed.load(Ordering::Relaxed) == 0 {
                break;
            }
            // Held again: its holder takes them in when it releases it.
            let Some(mut state) = owner.state.try_lock() else {
                break;
            };
            owner.take_in_departed(&mut state);
        }
        if !owner.contended.load(Ordering::Relaxed) {
            return;
        }
        let blocked = {
            let mut blocked = owner.blocked.lock();
            owner.contended.store(false, Ordering::Relaxed);
            std::mem::take(&mut *blocked)
        };
        blocked.into_iter().for_each(Waker::wake);
    }
}

/// Ends the execute if polling it panics (a combine step's panic): the panic goes on to
/// the await that polled; the other awaits are woken and find the execute ended.
struct EndOnUnwind<'a, 'g, F> {
    owner: &'a Standalone<F>,
    state: &'g mut SpinGuard<'a, State>,
}

impl<F> Drop for EndOnUnwind<'_, '_, F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.owner.end(self.state, None);
        }
    }
}

// SAFETY: `Standalone` is `#[repr(C)]` with its header, made by `OwnerHeader::of` for its
// own type (in `standalone`), first.
unsafe impl<F: Future<Output = Result<(), Error>> + Send + 'static> Owner for Standalone<F> {
    fn poll_run(
        &self,
        cx: &mut Context<'_>,
        blocking: bool,
        awaiter: &mut u32,
        alone: bool,
    ) -> Poll<()> {
        if alone && *awaiter == 0 {
            return self.poll_alone(cx, blocking);
        }
        // Declared before the state's guard, set once the state is held.
        let _released: Released<'_, F>;
        let Some(mut state) = self.try_state(cx) else {
            return Poll::Pending;
        };
        _released = Released(self);
        if !self.start_once(&mut state, blocking) {
            return Poll::Ready(());
        }
        if *awaiter == 0 {
            *awaiter = state.next_awaiter;
            state.next_awaiter = state.next_awaiter.wrapping_add(1).max(1);
            state.awaiters += 1;
        }
        let me = *awaiter;
        let guard = EndOnUnwind {
            owner: self,
            state: &mut state,
        };
        // SAFETY: under the lock and `running`; the future lives in this owner's `Arc` and
        // is dropped where it is (`end`, `drop`), never moved.
        let execute = unsafe { Pin::new_unchecked((*self.execute.get()).assume_init_mut()) };
        if execute.poll(cx).is_ready() {
            // The outcome is read from the deferreds themselves.
            self.end(guard.state, Some(me));
            return Poll::Ready(());
        }
        let state = &mut **guard.state;
        match &mut state.latest {
            Some((latest, waker)) if *latest == me => {
                if !waker.will_wake(cx.waker()) {
                    *waker = cx.waker().clone();
                }
            }
            _ => {
                // This await polled last now: its earlier waker among the others, if any,
                // is stale; the one that polled last before keeps its place there.
                state.others.retain(|(other, _)| *other != me);
                if let Some(earlier) = state.latest.replace((me, cx.waker().clone())) {
                    state.others.push(earlier);
                }
            }
        }
        Poll::Pending
    }

    fn release(this: Arc<Self>) {
        // The last handle: no other can be made from nothing (there is no `Weak`), and the
        // fence orders the other handles' last uses (their counts given up with release
        // ordering, as in `Arc`'s drop) before the owner is dropped.
        if Arc::strong_count(&this) != 1 {
            return drop(this);
        }
        fence(Ordering::Acquire);
        let at = Arc::into_raw(this).cast_mut();
        // SAFETY: the only count, so nothing else reaches the owner; dropped once here,
        // and its memory is then only seen as uninitialised.
        unsafe { std::ptr::drop_in_place(at) };
        // SAFETY: `MaybeUninit<Standalone<F>>` has the layout of `Standalone<F>`; the
        // pointer is the `Arc`'s own, with its one count.
        keep_owner(unsafe { Arc::from_raw(at.cast_const().cast::<MaybeUninit<Self>>()) });
    }

    fn leave(&self) {
        // Counted first, so that whoever holds the state now, if anyone, takes it in.
        self.departed.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let _released: Released<'_, F>;
        // Another await holds it (it may be running a large batch's combine steps): this
        // one does not wait for it.
        let Some(mut state) = self.state.try_lock() else {
            return;
        };
        _released = Released(self);
        self.take_in_departed(&mut state);
    }
}

/// How many emptied standalone owners a thread keeps (656 bytes each, 656 KiB at most):
/// enough for a burst of about a thousand calls in flight on the thread, which would
/// otherwise each take theirs from glibc's allocator past its per-thread cache (seven
/// blocks of a size), under the lock of an arena that other threads free into too.
const KEEP_OWNERS: usize = 1024;

/// A thread's emptied standalone owners, of one type (the first that came: there is one,
/// that of [`Pipeline::execute_checked`]'s future), each an `Arc` with its one count.
struct KeptOwners {
    kind: Option<TypeId>,
    /// Frees one of `owners` (`free_owner` for their type).
    free: Option<unsafe fn(*const ())>,
    owners: Vec<*const ()>,
}

impl Drop for KeptOwners {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            for owner in self.owners.drain(..) {
                // SAFETY: kept by `keep_owner` with this `free`, for their type; each
                // taken once.
                unsafe { free(owner) };
            }
        }
    }
}

thread_local! {
    /// Emptied standalone owners, for the next standalone calls on this thread: the
    /// allocation of a call's owner is otherwise taken from the allocator and given back
    /// on every call.
    static OWNERS: RefCell<KeptOwners> = const {
        RefCell::new(KeptOwners {
            kind: None,
            free: None,
            owners: Vec::new(),
        })
    };
}

/// Frees a kept owner of type `Standalone<F>`.
///
/// # Safety
///
/// `owner` comes from `Arc::into_raw` of an `Arc<MaybeUninit<Standalone<F>>>`, whose
/// count it holds, and is not used again.
unsafe fn free_owner<F>(owner: *const ()) {
    // SAFETY: the caller's contract.
    drop(unsafe { Arc::from_raw(owner.cast::<MaybeUninit<Standalone<F>>>()) });
}

/// Keeps an emptied owner's memory for the next standalone call on this thread, or frees
/// it when the thread keeps enough (or keeps owners of another type).
fn keep_owner<F: 'static>(owner: Arc<MaybeUninit<Standalone<F>>>) {
    let mut owner = Some(owner);
    let _ = OWNERS.try_with(|kept| {
        let Ok(mut kept) = kept.try_borrow_mut() else {
            return;
        };
        let kind = TypeId::of::<Standalone<F>>();
        if *kept.kind.get_or_insert(kind) != kind || kept.owners.len() >= KEEP_OWNERS {
            return;
        }
        kept.free = Some(free_owner::<F>);
        if let Some(owner) = owner.take() {
            kept.owners.push(Arc::into_raw(owner).cast::<()>());
        }
    });
    drop(owner);
}

/// An emptied owner's memory kept by this thread, if any.
fn kept_owner<F: 'static>() -> Option<Arc<MaybeUninit<Standalone<F>>>> {
    OWNERS
        .try_with(|kept| {
            let mut kept = kept.try_borrow_mut().ok()?;
            if kept.kind != Some(TypeId::of::<Standalone<F>>()) {
                return None;
            }
            let owner = kept.owners.pop()?;
            // SAFETY: kept by `keep_owner` for this type (its `TypeId`), with its count,
            // which moves back into the `Arc`.
            Some(unsafe { Arc::from_raw(owner.cast::<MaybeUninit<Standalone<F>>>()) })
        })
        .ok()
        .flatten()
}

/// Makes `root` the pipeline a standalone call's deferred owns.
pub(crate) fn owner(root: Pipeline) -> OwnerRef {
    standalone(root, Pipeline::execute_checked)
}

fn standalone<F: Future<Output = Result<(), Error>> + Send + 'static>(
    root: Pipeline,
    start: fn(Pipeline, Option<Error>, bool) -> F,
) -> OwnerRef {
    let header = OwnerHeader::of::<Standalone<F>>();
    let state = SpinMutex::new(State {
        root: Some(root),
        running: false,
        awaiters: 0,
        next_awaiter: 1,
        latest: None,
        others: Vec::new(),
    });
    let blocked = Mutex::new(Vec::new());
    let contended = AtomicBool::new(false);
    let departed = AtomicUsize::new(0);
    // Written field by field into the allocation: `execute`, most of it, is left
    // uninitialised, where building the whole value first would copy it all.
    let owner = kept_owner::<F>().unwrap_or_else(Arc::<Standalone<F>>::new_uninit);
    // Written through the `Arc`'s own pointer: `Arc::get_mut` would check that the new
    // allocation is unshared with a locked instruction.
    let at = Arc::as_ptr(&owner).cast_mut().cast::<Standalone<F>>();
    // SAFETY: `at` points to the allocation just made, which nothing else can reach yet;
    // every field but the `MaybeUninit` one is written before `assume_init`.
    unsafe {
        std::ptr::addr_of_mut!((*at).header).write(header);
        std::ptr::addr_of_mut!((*at).state).write(state);
        std::ptr::addr_of_mut!((*at).blocked).write(blocked);
        std::ptr::addr_of_mut!((*at).contended).write(contended);
        std::ptr::addr_of_mut!((*at).departed).write(departed);
        std::ptr::addr_of_mut!((*at).start).write(start);
        OwnerRef::new(owner.assume_init())
    }
}

#[cfg(test)]
mod tests {
    use std::future::IntoFuture;

    use super::*;
    use crate::connection::Unused;
    use crate::Deferred;

    fn kept_owners() -> usize {
        OWNERS.with(|kept| kept.borrow().owners.len())
    }

    /// A standalone call of one INCR on `registry`, awaited once (its backend answers no
    /// reply: the call resolves to the miscount error) and dropped.
    fn call(registry: &Registry) -> Result<i64, Error> {
        let root = registry.pipeline();
        let deferred: Deferred<i64> = root.incr("k", 1);
        let deferred = deferred.owned_by(owner(root));
        let mut future = std::pin::pin!(deferred.into_future());
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => panic!("the backend answers at once"),
        }
    }

    /// A backend whose answer never comes.
    struct Silent;

    impl crate::Backend for Silent {
        fn send<'a>(&'a self, _: &'a crate::Batch) -> crate::BoxFuture<'a, crate::Replies> {
            Box::pin(std::future::pending())
        }
    }

    /// A waker that does nothing; its `Arc` counts the wakers made from it.
    struct Counted;

    impl std::task::Wake for Counted {
        fn wake(self: Arc<Self>) {}
    }

    #[test]
    fn the_only_await_of_a_standalone_call_keeps_no_waker_and_one_of_several_does() {
        let registry = Registry::new();
        registry.connect(Connection::new(Silent)).unwrap();
        let call = || {
            let root = registry.pipeline();
            let deferred: Deferred<i64> = root.incr("k", 1);
            deferred.owned_by(owner(root))
        };
        let counted = Arc::new(Counted);
        let waker = Waker::from(Arc::clone(&counted));
        let mut cx = Context::from_waker(&waker);

        let mut alone = Box::pin(call().into_future());
        assert!(alone.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            Arc::strong_count(&counted),
            2,
            "the test's and `waker`: none kept"
        );
        drop(alone);

        // With a clone, the await joins the others: its waker is kept, to be woken should
        // another await finish the execute.
        let shared = call();
        let clone = shared.clone();
        let mut joined = Box::pin(shared.into_future());
        assert!(joined.as_mut().poll(&mut cx).is_pending());
        assert_eq!(Arc::strong_count(&counted), 3);
        drop(joined);
        drop(clone);
        assert_eq!(Arc::strong_count(&counted), 2);
    }

    #[test]
    fn a_standalone_calls_owner_is_kept_for_the_next_call_on_its_thread() {
        // A fresh thread: nothing kept yet. (A panic in it fails the test when it joins.)
        std::thread::spawn(|| {
            let registry = Registry::new();
            registry.connect(Connection::new(Unused)).unwrap();
            assert_eq!(kept_owners(), 0);
            let first = call(&registry).unwrap_err();
            assert!(first.to_string().contains("replies"), "{first}");
            assert_eq!(kept_owners(), 1, "the owner is kept once its call is over");
            // The next call takes it, and gives it back.
            let root = registry.pipeline();
            let pending: Deferred<i64> = root.incr("k", 1);
            let pending = pending.owned_by(owner(root));
            assert_eq!(kept_owners(), 0, "the kept owner serves the next call");
            // Dropped before its execute ran, a clone last: then the owner is kept.
            let clone = pending.clone();
            drop(pending);
            assert_eq!(kept_owners(), 0, "a clone still holds the owner");
            drop(clone);
            assert_eq!(kept_owners(), 1);
            assert_eq!(call(&registry).unwrap_err().to_string(), first.to_string());
            // No more than KEEP_OWNERS are kept.
            let held: Vec<Deferred<i64>> = (0..KEEP_OWNERS + 3)
                .map(|_| {
                    let root = registry.pipeline();
                    let deferred: Deferred<i64> = root.incr("k", 1);
                    deferred.owned_by(owner(root))
                })
                .collect();
            drop(held);
            assert_eq!(kept_owners(), KEEP_OWNERS);
        })
        .join()
        .expect("the test thread");
    }
}
