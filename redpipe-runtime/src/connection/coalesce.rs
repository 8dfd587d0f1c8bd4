//! Coalescing: executes that overlap in time on one connection are written together.
//!
//! An execute that finds the connection idle sends its own batch at once (a lone caller
//! waits for nothing, and there are no timers). Executes that arrive while a batch is on
//! its way queue their commands as a parcel, and the first of them starts a flusher task:
//! it lets the tasks that are ready to run queue theirs too, then writes every queued
//! parcel as one batch, hands each execute its own replies, and repeats until the queue is
//! empty. Nothing waits for another execute's future to be polled: a kept execute that is
//! not polled for a while (a `select!` loop) holds up no one, since the flusher is a task
//! of its own. A flusher on a current-thread runtime, which runs only inside a `block_on`,
//! hands each next round to the runtime of an execute waiting for it. A parcel whose
//! execute is dropped before it was sent leaves the queue unsent; its deferreds resolve to
//! `Cancelled`. A flusher dropped before it is done (the runtime it was spawned on shut
//! down, or something in it panicked) answers the parcels of its write with a connection
//! error and wakes the queued ones to send their own batches.

use std::cell::RefCell;
use std::future::poll_fn;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::task::{Poll, Waker};

use parking_lot::Mutex;
use redis::{Cmd, RedisError};
use tokio::runtime::Handle;

use super::open::is_current_thread;
use super::{Batch, Connection, Outcome};
use crate::buffers;
use crate::deferred::Targets;
use crate::name::Name;
use crate::spin::SpinMutex;

/// The per-connection queue of executes waiting to be written.
#[derive(Default)]
pub(crate) struct Coalescer {
    /// Locked twice by every execute (to take the connection, to give it back), for a few
    /// field updates: a spin lock, whose release is a plain store. (A parcel's lock is
    /// held while its replies are decoded, so it stays a parking one.)
    state: SpinMutex<State>,
}

#[derive(Default)]
struct State {
    /// An execute that found the connection idle is sending its own batch.
    sending: bool,
    /// A flusher task is writing the queue (or about to).
    flushing: bool,
    queue: Vec<Arc<Parcel>>,
}

/// One execute's commands waiting for the next write, and then its outcome.
struct Parcel {
    /// The runtime the waiting execute was queued on, if any.
    runtime: Option<Handle>,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The connection's name in the waiting execute's registry, for its errors.
    name: Name,
    /// Taken by the flusher when it writes them.
    cmds: Option<Vec<Cmd>>,
    /// The list of `cmds`, emptied by the flusher (and `targets`, once it resolved them):
    /// kept for reuse by the execute, on the thread it runs on. (Kept by the flusher,
    /// every list would gather on its thread, while the threads that make roots grew new
    /// ones.)
    spent: Vec<Cmd>,
    targets: Targets,
    outcome: Option<Outcome>,
    waker: Option<Waker>,
    /// The waiting execute was dropped.
    dropped: bool,
    /// The flusher was dropped before it took this parcel: the execute sends its commands
    /// itself.
    unsent: bool,
}

/// What an execute does on a coalescing connection.
pub(super) enum Role<'a> {
    /// Send these now: the connection was idle (the guard marks the end of the send), or
    /// another send is in flight but no flusher can be started, outside a tokio runtime
    /// (no guard: this send goes alongside).
    Send(Vec<Cmd>, Targets, Option<Sent<'a>>),
    /// Another send is in flight: wait for the flusher.
    Wait(Waiting<'a>),
}

impl Coalescer {
    /// Takes the connection if it is idle (then the commands are sent at once, alone), or
    /// queues the commands for the next coalesced write.
    ///
    /// Decided when the execute is first polled, so that its future carries only what its
    /// role needs; either way, dropping that future leaves the connection as it was: a
    /// sender's guard marks its send over, a waiter's takes its parcel out.
    pub(super) fn take_turn<'a>(
        self: &'a Arc<Self>,
        connection: &Connection,
        name: &Name,
        cmds: Vec<Cmd>,
        targets: Targets,
    ) -> Role<'a> {
        if self.try_send() {
            return Role::Send(cmds, targets, Some(Sent { coalescer: self }));
        }
        // The parcel is made with the lock released: an allocation can wait for the
        // allocator's own lock, and a holder of this one that waits makes every other
        // execute on the connection spin and yield.
        let parcel = Parcel::new(name, cmds, targets, Handle::try_current().ok());
        let mut state = self.state.lock();
        let idle = !state.sending && !state.flushing;
        if idle || (!state.flushing && parcel.runtime.is_none()) {
            // The connection went idle meanwhile; or no flusher can be started (outside a
            // tokio runtime), and this send goes alongside the one in flight.
            state.sending |= idle;
            drop(state);
            let (cmds, targets) = parcel.take_back();
            return Role::Send(cmds, targets, idle.then_some(Sent { coalescer: self }));
        }
        state.queue.push(Arc::clone(&parcel));
        let start_flusher = !state.flushing;
        state.flushing = true;
        drop(state);
        if let Some(runtime) = parcel.runtime.as_ref().filter(|_| start_flusher) {
            // The flusher owns the queue from here, even if it is dropped unpolled (a
            // runtime shutting down drops what is spawned on it).
            Flusher::new(self, connection).spawn(runtime);
        }
        Role::Wait(Waiting {
            coalescer: self,
            parcel: ManuallyDrop::new(parcel),
            answered: false,
        })
    }

    /// Takes the connection for a send if it is idle.
    #[inline]
    fn try_send(&self) -> bool {
        let mut state = self.state.lock();
        let idle = !state.sending && !state.flushing;
        state.sending |= idle;
        idle
    }
}

/// How many emptied parcels a thread keeps (224 bytes each, 224 KiB at most): enough for
/// a burst of about a thousand executes waiting on the thread (see `KEEP_OWNERS` in
/// `execute.rs`).
const KEEP_PARCELS: usize = 1024;

thread_local! {
    /// Parcels whose execute was answered, emptied, for the next waiting executes of this
    /// thread. (The flusher gives up its count of a parcel before it wakes the execute, so
    /// the execute usually holds the last one.)
    static PARCELS: RefCell<Vec<Arc<Parcel>>> = const { RefCell::new(Vec::new()) };
}

impl Parcel {
    fn new(name: &Name, cmds: Vec<Cmd>, targets: Targets, runtime: Option<Handle>) -> Arc<Self> {
        let inner = Inner {
            name: name.clone(),
            cmds: Some(cmds),
            spent: Vec::new(),
            targets,
            outcome: None,
            waker: None,
            dropped: false,
            unsent: false,
        };
        let kept = PARCELS
            .try_with(|kept| kept.try_borrow_mut().ok()?.pop())
            .ok()
            .flatten();
        if let Some(mut parcel) = kept {
            if let Some(unique) = Arc::get_mut(&mut parcel) {
                unique.runtime = runtime;
                *unique.inner.get_mut() = inner;
                return parcel;
            }
        }
        Arc::new(Parcel {
            runtime,
            inner: Mutex::new(inner),
        })
    }

    /// Keeps an answered parcel for the next waiting execute on this thread, emptied, if
    /// this is its last count and the thread keeps fewer than [`KEEP_PARCELS`].
    fn keep(mut parcel: Arc<Self>) {
        let Some(unique) = Arc::get_mut(&mut parcel) else {
            return;
        };
        // Nothing it held (a runtime, a connection's name) is kept alive by the pool.
        unique.runtime = None;
        let inner = unique.inner.get_mut();
        inner.name = Name::Default;
        inner.waker = None;
        let _ = PARCELS.try_with(|kept| {
            if let Ok(mut kept) = kept.try_borrow_mut() {
                if kept.len() < KEEP_PARCELS {
                    kept.push(parcel);
                }
            }
        });
    }

    /// The commands and targets of a parcel that was never queued.
    #[cold]
    fn take_back(self: Arc<Self>) -> (Vec<Cmd>, Targets) {
        let mut inner = self.inner.lock();
        let cmds = inner.cmds.take().unwrap_or_default();
        (cmds, std::mem::take(&mut inner.targets))
    }
}

/// Lets the queue go: no flusher is left, and every queued execute is woken to send its
/// own commands.
fn release(state: &mut State) {
    state.flushing = false;
    for parcel in state.queue.drain(..) {
        let mut inner = parcel.inner.lock();
        inner.unsent = true;
        if let Some(waker) = inner.waker.take() {
            waker.wake();
        }
    }
}

/// The task that writes the queued parcels. Dropped before it finished (the runtime it
/// runs on shut down, or a backend or a reply's conversion panicked), it answers the
/// parcels of the write in flight with a connection error (their commands may or may not
/// have run) and lets the rest of the queue go, so that no execute waits for a write that
/// will never come and the next arrivals start a new flusher.
struct Flusher {
    coalescer: Arc<Coalescer>,
    connection: Connection,
    /// The parcels of the write in flight, in batch order; each is let go once answered.
    taken: Vec<Option<Arc<Parcel>>>,
    /// The queue's list of the previous round, emptied: it takes the place of the list a
    /// round takes, so that queueing seldom grows a list (under the queue's lock).
    spare: Vec<Arc<Parcel>>,
    /// How many of `taken` were answered.
    answered: usize,
    /// The queue was found empty, and the connection left idle.
    finished: bool,
}

impl Flusher {
    fn new(coalescer: &Arc<Coalescer>, connection: &Connection) -> Self {
        Flusher {
            coalescer: Arc::clone(coalescer),
            connection: connection.clone(),
            taken: Vec::new(),
            spare: Vec::new(),
            answered: 0,
            finished: false,
        }
    }

    /// Starts the flusher on `runtime`. (Not written out where a flusher starts the next
    /// one: the future of `run` would then contain its own spawn, and whether it is `Send`
    /// would depend on itself.)
    fn spawn(self, runtime: &Handle) {
        runtime.spawn(self.run());
    }

    /// Writes every queued parcel, as one batch per round, until the queue is empty, or
    /// until it hands the queue on (see [`hand_over`](Self::hand_over)).
    async fn run(mut self) {
        // The tasks ready to run now (a burst of requests) queue their commands first, to
        // go in the same batch.
        tokio::task::yield_now().await;
        loop {
            let mut parcels = {
                let mut state = self.coalescer.state.lock();
                if state.queue.is_empty() {
                    state.flushing = false;
                    self.finished = true;
                    return;
                }
                std::mem::replace(&mut state.queue, std::mem::take(&mut self.spare))
            };
            let mut counts = Vec::with_capacity(parcels.len());
            let mut lists = Vec::with_capacity(parcels.len());
            self.taken.clear();
            self.answered = 0;
            for parcel in parcels.drain(..) {
                let cmds = parcel.inner.lock().cmds.take();
                if let Some(cmds) = cmds {
                    counts.push(cmds.len());
                    lists.push(cmds);
                    self.taken.push(Some(parcel));
                }
            }
            self.spare = parcels;
            let total = counts.iter().sum();
            let mut spent = Vec::with_capacity(lists.len());
            let batch = Batch::new(&self.connection, total, lists, false, |list| {
                spent.push(list);
            });
            tracing::debug!(
                executes = self.taken.len(),
                commands = total,
                "coalesced batch"
            );
            let replies = self.connection.send(&batch).await;
            let mut parts = replies.checked(total).into_parts();
            let mut offset = 0;
            for ((taken, count), spent) in self.taken.iter_mut().zip(&counts).zip(spent) {
                // (Each is there until answered: a round takes every parcel it writes.)
                let Some(parcel) = taken.as_ref() else {
                    parts.skip(*count);
                    self.answered += 1;
                    offset += count;
                    continue;
                };
                let mut inner = parcel.inner.lock();
                let waker = if inner.dropped {
                    // Its replies are skipped: the next part starts after them.
                    parts.skip(*count);
                    None
                } else {
                    let Inner { name, targets, .. } = &mut *inner;
                    let outcome = Outcome::fill_part(name, &batch, offset, targets, &mut parts);
                    inner.spent = spent;
                    inner.outcome = Some(outcome);
                    inner.waker.take()
                };
                drop(inner);
                // Let go before the wake: the execute then holds the last count, and keeps
                // the parcel on its own thread.
                *taken = None;
                self.answered += 1;
                offset += count;
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            if self.hand_over() {
                return;
            }
        }
    }

    /// After a round on a current-thread runtime, with executes queued for the next one,
    /// hands the queue on; true when it did (this flusher is done). Such a runtime runs its
    /// tasks only inside a `block_on` (a job thread's runtime, say), which returns once its
    /// own execute is answered and might not run again for a long time. The next round
    /// goes to a new flusher on a runtime that a queued execute is awaited on, a
    /// multi-thread one (always running) first; when none was queued on a runtime, the
    /// executes send their own commands.
    fn hand_over(&mut self) -> bool {
        if !Handle::try_current().is_ok_and(|here| is_current_thread(&here)) {
            return false;
        }
        let mut state = self.coalescer.state.lock();
        if state.queue.is_empty() {
            return false;
        }
        let mut runtimes = state.queue.iter().filter_map(|p| p.runtime.as_ref());
        let first = runtimes.next();
        let next = runtimes
            .find(|runtime| !is_current_thread(runtime))
            .or(first)
            .cloned();
        self.finished = true;
        match next {
            Some(runtime) => {
                // Spawned with the lock released: a runtime that is shutting down drops
                // the new flusher at once, which lets the queue go (`flushing` stays set
                // until then).
                drop(state);
                Flusher::new(&self.coalescer, &self.connection).spawn(&runtime);
            }
            None => release(&mut state),
        }
        true
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let error = RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the coalesced write of this execute was dropped before its replies were \
             handed out (the runtime running it shut down, or something in it panicked: \
             the backend, or a reply's conversion); its commands may or may not have run",
        ));
        let unanswered = self.taken.get(self.answered..).unwrap_or_default();
        for parcel in unanswered.iter().flatten() {
            let mut inner = parcel.inner.lock();
            if inner.dropped {
                continue;
            }
            let Inner { name, targets, .. } = &mut *inner;
            inner.outcome = Some(Outcome::failed(name, targets, error.clone()));
            if let Some(waker) = inner.waker.take() {
                waker.wake();
            }
        }
        release(&mut self.coalescer.state.lock());
    }
}

/// Marks the end of a send by the execute that found the connection idle.
pub(crate) struct Sent<'a> {
    coalescer: &'a Arc<Coalescer>,
}

impl Drop for Sent<'_> {
    fn drop(&mut self) {
        // What queued meanwhile is the flusher's.
        self.coalescer.state.lock().sending = false;
    }
}

/// A queued execute; dropped before its outcome arrived, it leaves the queue (unsent if
/// the flusher has not taken it) and its deferreds resolve to `Cancelled`.
pub(super) struct Waiting<'a> {
    coalescer: &'a Arc<Coalescer>,
    /// Taken in `drop` only.
    parcel: ManuallyDrop<Arc<Parcel>>,
    /// The outcome was taken: nothing of the parcel is left to give up.
    answered: bool,
}

impl<'a> Waiting<'a> {
    /// The outcome once the flusher wrote the parcel; when no flusher took it (the one
    /// running was dropped first), its commands are sent alone. That send is boxed: it is
    /// rare, and this future would otherwise hold room for it.
    pub(super) async fn outcome(mut self, connection: &'a Connection, name: &'a Name) -> Outcome {
        match self.written().await {
            Ok(outcome) => {
                self.answered = true;
                outcome
            }
            Err((cmds, targets)) => {
                Box::pin(connection.send_alone(name, cmds, targets, false, None)).await
            }
        }
    }

    /// The parcel's outcome once the flusher wrote it, or its commands and targets back
    /// when no flusher could be started.
    async fn written(&self) -> Result<Outcome, (Vec<Cmd>, Targets)> {
        poll_fn(|cx| {
            let mut inner = self.parcel.inner.lock();
            if let Some(outcome) = inner.outcome.take() {
                let spent = std::mem::take(&mut inner.spent);
                let mut targets = std::mem::take(&mut inner.targets);
                drop(inner);
                buffers::keep_cmds(spent);
                Outcome::keep(&mut targets);
                return Poll::Ready(Ok(outcome));
            }
            if inner.unsent {
                let cmds = inner.cmds.take().unwrap_or_default();
                let targets = std::mem::take(&mut inner.targets);
                return Poll::Ready(Err((cmds, targets)));
            }
            inner.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and not used after.
        let parcel = unsafe { ManuallyDrop::take(&mut self.parcel) };
        if self.answered {
            Parcel::keep(parcel);
            return;
        }
        // The targets still listed (not written yet) resolve to `Cancelled` when dropped;
        // the flusher empties the list of those it resolved.
        let (queued, targets) = {
            let mut inner = parcel.inner.lock();
            inner.dropped = true;
            // The flusher skips a parcel without commands, should it take it after this.
            (
                inner.cmds.take().is_some(),
                std::mem::take(&mut inner.targets),
            )
        };
        // Only a parcel still waiting for its write is in the queue: one that was answered
        // (the usual case) leaves without scanning it.
        if queued {
            self.coalescer
                .state
                .lock()
                .queue
                .retain(|p| !Arc::ptr_eq(p, &parcel));
        }
        drop(targets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many parcels this thread keeps.
    fn kept_parcels() -> usize {
        PARCELS.with(|kept| kept.borrow().len())
    }

    fn parcel(name: &Name) -> Arc<Parcel> {
        Parcel::new(name, vec![redis::cmd("PING")], Targets::default(), None)
    }

    #[test]
    fn an_answered_parcel_is_kept_emptied_for_the_next_waiting_execute_on_its_thread() {
        // A thread of its own: it keeps no parcel yet.
        std::thread::spawn(|| {
            let first = parcel(&Name::new("other"));
            let at = Arc::as_ptr(&first);
            let flushers = Arc::clone(&first);
            Parcel::keep(first);
            assert_eq!(kept_parcels(), 0, "another count is left: not kept");
            Parcel::keep(flushers);
            assert_eq!(kept_parcels(), 1, "the last count keeps it");
            assert!(
                PARCELS.with(|kept| kept.borrow()[0].inner.lock().name.is(&Name::Default)),
                "a kept parcel holds no connection's name"
            );

            let again = parcel(&Name::new("again"));
            assert!(std::ptr::eq(Arc::as_ptr(&again), at), "the kept one serves");
            assert_eq!(kept_parcels(), 0);
            {
                let inner = again.inner.lock();
                assert_eq!(&*inner.name, "again");
                assert_eq!(inner.cmds.as_ref().map(Vec::len), Some(1));
                assert!(inner.outcome.is_none() && !inner.dropped && !inner.unsent);
            }
            drop(again);

            // No more than KEEP_PARCELS are kept.
            let many: Vec<_> = (0..KEEP_PARCELS + 3)
                .map(|_| parcel(&Name::Default))
                .collect();
            many.into_iter().for_each(Parcel::keep);
            assert_eq!(kept_parcels(), KEEP_PARCELS);
        })
        .join()
        .expect("the test thread");
    }
}
