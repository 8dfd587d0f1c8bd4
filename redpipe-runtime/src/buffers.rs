//! The lists of a root kept for reuse, per thread: a sent batch's emptied lists go back
//! to the thread that sent it, and the next root made there starts with their capacity
//! instead of growing a fresh list from empty.
//!
//! Measured with `scripts/bench-cpu.sh`: growing a root's command list (72 bytes per
//! command) and target list from empty cost more allocator work per command than all of
//! redpipe's other allocations together; for a small standalone call, its callback, chunk
//! and connection lists were three of the eight allocations it made beyond redis-rs's.
//!
//! Each kind of list has its own [`Spare`], declared beside the type it holds (the layer
//! that owns a type keeps its lists) with [`thread_local!`].

use std::cell::RefCell;
use std::thread::LocalKey;

use redis::Cmd;

/// Lists that grew beyond this many entries are freed, not kept: one batch of 100,000
/// commands must not pin its memory.
const KEEP_UP_TO: usize = 1024;

/// How many lists of each kind a thread keeps (a thread rarely builds more roots at once).
const KEEP: usize = 2;

/// The emptied lists of one kind kept by one thread.
pub(crate) type Spare<T> = RefCell<Vec<Vec<T>>>;

thread_local! {
    static CMDS: Spare<Cmd> = const { RefCell::new(Vec::new()) };
}

/// An empty list from `spare`, or a new one without room.
#[inline]
pub(crate) fn take<T>(spare: &'static LocalKey<Spare<T>>) -> Vec<T> {
    // Not borrowed elsewhere: nothing runs user code while it is borrowed. After the
    // thread's locals are destroyed there is nothing to reuse.
    spare
        .try_with(|spare| spare.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `list` in `spare` (emptied first, dropping what it holds); one that grew large,
/// or one beyond the [`KEEP`] a thread keeps, is freed.
pub(crate) fn keep<T>(spare: &'static LocalKey<Spare<T>>, mut list: Vec<T>) {
    list.clear();
    if list.capacity() == 0 || list.capacity() > KEEP_UP_TO {
        return;
    }
    let _ = spare.try_with(|spare| {
        if let Ok(mut kept) = spare.try_borrow_mut() {
            if kept.len() < KEEP {
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

            for _ in 0..KEEP + 3 {
                keep_cmds(Vec::with_capacity(8));
            }
            let kept = CMDS.with(|s| s.borrow().len());
            assert_eq!(kept, KEEP, "at most KEEP lists per thread");
        })
        .join()
        .expect("the test thread");
    }
}
