//! `Deferred<T>`: a handle to a value that exists once its pipeline has executed, and the
//! per-batch slot storage behind it.
//!
//! Slots are not allocated one by one: a batch hands them out from typed chunks of
//! [`CHUNK`] cells ([`Slots`]), and a deferred is a chunk pointer plus an index. This
//! module knows nothing of pipelines; a deferred that owns its root pipeline (a standalone
//! call) holds it as an [`Owner`].

use std::any::TypeId;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::Deref;
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use redis::Value;

use crate::buffers::{self, Spare};
use crate::error::Error;

/// Converts one raw reply into the deferred's value type.
pub(crate) type Decoder<T> = fn(Value) -> Result<T, redis::RedisError>;

/// Cells per chunk: one allocation serves this many deferreds of one type. A chunk is
/// aligned to this many bytes (`#[repr(align)]` on [`Chunk`]), which [`SlotRef`] relies on.
pub(crate) const CHUNK: usize = 16;

const _: () = assert!(std::mem::align_of::<Chunk<()>>() >= CHUNK);

/// What a slot holds once resolved: the value, or (its state says which) the error. No
/// discriminant: a slot of an `i64` takes 8 bytes where a `Result` would take 16.
union Resolved<T> {
    value: ManuallyDrop<T>,
    error: ManuallyDrop<Box<Error>>,
}

/// A slot's state: nothing written yet.
const EMPTY: u8 = 0;
/// A slot's state: the one writer is writing.
const WRITING: u8 = 1;
/// A slot's state: it holds a value, which never changes again.
const VALUE: u8 = 2;
/// A slot's state: it holds an error, which never changes again.
const FAILED: u8 = 3;

/// A block of slots of one value type, shared by the deferreds that point into it. Each
/// slot is empty until its command or callback resolves it, exactly once; the first
/// outcome stands.
///
/// A slot is a `OnceLock<Result<T, Error>>` without its blocking path and without the
/// `Result`'s discriminant: nobody ever waits for a slot being written (a reader then
/// sees it empty, as before it was written), so resolving a callback's slot is one
/// compare-and-swap and a store, a command's slot (written only through its one
/// [`Target`]) a load and a store, and the state byte says whether the slot holds a value
/// or an error.
/// `scripts/bench-cpu.sh` measured `OnceLock::set` at about 110 instructions per command,
/// a third of redpipe's overhead on a root batch; the benchmarks' 100,000-command batch
/// held 2.7 MiB less at its peak once states sat apart from slots and slots lost their
/// discriminant.
#[repr(align(16))]
pub(crate) struct Chunk<T> {
    /// How replies become values in this chunk (callback slots never use it).
    decode: Decoder<T>,
    /// Where the chunk goes when its last deferred is dropped: the pool of its thread
    /// (see [`pool_put`]), for chunks made by a root; `None` for those that are freed.
    recycle: Option<unsafe fn(Arc<Chunk<T>>)>,
    /// The handles to slots of this chunk ([`SlotRef`]: deferreds, combine steps), and
    /// while the chunk is open the slots not handed out yet: together they own one count
    /// of the chunk's `Arc`. A chunk opens with all sixteen counted at once, so handing
    /// out a slot costs no locked instruction (the `Arc` count per deferred it replaced
    /// cost one per command, about 6 ns on the benchmark machine).
    handles: AtomicUsize,
    states: [AtomicU8; CHUNK],
    slots: [UnsafeCell<MaybeUninit<Resolved<T>>>; CHUNK],
}

// SAFETY: a slot is written once, by the writer that won its state's EMPTY -> WRITING
// swap, and only read after VALUE or FAILED is published with Release and observed with
// Acquire; after that it is only shared (`&T` across threads needs `T: Sync`) or moved
// out or dropped through `&mut self` (which needs `T: Send` to cross threads). The same
// bounds as `OnceLock`.
unsafe impl<T: Send> Send for Chunk<T> {}
// SAFETY: see above.
unsafe impl<T: Send + Sync> Sync for Chunk<T> {}

impl<T> Chunk<T> {
    /// A chunk of empty slots with `handles` handles counted (see [`Chunk::handles`]).
    fn new(decode: Decoder<T>, handles: usize) -> Self {
        Chunk {
            decode,
            recycle: None,
            handles: AtomicUsize::new(handles),
            states: [const { AtomicU8::new(EMPTY) }; CHUNK],
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; CHUNK],
        }
    }

    /// Writes slot `index` unless it was written (or is being written) already. For
    /// slots that several writers may race to resolve (a callback's).
    #[inline]
    fn put(&self, index: u32, outcome: Result<T, Box<Error>>) {
        // Indices are only ever handed out below CHUNK.
        let at = index as usize % CHUNK;
        if self.states[at]
            .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: winning the swap makes this the only writer, and no reader looks
            // at the slot before its state is stored below.
            unsafe { self.write(at, outcome) };
        }
    }

    /// Writes slot `index` unless it was written already, without the compare-and-swap
    /// of [`put`](Self::put): a locked instruction per command on the fill path.
    ///
    /// # Safety
    ///
    /// No other write of this slot may happen at the same time: the caller holds the
    /// slot's one [`Target`] mutably (see [`ChunkTable::fill`]).
    #[inline]
    unsafe fn put_as_only_writer(&self, index: u32, outcome: Result<T, Box<Error>>) {
        let at = index as usize % CHUNK;
        if self.states[at].load(Ordering::Relaxed) == EMPTY {
            // SAFETY: no other writer (the caller's contract), and no reader looks at the
            // slot while its state is EMPTY.
            unsafe { self.write(at, outcome) };
        }
    }

    /// Writes the outcome into slot `at` and publishes it.
    ///
    /// # Safety
    ///
    /// The caller is the slot's only writer, and the slot is empty.
    #[inline]
    unsafe fn write(&self, at: usize, outcome: Result<T, Box<Error>>) {
        let (resolved, state) = match outcome {
            Ok(value) => (
                Resolved {
                    value: ManuallyDrop::new(value),
                },
                VALUE,
            ),
            Err(error) => (
                Resolved {
                    error: ManuallyDrop::new(error),
                },
                FAILED,
            ),
        };
        // SAFETY: the caller's contract: one writer, and no reader before the state is
        // stored below.
        unsafe { (*self.slots[at].get()).write(resolved) };
        self.states[at].store(state, Ordering::Release);
    }

    /// What slot `index` holds, if it is resolved.
    #[inline]
    fn read(&self, index: u32) -> Option<Result<&T, &Error>> {
        let at = index as usize % CHUNK;
        let state = self.states[at].load(Ordering::Acquire);
        if state != VALUE && state != FAILED {
            return None;
        }
        // SAFETY: VALUE or FAILED (seen with Acquire) means the slot was fully written,
        // with the field the state names, and is never written again while `self` is
        // borrowed.
        unsafe {
            let slot = (*self.slots[at].get()).assume_init_ref();
            Some(if state == VALUE {
                Ok(&*slot.value)
            } else {
                Err(&**slot.error)
            })
        }
    }

    /// Moves the outcome of slot `index` out, leaving it empty.
    fn take(&mut self, index: u32) -> Option<Result<T, Error>> {
        let at = index as usize % CHUNK;
        let state = std::mem::replace(self.states[at].get_mut(), EMPTY);
        // SAFETY: VALUE or FAILED means initialised with the field the state names; the
        // state is now EMPTY, so the slot is neither read nor dropped again.
        unsafe {
            let slot = self.slots[at].get_mut();
            match state {
                VALUE => Some(Ok(ManuallyDrop::into_inner(slot.assume_init_read().value))),
                FAILED => Some(Err(*ManuallyDrop::into_inner(
                    slot.assume_init_read().error,
                ))),
                other => {
                    *self.states[at].get_mut() = other;
                    None
                }
            }
        }
    }

    /// Resolves a slot once; a second outcome is ignored (the first one stands).
    pub(crate) fn set(&self, index: u32, outcome: Result<T, Error>) {
        self.put(index, outcome.map_err(Box::new));
    }

    /// Counts one handle more.
    #[inline]
    fn add_handle(&self) {
        // Relaxed, as `Arc::clone`: a new handle is made from one held, which keeps the
        // chunk alive meanwhile.
        if self.handles.fetch_add(1, Ordering::Relaxed) > isize::MAX as usize {
            // As `Arc`: a count this high means handles were leaked by the billion.
            std::process::abort();
        }
    }

    /// Gives back `n` handles of `chunk`; the last one gives back the handles' count of
    /// the chunk's `Arc` (see [`release`]).
    ///
    /// # Safety
    ///
    /// `chunk` is the pointer of an `Arc` (from `Arc::into_raw` or `Arc::as_ptr`) whose
    /// handles own one count of it, and the caller owns `n` of the handles, which it does
    /// not use again.
    #[inline]
    unsafe fn drop_handles(chunk: *const Self, n: usize) {
        // SAFETY: the caller's handles keep the chunk alive until they are given back.
        if unsafe { &*chunk }.handles.fetch_sub(n, Ordering::Release) == n {
            // Pairs with the other handles' release: their uses of the chunk happen
            // before it goes back (as in `Arc`'s drop).
            fence(Ordering::Acquire);
            // SAFETY: the caller's contract; the last handles own that count.
            release(unsafe { Arc::from_raw(chunk) });
        }
    }
}

impl<T> Chunk<T> {
    /// Drops every outcome and leaves every slot empty, as a new chunk's.
    fn clear(&mut self) {
        if !std::mem::needs_drop::<T>() {
            // Only failures own something (a boxed error): without one, every state just
            // goes back to EMPTY (a check and a store of the sixteen bytes, where the loop
            // below takes a branch per slot).
            let failed = self
                .states
                .iter_mut()
                .fold(false, |failed, state| failed | (*state.get_mut() == FAILED));
            if !failed {
                self.states
                    .iter_mut()
                    .for_each(|state| *state.get_mut() = EMPTY);
                return;
            }
        }
        for (state, slot) in self.states.iter_mut().zip(&mut self.slots) {
            let was = std::mem::replace(state.get_mut(), EMPTY);
            // SAFETY: VALUE or FAILED means initialised with the field the state names;
            // the state is EMPTY now, so it is neither read nor dropped again.
            unsafe {
                match was {
                    VALUE => ManuallyDrop::drop(&mut slot.get_mut().assume_init_mut().value),
                    FAILED => ManuallyDrop::drop(&mut slot.get_mut().assume_init_mut().error),
                    _ => {}
                }
            }
        }
    }
}

impl<T> Drop for Chunk<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// Chunks of at most this many bytes are kept for reuse when their last deferred goes (a
/// chunk of `i64` takes 160 bytes, one of `Vec<u8>` 416); larger ones are freed.
const POOLED_CHUNK_BYTES: usize = 1024;

/// The bytes of emptied chunks of one type a thread keeps (1,638 chunks of `i64`: what a
/// burst of about a thousand small calls in flight on the thread gives back).
const POOL_BYTES_PER_TYPE: usize = 256 * 1024;

/// The bytes of emptied chunks a thread keeps, all types together.
const POOL_BYTES: usize = 1024 * 1024;

/// A root takes kept chunks for about its first 64 KiB of chunks (410 of `i64`), and
/// allocates the rest: a large batch fills its chunks in order, and fresh ones come
/// contiguous where kept ones are scattered. (Served from a pool of 1,638 chunks of `i64`,
/// 100,000 commands from nested functions ran at 0.87x-0.89x a raw pipe's throughput
/// against 0.90x-0.91x with this limit, in alternating runs.)
const POOLED_BYTES_PER_ROOT: usize = 64 * 1024;

/// How many value types a thread keeps emptied chunks of.
const POOL_TYPES: usize = 16;

/// Emptied chunks, by value type, for the next roots of this thread: a batch's chunks are
/// freed with its last deferred, and the next batch (the next request's standalone call,
/// the next iteration of a loop) would otherwise allocate them again. Measured with
/// `scripts/bench-cpu.sh`: 0.08 of the 0.32 allocations per command beyond redis-rs of
/// nested functions, and one of the four of a small standalone call.
struct ChunkPool {
    kinds: Vec<(TypeId, Vec<Arc<dyn Fill>>)>,
    /// The bytes of the chunks kept, all types together.
    bytes: usize,
}

thread_local! {
    static CHUNK_POOL: RefCell<ChunkPool> = const {
        RefCell::new(ChunkPool {
            kinds: Vec::new(),
            bytes: 0,
        })
    };
}

/// Keeps `chunk`, whose last deferred was just dropped, in this thread's pool (emptied),
/// or frees it when the pool has no room for it.
///
/// # Safety
///
/// `chunk` is the only count of its `Arc`, seen so after an acquire fence (as in
/// [`release`]): `Arc::get_mut` would check it again with a locked instruction.
unsafe fn pool_put<T: Send + Sync + 'static>(chunk: Arc<Chunk<T>>) {
    // SAFETY: unique (the caller's contract), so nobody else reads it while it is
    // emptied; the pointer is the `Arc`'s own. Emptying runs the values' `Drop`, which
    // may drop other deferreds: done before the pool is borrowed.
    let cells = unsafe { &mut *Arc::as_ptr(&chunk).cast_mut() };
    cells.clear();
    let key = TypeId::of::<Chunk<T>>();
    let size = std::mem::size_of::<Chunk<T>>();
    let room = POOL_BYTES_PER_TYPE / size.max(1);
    let _ = CHUNK_POOL.try_with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return;
        };
        if pool.bytes + size > POOL_BYTES {
            return;
        }
        let at = match pool.kinds.iter().position(|(kind, _)| *kind == key) {
            Some(at) => at,
            None if pool.kinds.len() < POOL_TYPES => {
                pool.kinds.push((key, Vec::new()));
                pool.kinds.len() - 1
            }
            None => return,
        };
        let kept = &mut pool.kinds[at].1;
        if kept.len() < room {
            kept.push(chunk);
            pool.bytes += size;
        }
    });
}

/// An emptied chunk of `T` from this thread's pool, made to decode with `decode`, its
/// handles counted as a new chunk's.
fn pool_take<T: Send + Sync + 'static>(decode: Decoder<T>) -> Option<Arc<Chunk<T>>> {
    let key = TypeId::of::<Chunk<T>>();
    let kept = CHUNK_POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let (_, kept) = pool.kinds.iter_mut().find(|(kind, _)| *kind == key)?;
            let chunk = kept.pop()?;
            pool.bytes -= std::mem::size_of::<Chunk<T>>();
            Some(chunk)
        })
        .ok()
        .flatten()?;
    let raw = Arc::into_raw(kept).cast::<Chunk<T>>();
    // SAFETY: the pool keeps chunks under the `TypeId` of their own type, and this one is
    // `Chunk<T>`'s: the pointer is that of the `Arc<Chunk<T>>` it was made from (as in
    // `Slots::claim`).
    let chunk = unsafe { Arc::from_raw(raw) };
    // SAFETY: the pool held the only count (see `pool_put`), which is this one now, and
    // the pointer is the `Arc`'s own.
    let unique = unsafe { &mut *Arc::as_ptr(&chunk).cast_mut() };
    unique.decode = decode;
    *unique.handles.get_mut() = CHUNK;
    Some(chunk)
}

/// The slots of a batch's commands, seen without their value type.
pub(crate) trait Fill: Send + Sync {
    /// Decodes `reply` into cell `index`. On failure (an error reply, or a reply that does
    /// not convert) the cell is left as it is and the cause returned: the caller, which
    /// knows the command, resolves it with [`Fill::fail`].
    ///
    /// # Safety
    ///
    /// No other write of the cell may happen at the same time: the caller holds the cell's
    /// one [`Target`] mutably.
    unsafe fn fill(&self, index: u32, reply: Value) -> Result<(), redis::RedisError>;
    /// Resolves cell `index` to `error` (a no-op when it is already resolved).
    ///
    /// # Safety
    ///
    /// As for [`Fill::fill`].
    unsafe fn fail(&self, index: u32, error: Error);
    /// Gives back this count of the chunk: the last one sends it to its pool.
    fn release(self: Arc<Self>);
}

impl<T: Send + Sync> Fill for Chunk<T> {
    unsafe fn fill(&self, index: u32, reply: Value) -> Result<(), redis::RedisError> {
        let value = match reply {
            Value::ServerError(e) => return Err(e.into()),
            reply => (self.decode)(reply)?,
        };
        // The value goes straight into its cell.
        // SAFETY: the caller is the cell's only writer (this function's contract).
        unsafe { self.put_as_only_writer(index, Ok(value)) };
        Ok(())
    }

    unsafe fn fail(&self, index: u32, error: Error) {
        // SAFETY: as above.
        unsafe { self.put_as_only_writer(index, Err(Box::new(error))) };
    }

    fn release(self: Arc<Self>) {
        release(self);
    }
}

/// Where a command's reply goes: a slot of one of its root's chunks, named by number (so
/// a command costs no reference count), and the pipeline node that queued the command
/// (for callback scopes).
///
/// A command's slot has exactly one target, which is neither `Clone` nor `Copy`: whoever
/// holds it mutably is the slot's only writer through the batch, so filling needs no
/// compare-and-swap (see [`ChunkTable::fill`]).
pub(crate) struct Target {
    /// The chunk's number in its root's [`ChunkTable`], shifted left by [`CELL_BITS`],
    /// and the cell within the chunk.
    slot: u32,
    pub(crate) node: u32,
}

/// Bits of [`Target::slot`] that number the cell within its chunk.
const CELL_BITS: u32 = CHUNK.trailing_zeros();

impl Target {
    /// The target of `slot` for a command queued by pipeline node `node`.
    ///
    /// # Safety
    ///
    /// At most one target is made for a slot, and no other write of the slot happens at
    /// the same time as one through the target. (The one other writer of a command's
    /// slot, `Deferred::resolve_now` of a standalone call made inside a callback, runs on
    /// the thread that holds that call's unexecuted pipeline, and so its targets.)
    pub(crate) unsafe fn new<T>(slot: &NewSlot<T>, node: u32) -> Self {
        Target {
            slot: (slot.chunk_number << CELL_BITS) | slot.slot.index(),
            node,
        }
    }

    fn chunk(&self) -> usize {
        (self.slot >> CELL_BITS) as usize
    }

    fn cell(&self) -> u32 {
        self.slot & (CHUNK as u32 - 1)
    }
}

/// Every chunk of one root, numbered in the order they were made: what the numbers in
/// its targets refer to.
pub(crate) type ChunkList = Vec<Arc<dyn Fill>>;

thread_local! {
    /// Emptied chunk lists, for the next root on this thread (see [`buffers`]).
    static CHUNK_LISTS: Spare<Arc<dyn Fill>> = const { buffers::spare() };
    /// Emptied target lists, likewise.
    pub(crate) static TARGET_LISTS: Spare<Target> = const { buffers::spare() };
}

/// Gives back the list's counts of its chunks (the deferreds share their own; a chunk
/// whose deferreds are all gone goes to its pool) and keeps the emptied list for reuse.
pub(crate) fn keep_chunk_list(mut list: ChunkList) {
    list.drain(..).for_each(Fill::release);
    buffers::keep(&CHUNK_LISTS, list);
}

/// The chunk list of a root, as the targets of its connections hold it.
pub(crate) enum ChunkTable {
    /// The root sends on one connection (the usual case): its one list of targets owns
    /// the chunks.
    Own(ChunkList),
    /// The lists of targets of several connections share them.
    Shared(Arc<ChunkList>),
}

impl Default for ChunkTable {
    fn default() -> Self {
        ChunkTable::Own(ChunkList::default())
    }
}

impl ChunkTable {
    #[inline]
    fn get(&self, number: usize) -> Option<&Arc<dyn Fill>> {
        match self {
            ChunkTable::Own(chunks) => chunks.get(number),
            ChunkTable::Shared(chunks) => chunks.get(number),
        }
    }

    /// Decodes `reply` into `target`'s slot; on failure the slot is left to the caller
    /// (see [`Fill::fill`]).
    #[inline]
    pub(crate) fn fill(&self, target: &mut Target, reply: Value) -> Result<(), redis::RedisError> {
        // A target only ever names a chunk of its own root's table.
        match self.get(target.chunk()) {
            // SAFETY: `target` is the slot's one target (see `Target::new`), held mutably.
            Some(chunk) => unsafe { chunk.fill(target.cell(), reply) },
            None => Ok(()),
        }
    }

    /// Resolves `target`'s slot to `error` (a no-op when it is already resolved).
    pub(crate) fn fail(&self, target: &mut Target, error: Error) {
        if let Some(chunk) = self.get(target.chunk()) {
            // SAFETY: as in `fill`.
            unsafe { chunk.fail(target.cell(), error) };
        }
    }
}

/// The targets of commands on their way to Redis, with the chunks they name. Whatever is
/// still in here when it is dropped (the execute future was dropped before the replies
/// arrived) resolves to [`Error::Cancelled`], so no deferred of a batch is left not
/// ready.
#[derive(Default)]
pub(crate) struct Targets {
    pub(crate) list: Vec<Target>,
    pub(crate) chunks: ChunkTable,
}

impl Targets {
    /// Resolves every target left to `error`, and empties the list.
    pub(crate) fn fail_all(&mut self, error: &Error) {
        for target in &mut self.list {
            self.chunks.fail(target, error.clone());
        }
        self.list.clear();
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        if self.list.is_empty() {
            return;
        }
        self.fail_all(&Error::Cancelled(
            "the execute future was dropped before the replies arrived (a timeout or \
             select! around it); the commands may or may not have run"
                .into(),
        ));
    }
}

/// A counted handle to one slot: a pointer to its chunk, counted among the chunk's
/// [`handles`](Chunk::handles), that carries the slot's index in its low bits (a chunk is
/// aligned to [`CHUNK`] bytes, so they are free). A deferred is this and its owner's thin
/// handle: 16 bytes, where a pointer and a separate index took 24 and the owner as an
/// `Arc<dyn Owner>` another 8 (measured: 0.8 MiB of the peak heap of a 100,000-command
/// batch each).
pub(crate) struct SlotRef<T> {
    tagged: NonNull<Chunk<T>>,
    /// Owns one handle, and so shares the handles' count of the chunk's `Arc`.
    _owns: PhantomData<Arc<Chunk<T>>>,
}

// SAFETY: a `SlotRef` shares an `Arc<Chunk<T>>` with an index beside it, and is sent and
// shared exactly when that `Arc` may be.
unsafe impl<T> Send for SlotRef<T> where Arc<Chunk<T>>: Send {}
// SAFETY: see above.
unsafe impl<T> Sync for SlotRef<T> where Arc<Chunk<T>>: Sync {}

/// The bits of a chunk's address that a [`SlotRef`] uses for the slot's index.
const INDEX_MASK: usize = CHUNK - 1;

impl<T> SlotRef<T> {
    /// The handle of slot `index` (below [`CHUNK`]) of `chunk`, taking over one of its
    /// handles.
    ///
    /// # Safety
    ///
    /// `chunk` points to the chunk of a live `Arc` (from `Arc::into_raw` or
    /// `Arc::as_ptr`) whose handles own a count of it, and the caller owns one of its
    /// handles, which it gives to this one.
    unsafe fn from_handle(chunk: *const Chunk<T>, index: u32) -> Self {
        // Indices are only ever handed out below CHUNK, and the chunk's alignment leaves
        // the low bits of its address zero.
        let tagged = chunk
            .cast_mut()
            .map_addr(|addr| addr | (index as usize & INDEX_MASK));
        SlotRef {
            // SAFETY: `chunk` comes from an `Arc`, so it is not null, and setting low bits
            // of a non-null address keeps it non-null.
            tagged: unsafe { NonNull::new_unchecked(tagged) },
            _owns: PhantomData,
        }
    }

    /// The handle of slot `index` of `chunk`, a chunk of one slot that no one else
    /// holds, counted with one handle.
    fn first(chunk: Chunk<T>, index: u32) -> Self {
        debug_assert_eq!(chunk.handles.load(Ordering::Relaxed), 1);
        // SAFETY: the new `Arc`'s one count becomes the handles' count, and the one
        // handle counted in `chunk` is this one.
        unsafe { SlotRef::from_handle(Arc::into_raw(Arc::new(chunk)), index) }
    }

    /// The pointer to the chunk.
    fn raw(&self) -> *const Chunk<T> {
        self.tagged.as_ptr().map_addr(|addr| addr & !INDEX_MASK)
    }

    /// The slot's index in its chunk.
    pub(crate) fn index(&self) -> u32 {
        (self.tagged.as_ptr().addr() & INDEX_MASK) as u32
    }

    /// The chunk.
    pub(crate) fn chunk(&self) -> &Chunk<T> {
        // SAFETY: this handle owns a count of the `Arc`, so the chunk is alive while
        // `self` is borrowed.
        unsafe { &*self.raw() }
    }

    /// What the slot holds, if it is resolved.
    fn read(&self) -> Option<Result<&T, &Error>> {
        self.chunk().read(self.index())
    }

    /// Resolves the slot once; a second outcome is ignored (the first one stands).
    pub(crate) fn set(&self, outcome: Result<T, Error>) {
        self.chunk().set(self.index(), outcome);
    }

    /// A count of the chunk's `Arc` in place of this handle, and the index. When this
    /// was the chunk's only handle, the handles' count itself.
    fn into_parts(self) -> (Arc<Chunk<T>>, u32) {
        let index = self.index();
        let raw = self.raw();
        // Handles of this chunk dropped in a release batch go back first, so that the
        // last deferred of a chunk still finds itself the last one (and moves its value
        // out instead of cloning it).
        // SAFETY: `raw` comes from an `Arc`, so it is not null.
        ReleaseBatch::settle(unsafe { NonNull::new_unchecked(raw.cast_mut()) }.cast());
        if self.chunk().handles.load(Ordering::Acquire) == 1 {
            // The only handle (a new one is only ever made from a held one): the handles'
            // count becomes the caller's.
            self.chunk().handles.store(0, Ordering::Relaxed);
            std::mem::forget(self);
            // SAFETY: `raw` is the chunk of an `Arc` whose handles own a count, and the
            // only handle is gone (forgotten, its count not given back).
            return (unsafe { Arc::from_raw(raw) }, index);
        }
        // SAFETY: this handle keeps the chunk alive while a count of its own is added.
        let chunk = unsafe {
            Arc::increment_strong_count(raw);
            Arc::from_raw(raw)
        };
        drop(self);
        (chunk, index)
    }
}

impl<T> Clone for SlotRef<T> {
    fn clone(&self) -> Self {
        // The new handle belongs to the clone.
        self.chunk().add_handle();
        SlotRef {
            tagged: self.tagged,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for SlotRef<T> {
    fn drop(&mut self) {
        let raw = self.raw();
        // SAFETY: `raw` comes from an `Arc`, so it is not null.
        let chunk = unsafe { NonNull::new_unchecked(raw.cast_mut()) }.cast::<()>();
        // SAFETY: this handle is given back exactly once: counted for later here, or
        // given back below; the function is the chunk's own type's.
        if unsafe { ReleaseBatch::count(chunk, give_back::<T>) } {
            return;
        }
        // SAFETY: the pointer is that of an `Arc` whose handles own a count, and this
        // handle is given back exactly once, here.
        unsafe { Chunk::drop_handles(raw, 1) };
    }
}

/// Handles given back on this thread while a [`ReleaseBatch`] is open, not yet
/// subtracted from their chunk's count: how many, of which chunk.
#[derive(Clone, Copy)]
struct Pending {
    open: bool,
    chunk: Option<NonNull<()>>,
    count: usize,
    give_back: unsafe fn(NonNull<()>, usize),
}

thread_local! {
    static PENDING: Cell<Pending> = const {
        Cell::new(Pending {
            open: false,
            chunk: None,
            count: 0,
            give_back: give_back::<()>,
        })
    };
}

/// While one is open on a thread (the callbacks of an execute), the handles dropped there
/// one after another of the same chunk are given back together, with one locked
/// instruction instead of one each (the deferreds a combine step read, dropped with it).
/// The count stays on the chunk until then, so nothing is freed early; closing gives
/// back what is left, so nothing is kept after the callbacks either. Not `Send`: it must
/// close the batch of the thread that opened it (an execute future that held it across an
/// await would not be `Send` either, so it cannot).
pub(crate) struct ReleaseBatch(PhantomData<*const ()>);

impl ReleaseBatch {
    /// Opens the batch of this thread (until the returned guard is dropped).
    pub(crate) fn open() -> Self {
        let _ = PENDING.try_with(|pending| {
            let mut now = pending.get();
            now.open = true;
            pending.set(now);
        });
        ReleaseBatch(PhantomData)
    }

    /// Counts one handle of `chunk` given back, if a batch is open: true when it is
    /// counted (and will be given back with `give_back`), false when the caller gives it
    /// back itself.
    ///
    /// # Safety
    ///
    /// As for [`give_back`] with a count of one, `give_back` being `give_back::<T>` for
    /// the chunk's `T`; when this returns true, the caller's handle belongs to the batch.
    #[inline]
    unsafe fn count(chunk: NonNull<()>, give_back: unsafe fn(NonNull<()>, usize)) -> bool {
        PENDING
            .try_with(|pending| {
                let mut now = pending.get();
                if !now.open {
                    return false;
                }
                if now.chunk == Some(chunk) {
                    now.count += 1;
                    pending.set(now);
                    return true;
                }
                let earlier = now;
                now.chunk = Some(chunk);
                now.count = 1;
                now.give_back = give_back;
                // The batch is whole again before the earlier chunk's handles go back:
                // that may drop values, and their drops may give back handles too.
                pending.set(now);
                if let Some(earlier_chunk) = earlier.chunk {
                    // SAFETY: the handles counted for that chunk, with its function.
                    unsafe { (earlier.give_back)(earlier_chunk, earlier.count) };
                }
                true
            })
            .unwrap_or(false)
    }
}

impl ReleaseBatch {
    /// Gives back now the handles of `chunk` that this thread's batch holds, if any. The
    /// caller holds a handle of `chunk`, which keeps it alive through this.
    fn settle(chunk: NonNull<()>) {
        let _ = PENDING.try_with(|pending| {
            let mut now = pending.get();
            if now.chunk != Some(chunk) {
                return;
            }
            let (count, give_back) = (now.count, now.give_back);
            now.chunk = None;
            now.count = 0;
            pending.set(now);
            // SAFETY: the handles counted for that chunk, with its function; the
            // caller's own handle keeps the chunk's count above them.
            unsafe { give_back(chunk, count) };
        });
    }
}

impl Drop for ReleaseBatch {
    fn drop(&mut self) {
        let _ = PENDING.try_with(|pending| {
            let mut now = pending.get();
            let left = now;
            now.open = false;
            now.chunk = None;
            now.count = 0;
            pending.set(now);
            if let Some(chunk) = left.chunk {
                // SAFETY: the handles counted for that chunk, with its function. (Drops
                // it causes give their handles back at once: the batch is closed.)
                unsafe { (left.give_back)(chunk, left.count) };
            }
        });
    }
}

/// Gives back a count of a chunk's `Arc` (its handles', its chunk list's, or one a
/// deferred's `into_inner` took): the last one sends the chunk to its pool.
#[inline]
fn release<T>(chunk: Arc<Chunk<T>>) {
    match chunk.recycle {
        // The last count (no other holder is left to add one). A stale count above 1
        // only means that the chunk is freed as usual.
        Some(recycle) if Arc::strong_count(&chunk) == 1 => {
            // Pairs with the release in the other holders' drops (as in `Arc`'s own
            // drop): what they did with the chunk happens before it is emptied.
            fence(Ordering::Acquire);
            // SAFETY: the only count (and no `Weak` is ever made of a chunk).
            unsafe { recycle(chunk) }
        }
        _ => drop(chunk),
    }
}

/// A slot just handed out: the typed handle for the deferred, and where it is in its
/// root's chunks (for the command's [`Target`]).
pub(crate) struct NewSlot<T> {
    pub(crate) slot: SlotRef<T>,
    chunk_number: u32,
}

impl<T> NewSlot<T> {
    /// The deferred that reads this slot.
    pub(crate) fn deferred(self) -> Deferred<T> {
        Deferred {
            slot: self.slot,
            owner: None,
        }
    }
}

/// Chunks being filled, one per (value type, decoder), reused across the pipelines of one
/// root: most batches allocate a chunk per sixteen deferreds, not one per deferred.
#[derive(Default)]
pub(crate) struct Slots {
    /// Inline (no allocation per root); a full chunk's place is emptied, and when every
    /// place is taken the places are replaced in turn.
    open: [Option<Open>; OPEN_CHUNKS],
    /// Where the next new chunk goes when every place is taken.
    next: usize,
    /// Every chunk made for this root, by number.
    chunks: ChunkList,
}

/// A chunk with slots left to hand out. It holds no count of the chunk's `Arc`: the
/// handles of the slots left, which are its own, keep the chunk alive.
struct Open {
    type_id: TypeId,
    decode: usize,
    /// The `Chunk<T>` of the `Arc` (its `Arc::into_raw` pointer), its type erased.
    chunk: NonNull<()>,
    /// `Chunk::<T>::drop_handles` for that `T`.
    give_back: unsafe fn(NonNull<()>, usize),
    number: u32,
    /// Slots handed out; the handles of the others belong to this place.
    used: u32,
}

// SAFETY: an `Open` stands for handles of a `Chunk<T>` with `T: Send + Sync` (see
// `Slots::open_chunk`), which may be sent and shared as that chunk's `Arc` may.
unsafe impl Send for Open {}
// SAFETY: see above.
unsafe impl Sync for Open {}

impl Open {
    /// Closes the place: the handles of the slots it did not hand out go back.
    fn close(self) {
        let unclaimed = CHUNK - self.used as usize;
        if unclaimed > 0 {
            // SAFETY: the handles of the slots not handed out are this place's, the
            // function is the chunk's own type's, and the place is gone.
            unsafe { (self.give_back)(self.chunk, unclaimed) };
        }
    }
}

/// [`Chunk::drop_handles`] through a type-erased pointer.
///
/// # Safety
///
/// As for `drop_handles`, with `chunk` the pointer of a `Chunk<T>` of this `T`.
unsafe fn give_back<T>(chunk: NonNull<()>, n: usize) {
    // SAFETY: the caller's contract.
    unsafe { Chunk::drop_handles(chunk.cast::<Chunk<T>>().as_ptr(), n) };
}

impl Drop for Slots {
    fn drop(&mut self) {
        self.close_all();
    }
}

/// How many partly used chunks a root keeps open (types used in the same batch).
const OPEN_CHUNKS: usize = 4;

impl Slots {
    /// A slot for a command whose reply `decode` converts.
    pub(crate) fn command<T: Send + Sync + 'static>(&mut self, decode: Decoder<T>) -> NewSlot<T> {
        self.claim(decode, true)
    }

    /// A slot a callback fills (the decoder is never called, so any chunk of `T` serves).
    pub(crate) fn callback<T: Send + Sync + 'static>(&mut self) -> NewSlot<T> {
        self.claim(not_a_reply::<T>, false)
    }

    /// Resolves `targets` (of this root, not sent) to `error`.
    pub(crate) fn fail(&self, targets: &mut [Target], error: &Error) {
        for target in targets {
            if let Some(chunk) = self.chunks.get(target.chunk()) {
                // SAFETY: `target` is the slot's one target (see `Target::new`), held
                // mutably.
                unsafe { chunk.fail(target.cell(), error.clone()) };
            }
        }
    }

    /// Some chunk was made since the chunks were last taken.
    pub(crate) fn has_chunks(&self) -> bool {
        !self.chunks.is_empty() || self.open.iter().any(Option::is_some)
    }

    /// The chunks, for the targets that name them (no slot is claimed after this).
    pub(crate) fn take_chunks(&mut self) -> ChunkList {
        self.close_all();
        std::mem::take(&mut self.chunks)
    }

    fn close_all(&mut self) {
        for place in &mut self.open {
            if let Some(open) = place.take() {
                open.close();
            }
        }
    }

    #[inline(always)]
    fn claim<T: Send + Sync + 'static>(
        &mut self,
        decode: Decoder<T>,
        exact_decoder: bool,
    ) -> NewSlot<T> {
        let type_id = TypeId::of::<Chunk<T>>();
        let key = decode as usize;
        for place in &mut self.open {
            let Some(open) = place else { continue };
            if (exact_decoder && open.decode != key) || open.type_id != type_id {
                continue;
            }
            let chunk = open.chunk.cast::<Chunk<T>>().as_ptr().cast_const();
            // SAFETY: the pointer is that of an `Arc<Chunk<U>>` whose `TypeId` is
            // `open.type_id`, equal to `Chunk<T>`'s: so U is T. The handle of slot `used`
            // is the place's, and it hands it over.
            let slot = unsafe { SlotRef::from_handle(chunk, open.used) };
            let chunk_number = open.number;
            open.used += 1;
            if open.used as usize == CHUNK {
                // Every slot handed out: only the place's count of the chunk goes.
                *place = None;
            }
            return NewSlot { slot, chunk_number };
        }
        self.open_chunk(decode, type_id)
    }

    /// A slot of a new chunk (every open chunk of this type is full, or none was made
    /// yet), which stays open for the slots after it. Out of line, so that the common
    /// claim (an open chunk has room) stays small where it is inlined.
    #[cold]
    #[inline(never)]
    fn open_chunk<T: Send + Sync + 'static>(
        &mut self,
        decode: Decoder<T>,
        type_id: TypeId,
    ) -> NewSlot<T> {
        let key = decode as usize;
        let size = std::mem::size_of::<Chunk<T>>();
        let pooled = (self.chunks.len() * size < POOLED_BYTES_PER_ROOT)
            .then(|| pool_take(decode))
            .flatten();
        let chunk = pooled.unwrap_or_else(|| {
            let mut chunk = Chunk::new(decode, CHUNK);
            if size <= POOLED_CHUNK_BYTES {
                chunk.recycle = Some(pool_put::<T>);
            }
            Arc::new(chunk)
        });
        // A number of 28 bits (with 4 for the cell) names 2^32 slots: more commands than
        // fit in memory (each `redis::Cmd` alone takes 72 bytes).
        let number = self.chunks.len() as u32;
        if self.chunks.capacity() == 0 {
            self.chunks = buffers::take(&CHUNK_LISTS);
        }
        self.chunks.push(Arc::clone(&chunk) as Arc<dyn Fill>);
        let place = match self.open.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.next = (self.next + 1) % OPEN_CHUNKS;
                self.next
            }
        };
        // The chunk's handles (all sixteen counted, see `pool_take` and `Chunk::new`) own
        // the count of `chunk`'s `Arc`: the first is this slot's, the others the open
        // place's.
        let raw = Arc::into_raw(chunk);
        let replaced = self.open[place].replace(Open {
            type_id,
            decode: key,
            // SAFETY: from `Arc::into_raw`, so not null.
            chunk: unsafe { NonNull::new_unchecked(raw.cast_mut()) }.cast(),
            give_back: give_back::<T>,
            number,
            used: 1,
        });
        if let Some(replaced) = replaced {
            replaced.close();
        }
        // SAFETY: see above.
        let slot = unsafe { SlotRef::from_handle(raw, 0) };
        NewSlot {
            slot,
            chunk_number: number,
        }
    }
}

/// The root pipeline of a standalone call, owned by its deferred: the first await starts
/// its execute, and every await of a clone takes part in driving that one execute.
///
/// # Safety
///
/// An implementor is `#[repr(C)]` with an [`OwnerHeader`] made by [`OwnerHeader::of`] for
/// its own type as its first field: its handle, [`OwnerRef`], finds the owner's functions
/// there.
pub(crate) unsafe trait Owner: Send + Sync + 'static {
    /// Polls the execute, starting it on the first poll (`blocking` for
    /// [`Deferred::wait`]); `Ready` once it finished, whoever drove it. `awaiter` is this
    /// await's number, 0 until its first poll gives it one (from then on it counts among
    /// those keeping the execute alive). `alone` says that the caller's handle is the only
    /// one: no other can be made from nothing (there is no `Weak`), so no other await can
    /// join, and none is polling.
    fn poll_run(
        &self,
        cx: &mut Context<'_>,
        blocking: bool,
        awaiter: &mut u32,
        alone: bool,
    ) -> Poll<()>;

    /// An awaiter that joined was dropped before the execute finished: the last one to go
    /// drops the execute (its deferreds resolve to `Cancelled`).
    fn leave(&self);

    /// Gives up a handle's count of the owner: the last one drops it (which may keep its
    /// memory for the next owner).
    fn release(this: Arc<Self>) {
        drop(this);
    }
}

/// The first field of an [`Owner`]: the functions of its type, so that its handle is one
/// pointer wide (an `Arc<dyn Owner>` takes two, and every deferred carries one).
#[repr(C)]
pub(crate) struct OwnerHeader {
    actions: &'static OwnerActions,
}

impl OwnerHeader {
    /// The header of an owner of type `O`.
    pub(crate) fn of<O: Owner>() -> Self {
        OwnerHeader {
            actions: &ActionsOf::<O>::ACTIONS,
        }
    }
}

/// What an [`OwnerRef`] can do with the owner it points to, for one owner type.
struct OwnerActions {
    poll_run: unsafe fn(NonNull<OwnerHeader>, &mut Context<'_>, bool, &mut u32) -> Poll<()>,
    leave: unsafe fn(NonNull<OwnerHeader>),
    retain: unsafe fn(NonNull<OwnerHeader>),
    release: unsafe fn(NonNull<OwnerHeader>),
}

struct ActionsOf<O>(PhantomData<O>);

impl<O: Owner> ActionsOf<O> {
    const ACTIONS: OwnerActions = OwnerActions {
        poll_run: poll_run_of::<O>,
        leave: leave_of::<O>,
        retain: retain_of::<O>,
        release: release_of::<O>,
    };
}

// SAFETY (the four below): `header` comes from `Arc::<O>::into_raw` (see `OwnerRef::new`),
// and the handle calling holds one count of that `Arc`, so the `O` is alive.
unsafe fn poll_run_of<O: Owner>(
    header: NonNull<OwnerHeader>,
    cx: &mut Context<'_>,
    blocking: bool,
    awaiter: &mut u32,
) -> Poll<()> {
    // SAFETY: see above; the `Arc` is only looked at, and its count stays the handle's.
    let owner = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(header.cast::<O>().as_ptr()) });
    let alone = Arc::strong_count(&owner) == 1;
    if alone {
        // The other handles' last uses come before this one's (their counts were given up
        // with release ordering, as in `Arc`'s drop).
        fence(Ordering::Acquire);
    }
    owner.poll_run(cx, blocking, awaiter, alone)
}

unsafe fn leave_of<O: Owner>(header: NonNull<OwnerHeader>) {
    // SAFETY: see above.
    unsafe { header.cast::<O>().as_ref() }.leave();
}

unsafe fn retain_of<O: Owner>(header: NonNull<OwnerHeader>) {
    // SAFETY: see above; the new count is the clone's.
    unsafe { Arc::increment_strong_count(header.cast::<O>().as_ptr()) };
}

unsafe fn release_of<O: Owner>(header: NonNull<OwnerHeader>) {
    // SAFETY: see above; the handle gives its count up, and is not used again.
    O::release(unsafe { Arc::from_raw(header.cast::<O>().as_ptr()) });
}

/// A counted handle to an [`Owner`]: an `Arc<O>` seen through its header.
pub(crate) struct OwnerRef(NonNull<OwnerHeader>);

// SAFETY: an `OwnerRef` is an `Arc<O>` of an `O: Owner`, which is `Send + Sync`.
unsafe impl Send for OwnerRef {}
// SAFETY: see above.
unsafe impl Sync for OwnerRef {}

impl OwnerRef {
    /// The handle of `owner`, which it takes over.
    pub(crate) fn new<O: Owner>(owner: Arc<O>) -> Self {
        let raw = Arc::into_raw(owner).cast_mut().cast::<OwnerHeader>();
        // SAFETY: a pointer from `Arc::into_raw` is not null; `O` starts with its header
        // (`Owner`'s contract), so the cast pointer points to it.
        OwnerRef(unsafe { NonNull::new_unchecked(raw) })
    }

    fn actions(&self) -> &'static OwnerActions {
        // SAFETY: the owner is alive while this handle is, and its header is initialised.
        unsafe { self.0.as_ref() }.actions
    }

    /// See [`Owner::poll_run`].
    fn poll_run(&self, cx: &mut Context<'_>, blocking: bool, awaiter: &mut u32) -> Poll<()> {
        // SAFETY: `actions` are those of the owner's own type (`OwnerHeader::of`).
        unsafe { (self.actions().poll_run)(self.0, cx, blocking, awaiter) }
    }

    /// See [`Owner::leave`].
    fn leave(&self) {
        // SAFETY: as in `poll_run`.
        unsafe { (self.actions().leave)(self.0) }
    }
}

impl Clone for OwnerRef {
    fn clone(&self) -> Self {
        // SAFETY: as in `poll_run`; the count taken is the clone's.
        unsafe { (self.actions().retain)(self.0) };
        OwnerRef(self.0)
    }
}

impl Drop for OwnerRef {
    fn drop(&mut self) {
        // SAFETY: as in `poll_run`; this handle's count is given up here, once.
        unsafe { (self.actions().release)(self.0) }
    }
}

/// A cheap, cloneable handle to a value that exists once its pipeline has executed: the
/// reply of a command, or the result of a function's combine step.
///
/// Read it with [`try_get`](Deferred::try_get) (never panics) or through `Deref` after the
/// pipeline executed. A deferred returned by a standalone call (no parent pipeline) owns
/// its root pipeline: `.await` executes it, in one round trip per connection, and yields
/// the value.
///
/// Every deferred that was queued resolves exactly once: to its value, to its command's
/// error, to [`Error::Aborted`] (a combine step skipped because a command of its scope
/// failed) or to [`Error::Cancelled`] (the execute was dropped, or an earlier combine step
/// panicked). Only a deferred whose pipeline has not executed yet is
/// [`NotReady`](Error::NotReady).
///
/// ```no_run
/// # async fn demo() -> redpipe_runtime::Result<()> {
/// let pipe = redpipe_runtime::pipeline();
/// let n: redpipe_runtime::Deferred<i64> = pipe.incr("hits", 1);
/// assert!(!n.is_ready());
/// pipe.execute().await?;
/// println!("hits = {}", *n);
/// # Ok(()) }
/// ```
#[must_use = "a deferred holds the only handle to its result"]
pub struct Deferred<T> {
    slot: SlotRef<T>,
    owner: Option<OwnerRef>,
}

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Deferred {
            slot: self.slot.clone(),
            owner: self.owner.clone(),
        }
    }
}

impl<T> Deferred<T> {
    /// A deferred that is already resolved to `value` (useful for functions that know
    /// their answer without asking Redis).
    pub fn ready(value: T) -> Self {
        Self::resolved(Ok(value))
    }

    /// A deferred that is already resolved to `error`.
    pub fn failed(error: Error) -> Self {
        Self::resolved(Err(error))
    }

    fn resolved(outcome: Result<T, Error>) -> Self {
        let chunk = Chunk::new(not_a_reply, 1);
        chunk.set(0, outcome);
        Deferred {
            slot: SlotRef::first(chunk, 0),
            owner: None,
        }
    }

    /// Makes this deferred own its root pipeline, so awaiting it executes that pipeline.
    pub(crate) fn owned_by(mut self, owner: OwnerRef) -> Self {
        self.owner = Some(owner);
        self
    }

    /// True for a standalone call's deferred that is not resolved yet: awaiting it
    /// executes the call.
    pub(crate) fn is_unexecuted_call(&self) -> bool {
        self.owner.is_some() && self.cell().is_none()
    }

    fn cell(&self) -> Option<Result<&T, &Error>> {
        self.slot.read()
    }

    /// Resolves the slot now (a no-op when it already holds an outcome).
    pub(crate) fn resolve_now(&self, outcome: Result<T, Error>) {
        self.slot.set(outcome);
    }

    /// The value, once the pipeline executed and this command or callback succeeded.
    ///
    /// Returns [`Error::NotReady`] before execution, or the error this deferred resolved
    /// to.
    pub fn try_get(&self) -> Result<&T, Error> {
        match self.cell() {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(Error::clone(e)),
            None => Err(Error::NotReady),
        }
    }

    /// The outcome, borrowed: `None` before execution.
    pub fn outcome(&self) -> Option<Result<&T, &Error>> {
        self.cell()
    }

    /// `Err` when the deferred already holds an error, which is how a call that failed
    /// while queueing (an invalid value, a bad key) reports: nothing of it was queued.
    /// Lets a function stop at once with `?` (so everything it queued is discarded):
    /// `NAMES.set(pipe, id, name).check()?;`
    pub fn check(self) -> Result<Self, Error> {
        match self.cell() {
            Some(Err(e)) => Err(Error::clone(e)),
            _ => Ok(self),
        }
    }

    /// True once the deferred holds a value or an error.
    pub fn is_ready(&self) -> bool {
        self.cell().is_some()
    }
}

impl<T: Clone> Deferred<T> {
    /// The value, cloned out of the slot (which keeps it for other handles): the same as
    /// `try_get().cloned()`.
    pub fn get_cloned(&self) -> Result<T, Error> {
        self.try_get().cloned()
    }

    /// The value, moved out when this is the last handle to its slot's chunk and cloned
    /// otherwise.
    pub fn into_inner(self) -> Result<T, Error> {
        let Deferred { slot, .. } = self;
        let (mut chunk, index) = slot.into_parts();
        let outcome = match Arc::get_mut(&mut chunk) {
            Some(unique) => unique.take(index).unwrap_or(Err(Error::NotReady)),
            None => match chunk.read(index) {
                Some(Ok(value)) => Ok(value.clone()),
                Some(Err(e)) => Err(Error::clone(e)),
                None => Err(Error::NotReady),
            },
        };
        release(chunk);
        outcome
    }
}

/// The decoder of slots that callbacks (not replies) fill; never called with a reply.
pub(crate) fn not_a_reply<T>(_: Value) -> Result<T, redis::RedisError> {
    Err(redis::RedisError::from((
        redis::ErrorKind::Client,
        "this deferred is filled by a callback, not by a reply",
    )))
}

/// Reads the value after execution.
///
/// # Panics
///
/// This is the one documented panic of redpipe: dereferencing a deferred that is not
/// ready, or that resolved to an error, panics with a message saying which. Use
/// [`Deferred::try_get`] where that can happen.
impl<T> Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self.cell() {
            Some(Ok(value)) => value,
            Some(Err(e)) => panic!("deferred holds an error, not a value: {e}"),
            None => panic!("{}", Error::NotReady),
        }
    }
}

impl<T: PartialEq<U>, U> PartialEq<U> for Deferred<T> {
    /// Equal when the deferred holds a value equal to `other`; a deferred that is not
    /// ready or holds an error equals nothing.
    fn eq(&self, other: &U) -> bool {
        matches!(self.cell(), Some(Ok(v)) if v == other)
    }
}

impl<T: fmt::Debug> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell() {
            Some(Ok(v)) => f.debug_tuple("Deferred").field(v).finish(),
            Some(Err(e)) => f.debug_tuple("Deferred").field(&Err::<(), _>(e)).finish(),
            None => f.write_str("Deferred(<not ready>)"),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Deferred<T> {
    /// Displays the value; `<not ready>` or `<error: ...>` otherwise (formatting never
    /// fails, so `to_string` cannot panic).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cell() {
            Some(Ok(v)) => v.fmt(f),
            Some(Err(e)) => write!(f, "<error: {e}>"),
            None => f.write_str("<not ready>"),
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for Deferred<T> {
    /// Serialises the value, so a deferred inside a JSON document reads as its result.
    /// A deferred that is not ready or holds an error is a serialisation error.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.try_get() {
            Ok(v) => v.serialize(serializer),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
}

/// Awaiting a deferred:
/// - one that owns its root pipeline (a standalone call) executes it and yields the value,
///   or the error this deferred resolved to; clones awaited at the same time wait for the
///   one execute and all get the outcome;
/// - one that is already resolved yields its outcome;
/// - one that waits on a parent pipeline that has not executed yields
///   [`Error::NotReady`] at once (it never hangs).
///
/// The value is moved out when this is the last handle, cloned otherwise.
impl<T: Clone + Send + Sync + 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Error>;
    type IntoFuture = DeferredFuture<T>;

    fn into_future(self) -> DeferredFuture<T> {
        self.into_future_with(false)
    }
}

impl<T> Deferred<T> {
    /// The future of `.await` (or, `blocking`, of [`Deferred::wait`]).
    pub(crate) fn into_future_with(mut self, blocking: bool) -> DeferredFuture<T> {
        DeferredFuture {
            owner: self.owner.take(),
            deferred: Some(self),
            blocking,
            awaiter: 0,
        }
    }
}

/// The future of an awaited [`Deferred`]: executes the root pipeline it owns (a standalone
/// call), if any, then yields its outcome (the value cloned when other clones share it).
///
/// Dropping it before it completes leaves the execute to the other awaits of clones of the
/// same deferred; when none is left, the execute is dropped: every deferred of the batch
/// that has no outcome yet resolves to [`Error::Cancelled`].
#[must_use = "futures do nothing unless awaited"]
pub struct DeferredFuture<T> {
    deferred: Option<Deferred<T>>,
    owner: Option<OwnerRef>,
    blocking: bool,
    /// This await's number with its owner (0 before its first poll).
    awaiter: u32,
}

impl<T> std::fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredFuture")
            .field("executing", &self.owner.is_some())
            .finish()
    }
}

impl<T: Clone> Future for DeferredFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(owner) = &this.owner {
            if owner
                .poll_run(cx, this.blocking, &mut this.awaiter)
                .is_pending()
            {
                return Poll::Pending;
            }
            this.owner = None;
        }
        Poll::Ready(match this.deferred.take() {
            Some(deferred) => deferred.into_inner(),
            // Polled again after it completed: what a fresh read would say.
            None => Err(Error::invalid_operation(
                "a DeferredFuture was polled after it completed",
            )),
        })
    }
}

impl<T> Drop for DeferredFuture<T> {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take().filter(|_| self.awaiter != 0) {
            owner.leave();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_serve_sixteen_slots_of_one_type_and_decoder() {
        let mut slots = Slots::default();
        let first = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
        for n in 1..CHUNK as u32 {
            let next = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
            assert!(std::ptr::eq(first.slot.chunk(), next.slot.chunk()));
            assert_eq!(next.slot.index(), n);
        }
        let fresh = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
        assert!(!std::ptr::eq(first.slot.chunk(), fresh.slot.chunk()));
        // Another type gets its own chunk; callback slots share any chunk of their type.
        let text = slots.command::<String>(crate::pipeline::decode_reply::<String>);
        let result = slots.callback::<i64>();
        assert!(std::ptr::eq(fresh.slot.chunk(), result.slot.chunk()));
        assert_eq!(text.slot.index(), 0);
    }

    /// Counts its drops.
    struct Counted(Arc<std::sync::atomic::AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn doubled(reply: Value) -> Result<i64, redis::RedisError> {
        Ok(2 * <i64 as redis::FromRedisValue>::from_redis_value(reply)?)
    }

    #[test]
    fn a_chunk_whose_deferreds_are_gone_is_emptied_and_reused_on_its_thread() {
        // A thread of its own: its pool starts empty.
        std::thread::spawn(|| {
            let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut slots = Slots::default();
            let (a, b, c) = (
                slots.callback::<Counted>(),
                slots.callback::<Counted>(),
                slots.callback::<Counted>(),
            );
            let first: *const _ = a.slot.chunk();
            a.slot.set(Ok(Counted(Arc::clone(&drops))));
            b.slot.set(Err(Error::NotReady));
            let (a, b, c) = (a.deferred(), b.deferred(), c.deferred());
            let kept = a.clone();
            // The batch is done with its chunks; its deferreds go, but for one clone.
            keep_chunk_list(slots.take_chunks());
            drop((a, b, c));
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            assert!(
                kept.try_get().is_ok(),
                "a live deferred still reads its slot"
            );
            drop(kept);
            assert_eq!(
                drops.load(Ordering::SeqCst),
                1,
                "emptied: the value is dropped once"
            );

            // The next root of this thread gets the same chunk, every slot empty.
            let mut slots = Slots::default();
            let again = slots.callback::<Counted>();
            assert!(std::ptr::eq(again.slot.chunk(), first));
            assert!((0..CHUNK as u32).all(|index| again.slot.chunk().read(index).is_none()));
            drop(again);
            drop(slots);
            assert_eq!(drops.load(Ordering::SeqCst), 1);

            // A reused chunk decodes with the decoder of the command that claims it.
            let mut slots = Slots::default();
            let plain = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
            let first: *const _ = plain.slot.chunk();
            drop(plain.deferred());
            keep_chunk_list(slots.take_chunks());
            let mut slots = Slots::default();
            let twice = slots.command::<i64>(doubled);
            assert!(std::ptr::eq(twice.slot.chunk(), first));
            let (chunk, index) = (twice.slot.chunk(), twice.slot.index());
            // SAFETY: nothing else writes this slot.
            assert!(unsafe { chunk.fill(index, Value::Int(4)) }.is_ok());
            assert!(matches!(twice.slot.read(), Some(Ok(8))));

            // A chunk of a type without drop glue has its states reset at once; one with
            // a failure still drops its boxed error (which the sanitizer run would report
            // as a leak).
            for fail in [false, true] {
                let mut slots = Slots::default();
                let (value, failure) = (slots.callback::<u16>(), slots.callback::<u16>());
                let first: *const _ = value.slot.chunk();
                value.slot.set(Ok(7));
                if fail {
                    failure.slot.set(Err(Error::NotReady));
                }
                drop((value.deferred(), failure.deferred()));
                keep_chunk_list(slots.take_chunks());
                let mut slots = Slots::default();
                let again = slots.callback::<u16>();
                assert!(std::ptr::eq(again.slot.chunk(), first));
                assert!((0..CHUNK as u32).all(|index| again.slot.chunk().read(index).is_none()));
            }

            // Chunks of large values are freed, not kept.
            let large = slots.callback::<[u8; 256]>();
            assert!(large.slot.chunk().recycle.is_none());
        })
        .join()
        .expect("the test thread");
    }

    /// How many chunks this thread's pool keeps, and their bytes.
    fn kept_chunks() -> (usize, usize) {
        CHUNK_POOL.with(|pool| {
            let pool = pool.borrow();
            let count = pool.kinds.iter().map(|(_, kept)| kept.len()).sum();
            (count, pool.bytes)
        })
    }

    /// Makes `chunks` chunks of `T` at once (a burst of calls in flight), then gives them
    /// all back.
    fn burst<T: Send + Sync + 'static>(chunks: usize) {
        let mut slots = Slots::default();
        let deferreds: Vec<Deferred<T>> = (0..chunks * CHUNK)
            .map(|_| slots.callback::<T>().deferred())
            .collect();
        keep_chunk_list(slots.take_chunks());
        drop(deferreds);
    }

    #[test]
    fn a_threads_pool_keeps_a_bursts_chunks_within_its_budgets() {
        // A thread of its own: its pool starts empty.
        std::thread::spawn(|| {
            let size = std::mem::size_of::<Chunk<i64>>();
            let room = POOL_BYTES_PER_TYPE / size;
            assert!(room >= 1000, "a burst of a thousand calls is kept");
            burst::<i64>(room + 5);
            assert_eq!(kept_chunks(), (room, room * size), "capped per type");
            // The next burst takes them back (and keeps them again).
            burst::<i64>(room);
            assert_eq!(kept_chunks(), (room, room * size));
            // Other types (of the same size) fill the budget of all types, not more.
            burst::<u64>(room);
            burst::<f64>(room);
            burst::<usize>(room);
            burst::<isize>(room);
            let (count, bytes) = kept_chunks();
            assert_eq!(bytes, count * size);
            assert!(bytes <= POOL_BYTES && bytes + size > POOL_BYTES, "{bytes}");

            // A large root takes kept chunks for its first 64 KiB only.
            let served = POOLED_BYTES_PER_ROOT.div_ceil(size);
            let kept_before = count;
            let mut slots = Slots::default();
            let large: Vec<Deferred<i64>> = (0..(served + 10) * CHUNK)
                .map(|_| slots.callback::<i64>().deferred())
                .collect();
            assert_eq!(kept_chunks().0, kept_before - served);
            keep_chunk_list(slots.take_chunks());
            drop(large);
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn a_slot_keeps_its_first_outcome_and_drops_it_once() {
        let value = Arc::new(());
        let mut chunk = Chunk::new(not_a_reply, 0);
        assert!(chunk.read(3).is_none());
        chunk.set(3, Ok(Arc::clone(&value)));
        chunk.set(3, Ok(Arc::new(())));
        assert!(matches!(chunk.read(3), Some(Ok(v)) if Arc::ptr_eq(v, &value)));
        assert!(chunk.read(2).is_none() && chunk.read(4).is_none());
        assert_eq!(Arc::strong_count(&value), 2);
        let taken = chunk.take(3);
        assert!(chunk.read(3).is_none() && chunk.take(3).is_none());
        drop(chunk);
        assert_eq!(
            Arc::strong_count(&value),
            2,
            "a taken value is not dropped twice"
        );
        drop(taken);
        let mut chunk = Chunk::new(not_a_reply, 0);
        chunk.set(0, Ok(Arc::clone(&value)));
        chunk.set(CHUNK as u32 - 1, Ok(Arc::clone(&value)));
        chunk.set(1, Err(Error::NotReady));
        chunk.set(1, Ok(Arc::clone(&value)));
        chunk.set(2, Err(Error::NotReady));
        assert!(matches!(chunk.read(1), Some(Err(Error::NotReady))));
        assert!(matches!(chunk.take(2), Some(Err(Error::NotReady))));
        assert!(chunk.read(2).is_none());
        drop(chunk);
        assert_eq!(
            Arc::strong_count(&value),
            1,
            "written values are dropped with their chunk"
        );
    }

    #[test]
    fn a_slot_handle_keeps_its_index_and_counts_its_chunk() {
        assert_eq!(std::mem::size_of::<Deferred<i64>>(), 16);
        let chunk = Arc::new(Chunk::<u32>::new(not_a_reply, CHUNK));
        let handles_count = Arc::into_raw(Arc::clone(&chunk));
        let handles: Vec<SlotRef<u32>> = (0..CHUNK as u32)
            // SAFETY: the chunk counts CHUNK handles, one per index, whose count of the
            // `Arc` is `handles_count`.
            .map(|index| unsafe { SlotRef::from_handle(handles_count, index) })
            .collect();
        let count = |chunk: &Arc<Chunk<u32>>| {
            (
                Arc::strong_count(chunk),
                chunk.handles.load(Ordering::SeqCst),
            )
        };
        assert_eq!(count(&chunk), (2, CHUNK));
        for (index, handle) in handles.iter().enumerate() {
            assert_eq!(handle.index(), index as u32);
            assert!(std::ptr::eq(handle.chunk(), &*chunk));
            handle.set(Ok(index as u32 * 10));
        }
        let copy = handles[7].clone();
        assert_eq!(count(&chunk), (2, CHUNK + 1));
        assert!(matches!(copy.read(), Some(Ok(70))));
        // One handle among others becomes a count of its own.
        let (arc, index) = copy.into_parts();
        assert_eq!((index, count(&chunk)), (7, (3, CHUNK)));
        drop(arc);
        let mut handles = handles;
        let last = handles.pop().expect("sixteen handles");
        drop(handles);
        assert_eq!(count(&chunk), (2, 1));
        // The last handle becomes the handles' count itself.
        let (arc, index) = last.into_parts();
        assert_eq!((index, count(&chunk)), (CHUNK as u32 - 1, (2, 0)));
        drop(arc);
        assert_eq!(count(&chunk), (1, 0));
    }

    #[test]
    fn handles_dropped_in_a_release_batch_go_back_when_it_closes_and_values_drop_once() {
        // A chunk of sixteen handles, each slot holding a value that counts its drops.
        fn chunk_of<T: Send + Sync + 'static>(
            mut value: impl FnMut(u32) -> T,
        ) -> (Arc<Chunk<T>>, Vec<SlotRef<T>>) {
            let chunk = Arc::new(Chunk::<T>::new(not_a_reply, CHUNK));
            let handles_count = Arc::into_raw(Arc::clone(&chunk));
            let handles: Vec<SlotRef<T>> = (0..CHUNK as u32)
                // SAFETY: the chunk counts CHUNK handles, one per index, whose count of
                // the `Arc` is `handles_count`.
                .map(|index| unsafe { SlotRef::from_handle(handles_count, index) })
                .collect();
            for (index, handle) in handles.iter().enumerate() {
                handle.set(Ok(value(index as u32)));
            }
            (chunk, handles)
        }
        let handles_of = |chunk: &Chunk<Arc<()>>| chunk.handles.load(Ordering::SeqCst);
        let value = Arc::new(());
        let (a, mut a_handles) = chunk_of(|_| Arc::clone(&value));
        let (b, mut b_handles) = chunk_of(|_| Arc::clone(&value));
        // Values that hold handles of `a` (eight of them): dropping them gives those back
        // while a batch is giving back theirs.
        let (c, mut c_handles) = chunk_of(|index| (index < 8).then(|| a_handles.pop()));
        assert_eq!(Arc::strong_count(&value), 2 * CHUNK + 1);

        let batch = ReleaseBatch::open();
        drop(a_handles.drain(..4));
        assert_eq!(handles_of(&a), CHUNK, "counted, not yet given back");
        // Another chunk: the four of `a` go back with one subtraction.
        drop(b_handles.drain(..2));
        assert_eq!(handles_of(&a), CHUNK - 4);
        assert_eq!(b.handles.load(Ordering::SeqCst), CHUNK);
        // Alternating chunks give back at each change.
        drop(a_handles.pop());
        assert_eq!(b.handles.load(Ordering::SeqCst), CHUNK - 2);
        // Every handle of `c`, the last holders of its chunk: its values (the handles of
        // `a` they hold) are dropped when the batch closes, while it gives back.
        drop(c);
        drop(c_handles.drain(..));
        assert_eq!(handles_of(&a), CHUNK - 4 - 1);
        drop(batch);
        assert_eq!(
            handles_of(&a),
            CHUNK - 4 - 1 - 8,
            "the handles held by `c`'s values went back too"
        );

        // Closed: a handle goes back at once.
        drop(b_handles.pop());
        assert_eq!(b.handles.load(Ordering::SeqCst), CHUNK - 3);
        drop((a_handles, b_handles));
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (1, 1));
        drop((a, b));
        assert_eq!(Arc::strong_count(&value), 1, "every value dropped once");
    }

    #[test]
    fn the_last_deferred_of_a_chunk_moves_its_value_out_inside_a_release_batch() {
        /// Counts its clones.
        struct Cloned(Arc<AtomicUsize>);
        impl Clone for Cloned {
            fn clone(&self) -> Self {
                self.0.fetch_add(1, Ordering::SeqCst);
                Cloned(Arc::clone(&self.0))
            }
        }
        let clones = Arc::new(AtomicUsize::new(0));
        let chunk = Arc::new(Chunk::<Cloned>::new(not_a_reply, CHUNK));
        let handles_count = Arc::into_raw(chunk);
        let mut deferreds: Vec<Deferred<Cloned>> = (0..CHUNK as u32)
            // SAFETY: the chunk counts CHUNK handles, one per index, whose count of the
            // `Arc` is `handles_count`, and nothing else holds it.
            .map(|index| Deferred {
                slot: unsafe { SlotRef::from_handle(handles_count, index) },
                owner: None,
            })
            .collect();
        for deferred in &deferreds {
            deferred.slot.set(Ok(Cloned(Arc::clone(&clones))));
        }
        let last = deferreds.pop().expect("sixteen deferreds");
        let batch = ReleaseBatch::open();
        // The others are dropped in the batch: their handles are pending, not given back.
        drop(deferreds);
        assert!(last.into_inner().is_ok());
        assert_eq!(
            clones.load(Ordering::SeqCst),
            0,
            "the only deferred left moves its value out, pending handles or not"
        );
        drop(batch);
    }

    #[test]
    fn an_open_chunk_gives_back_the_handles_of_slots_it_did_not_hand_out() {
        let mut slots = Slots::default();
        let first = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
        let second = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
        let chunk: *const Chunk<i64> = first.slot.chunk();
        // SAFETY: `first` keeps the chunk alive while it is read.
        let handles = || unsafe { &*chunk }.handles.load(Ordering::SeqCst);
        assert_eq!(handles(), CHUNK, "counted at once when the chunk opened");
        let list = slots.take_chunks();
        assert_eq!(handles(), 2, "the fourteen not handed out are given back");
        let (first, second) = (first.deferred(), second.deferred());
        let copy = first.clone();
        assert_eq!(handles(), 3);
        drop((first, second));
        assert_eq!(handles(), 1);
        assert_eq!(
            Arc::strong_count(&list[0]),
            2,
            "the list's and the handles'"
        );
        drop(copy);
        assert_eq!(
            Arc::strong_count(&list[0]),
            1,
            "the handles' count went back"
        );
    }

    #[test]
    fn one_of_many_racing_writers_wins_and_every_reader_sees_that_one() {
        let chunk = Chunk::<usize>::new(not_a_reply, 0);
        std::thread::scope(|scope| {
            for n in 0..8 {
                let chunk = &chunk;
                scope.spawn(move || {
                    chunk.set(5, Ok(n));
                    // A losing writer may look while the winner is still writing.
                    let seen = loop {
                        match chunk.read(5) {
                            Some(outcome) => break outcome.ok().copied(),
                            None => std::thread::yield_now(),
                        }
                    };
                    assert!(seen.is_some_and(|v| v < 8));
                });
            }
        });
        let first = chunk.read(5).and_then(|o| o.ok().copied());
        assert!(first.is_some());
    }

    #[test]
    fn handles_dropped_on_many_threads_at_once_drop_each_value_once() {
        for round in 0..50 {
            let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut slots = Slots::default();
            // Two chunks' worth and a few: one chunk is still open when the list closes.
            let claimed = 2 * CHUNK + 3;
            let deferreds: Vec<Deferred<Counted>> = (0..claimed)
                .map(|_| {
                    let slot = slots.callback::<Counted>();
                    slot.slot.set(Ok(Counted(Arc::clone(&drops))));
                    slot.deferred()
                })
                .collect();
            let list = slots.take_chunks();
            // Clones spread over threads, dropped while the list goes on this one.
            std::thread::scope(|scope| {
                for part in deferreds.chunks(5) {
                    let copies: Vec<Deferred<Counted>> =
                        part.iter().flat_map(|d| [d.clone(), d.clone()]).collect();
                    scope.spawn(move || drop(copies));
                }
                drop(deferreds);
                keep_chunk_list(list);
            });
            assert_eq!(
                drops.load(Ordering::SeqCst),
                claimed,
                "round {round}: every value dropped exactly once"
            );
        }
    }

    #[test]
    fn a_slot_resolves_once_and_every_reader_sees_it() {
        let mut slots = Slots::default();
        let slot = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
        // SAFETY: the slot's one target.
        let mut target = unsafe { Target::new(&slot, 0) };
        let deferred = slot.deferred();
        let targets = Targets {
            list: Vec::new(),
            chunks: ChunkTable::Own(slots.take_chunks()),
        };
        assert!(matches!(deferred.try_get(), Err(Error::NotReady)));
        assert!(targets.chunks.fill(&mut target, Value::Int(7)).is_ok());
        targets.chunks.fail(&mut target, Error::NotReady);
        assert_eq!(*deferred, 7);
        assert_eq!(deferred.clone().into_inner().ok(), Some(7));
    }

    #[test]
    fn targets_name_their_slot_across_chunks_and_cancel_what_is_left_when_dropped() {
        let mut slots = Slots::default();
        let mut list = Vec::new();
        let mut deferreds = Vec::new();
        // Three chunks of i64 and one of String, interleaved.
        for n in 0..3 * CHUNK {
            let slot = slots.command::<i64>(crate::pipeline::decode_reply::<i64>);
            // SAFETY: the slot's one target.
            list.push(unsafe { Target::new(&slot, n as u32) });
            deferreds.push(slot.deferred());
            let text = slots.command::<String>(crate::pipeline::decode_reply::<String>);
            drop(text.deferred());
        }
        let mut targets = Targets {
            list,
            chunks: ChunkTable::Own(slots.take_chunks()),
        };
        for (n, target) in targets.list[..CHUNK + 3].iter_mut().enumerate() {
            assert_eq!(target.node, n as u32);
            assert!(targets.chunks.fill(target, Value::Int(n as i64)).is_ok());
        }
        targets.list.drain(..CHUNK + 3);
        drop(targets);
        for (n, deferred) in deferreds.iter().enumerate() {
            match deferred.try_get() {
                Ok(value) => assert!(n < CHUNK + 3 && *value == n as i64),
                Err(Error::Cancelled(_)) => assert!(n >= CHUNK + 3),
                Err(other) => panic!("deferred {n}: {other}"),
            }
        }
    }
}
