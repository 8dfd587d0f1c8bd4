//! The lists of a root kept for reuse, per thread: an execute's emptied lists go back to
//! the thread it runs on (those of a coalesced write too, handed back by the flusher), and
//! the next root made there starts with their capacity instead of growing a fresh list
//! from empty.
//!
//! Measured with `scripts/bench-cpu.sh`: growing a root's command list (72 bytes per
//! command) and target list from empty cost more allocator work per command than all of
//! redpipe's other allocations together; for a small standalone call, its callback, chunk
//! and connection lists were three of the eight allocations it made beyond redis-rs's.
//!
//! Many small lists are kept, a few large ones: concurrent standalone calls (a burst of
//! requests, each with its own root) are alive at once, so each needs lists of its own.
//! With two kept lists of each kind, a burst of 1,000 tasks allocated five lists per call
//! that the spares could not serve, and with so many blocks alive glibc served each from
//! its slow paths (measured with callgrind over a whole run: 1,040 of 21,479 instructions
//! per call, and 0.87x -> 1.01x-1.07x the throughput of a raw pipe per task once kept).
//! After such a burst a thread keeps up to [`KEEP_SMALL`] lists of up to [`SMALL_BYTES`]
//! each per kind (about 1.4 KiB per standalone call of a few commands, all kinds
//! together), memory the burst had in use anyway and glibc would mostly have kept too.
//!
//! Each kind of list has its own [`Spare`], declared beside the type it holds (the layer
//! that owns a type keeps its lists) with [`thread_local!`] and [`spare`].
//!
//! A batch's `redis::Pipeline` (a list of commands that redis-rs gives no way to build but
//! command by command) is kept too, see [`pipeline`]: a batch of 1,000 commands holds 72 KiB
//! in it, and glibc's allocator, freeing a block that large, merges every small freed block
//! it holds (`malloc_consolidate`) and may give memory back to the system, on every batch.
//! Measured with `scripts/bench-cpu.sh` with every command an INCR: 2,974 -> 2,634
//! instructions per command from nested functions; `cargo bench --bench ratios -- --only
//! nested` went from 0.93x-0.95x to 0.96x-0.97x of a raw pipe.

use std::cell::RefCell;
use std::mem::size_of;
use std::thread::LocalKey;

use redis::Cmd;

/// Lists that grew beyond this many entries are freed, not kept: one batch of 100,000
/// commands must not pin its memory.
const KEEP_UP_TO: usize = 1024;

/// A list whose room takes at most this many bytes is small: 8 commands (576 bytes, what
/// a root starts with), 128 targets.
const SMALL_BYTES: usize = 1024;

/// How many small lists of each kind a thread keeps: one per root of a burst of
/// concurrent calls, up to this many.
const KEEP_SMALL: usize = 1024;

/// How many larger lists (up to [`KEEP_UP_TO`] entries) of each kind a thread keeps (a
/// thread rarely builds more than one large batch at once).
const KEEP_LARGE: usize = 2;

/// The emptied lists of one kind kept by one thread.
pub(crate) type Spare<T> = RefCell<Lists<T>>;

/// Kept lists, small and large apart (see [`KEEP_SMALL`], [`KEEP_LARGE`]).
pub(crate) struct Lists<T> {
    small: Vec<Vec<T>>,
    large: Vec<Vec<T>>,
}

/// An empty [`Spare`], for a `thread_local!` declaration.
pub(crate) const fn spare<T>() -> Spare<T> {
    RefCell::new(Lists {
        small: Vec::new(),
        large: Vec::new(),
    })
}

thread_local! {
    static CMDS: Spare<Cmd> = const { spare() };
}

/// An empty list from `spare`, or a new one without room.
#[inline]
pub(crate) fn take<T>(spare: &'static LocalKey<Spare<T>>) -> Vec<T> {
    // Not borrowed elsewhere: nothing runs user code while it is borrowed. After the
    // thread's locals are destroyed there is nothing to reuse.
    spare
        .try_with(|spare| {
            let mut lists = spare.try_borrow_mut().ok()?;
            // A large one first: a root does not know yet how many entries it will need.
            lists.large.pop().or_else(|| lists.small.pop())
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `list` in `spare` (emptied first, dropping what it holds); one that grew beyond
/// [`KEEP_UP_TO`] entries, or one beyond the number a thread keeps of its size, is freed.
#[inline]
pub(crate) fn keep<T>(spare: &'static LocalKey<Spare<T>>, mut list: Vec<T>) {
    list.clear();
    if list.capacity() == 0 || list.capacity() > KEEP_UP_TO {
        return;
    }
    let small = list.capacity().saturating_mul(size_of::<T>()) <= SMALL_BYTES;
    let _ = spare.try_with(|spare| {
        if let Ok(mut lists) = spare.try_borrow_mut() {
            let (kept, limit) = match small {
                true => (&mut lists.small, KEEP_SMALL),
                false => (&mut lists.large, KEEP_LARGE),
            };
            if kept.len() < limit {
                kept.push(list);
            }
        }
    });
}

/// An empty command list: a kept one, or a new one with room for `capacity`.
#[inline]
pub(crate) fn cmds(capacity: usize) -> Vec<Cmd> {
    take_with_room(&CMDS, capacity)
}

/// An empty list from `spare`: a kept one, or a new one with room for `capacity`.
#[inline]
pub(crate) fn take_with_room<T>(spare: &'static LocalKey<Spare<T>>, capacity: usize) -> Vec<T> {
    let mut list = take(spare);
    if list.capacity() == 0 {
        list.reserve_exact(capacity);
    }
    list
}

/// Keeps a command list for reuse (emptied first); one that is too large is freed.
pub(crate) fn keep_cmds(list: Vec<Cmd>) {
    keep(&CMDS, list);
}

/// A list that grew large, without the spare room of its last doubling (up to half its
/// size, held through the whole round trip otherwise); a short list is left as it is.
#[inline]
pub(crate) fn trimmed<T>(list: Vec<T>) -> Vec<T> {
    if list.capacity() - list.len() > KEEP_UP_TO {
        return shrunk(list);
    }
    list
}

/// `list` without its spare room.
#[cold]
fn shrunk<T>(mut list: Vec<T>) -> Vec<T> {
    list.shrink_to_fit();
    list
}

/// An emptied pipeline, and the number of commands it has room for.
struct Kept {
    pipeline: redis::Pipeline,
    room: usize,
}

thread_local! {
    static PIPELINES: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

/// A pipeline is kept only when its room takes more than this: glibc's per-thread cache
/// serves smaller blocks about as fast as a kept one (measured: keeping those of small
/// standalone calls cost 30 instructions a call more than it saved).
const SMALL_PIPELINE: usize = SMALL_BYTES / size_of::<Cmd>();

/// An empty pipeline (not a transaction) with room for `count` commands, and that room: a
/// kept one that has the room, or a new one.
#[inline]
pub(crate) fn pipeline(count: usize) -> (redis::Pipeline, usize) {
    match (count > SMALL_PIPELINE)
        .then(|| take_pipeline(count))
        .flatten()
    {
        Some(Kept { pipeline, room }) => (pipeline, room),
        None => (redis::Pipeline::with_capacity(count), count),
    }
}

/// A kept pipeline with room for `count` commands, if any.
fn take_pipeline(count: usize) -> Option<Kept> {
    PIPELINES
        .try_with(|kept| {
            let mut kept = kept.try_borrow_mut().ok()?;
            let at = kept.iter().rposition(|one| one.room >= count)?;
            Some(kept.swap_remove(at))
        })
        .ok()
        .flatten()
}

/// Keeps `pipeline`, made with room for `room` commands, for the next batch on this
/// thread: taken (an empty one without memory is left in its place) and emptied. A
/// transaction (which redis-rs cannot turn back into a plain pipeline), a small one (see
/// [`SMALL_PIPELINE`]), one with room for more than [`KEEP_UP_TO`] commands, or one beyond
/// [`KEEP_LARGE`] kept ones, is left where it is, to be freed.
#[inline]
pub(crate) fn keep_pipeline(pipeline: &mut redis::Pipeline, room: usize) {
    let room = room.max(pipeline.len());
    if room > SMALL_PIPELINE && room <= KEEP_UP_TO && !pipeline.is_transaction() {
        keep_large_pipeline(pipeline, room);
    }
}

/// [`keep_pipeline`] for a pipeline worth keeping.
fn keep_large_pipeline(pipeline: &mut redis::Pipeline, room: usize) {
    let _ = PIPELINES.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEEP_LARGE {
                let mut pipeline = std::mem::take(pipeline);
                pipeline.clear();
                spare.push(Kept { pipeline, room });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_list_is_handed_out_again_and_a_huge_one_is_freed() {
        // A fresh thread: nothing kept yet. (A panic in it fails the test when the scope
        // joins it.)
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut list = cmds(16);
                list.extend((0..100).map(|_| redis::cmd("PING")));
                let grown = list.capacity();
                keep_cmds(list);
                let again = cmds(16);
                assert!(again.is_empty());
                assert_eq!(again.capacity(), grown, "the kept list comes back");

                let mut huge: Vec<Cmd> = Vec::with_capacity(KEEP_UP_TO + 1);
                huge.push(redis::cmd("PING"));
                keep_cmds(huge);
                assert_eq!(cmds(16).capacity(), 16, "a list over the limit is not kept");

                for _ in 0..KEEP_LARGE + 3 {
                    keep_cmds(Vec::with_capacity(64));
                }
                for _ in 0..KEEP_SMALL + 3 {
                    keep_cmds(Vec::with_capacity(8));
                }
                let (small, large) = CMDS.with(|s| {
                    let lists = s.borrow();
                    (lists.small.len(), lists.large.len())
                });
                assert_eq!(
                    large, KEEP_LARGE,
                    "at most KEEP_LARGE large lists per thread"
                );
                assert_eq!(
                    small, KEEP_SMALL,
                    "at most KEEP_SMALL small lists per thread"
                );
                assert_eq!(cmds(8).capacity(), 64, "a large one is handed out first");
            });
        });
    }

    #[test]
    fn an_emptied_pipeline_is_handed_out_again_but_never_a_transaction() {
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let kept = || PIPELINES.with(|k| k.borrow().len());
                let keep = |(mut pipeline, room): (redis::Pipeline, usize)| {
                    keep_pipeline(&mut pipeline, room);
                };
                assert_eq!(SMALL_PIPELINE, 14, "1,024 bytes of 72-byte commands");
                keep(pipeline(SMALL_PIPELINE));
                assert_eq!(kept(), 0, "a small one is not kept");

                let (mut first, room) = pipeline(32);
                first.add_command(redis::cmd("PING"));
                keep_pipeline(&mut first, room);
                assert!(first.is_empty(), "taken, an empty one left in its place");
                let (mut again, room) = pipeline(32);
                assert!(again.is_empty(), "a kept pipeline comes back empty");
                assert!(!again.is_transaction());
                assert_eq!((kept(), room), (0, 32), "it was the kept one");

                // A transaction is not kept: the next batch must not be wrapped in MULTI/EXEC.
                again.atomic().add_command(redis::cmd("PING"));
                keep_pipeline(&mut again, room);
                assert_eq!(kept(), 0);
                assert!(!pipeline(32).0.is_transaction());

                // One with too little room is left for a smaller batch.
                keep(pipeline(40));
                assert_eq!(pipeline(100).1, 100, "a new one, with room for the batch");
                assert_eq!(kept(), 1);
                assert_eq!(pipeline(20).1, 40, "the kept one serves a smaller batch");

                // A huge one is freed; at most KEEP_LARGE are kept.
                let (mut huge, room) = pipeline(32);
                for _ in 0..KEEP_UP_TO + 1 {
                    huge.add_command(redis::cmd("PING"));
                }
                keep_pipeline(&mut huge, room);
                assert_eq!(kept(), 0);
                let many: Vec<_> = (0..KEEP_LARGE + 2).map(|_| pipeline(64)).collect();
                many.into_iter().for_each(keep);
                assert_eq!(kept(), KEEP_LARGE);
            });
        });
    }
}
