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
pub(crate) fn trimmed<T>(mut list: Vec<T>) -> Vec<T> {
    if list.capacity() - list.len() > KEEP_UP_TO {
        list.shrink_to_fit();
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emptied_list_is_handed_out_again_and_a_huge_one_is_freed() {
        // A fresh thread: nothing kept yet.
        std::thread::spawn(|| {
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
        })
        .join()
        .expect("the test thread");
    }
}
