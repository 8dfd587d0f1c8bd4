//! Command and target lists kept for reuse, per thread: a sent batch's emptied lists go
//! back to the thread that sent it, and the next root queued there starts with their
//! capacity instead of growing a fresh list from empty.
//!
//! Measured with `scripts/bench-cpu.sh`: growing a root's command list (72 bytes per
//! command) and target list from empty cost more allocator work per command than all of
//! redpipe's other allocations together.

use std::cell::RefCell;

use redis::Cmd;

use crate::deferred::Target;

/// Lists that grew beyond this many entries are freed, not kept: one batch of 100,000
/// commands must not pin its memory.
const KEEP_UP_TO: usize = 1024;

/// How many lists of each kind a thread keeps (a thread rarely builds more roots at once).
const KEEP: usize = 2;

/// The emptied lists of one thread.
struct Spare {
    cmds: Vec<Vec<Cmd>>,
    targets: Vec<Vec<Target>>,
}

thread_local! {
    static SPARE: RefCell<Spare> = const {
        RefCell::new(Spare {
            cmds: Vec::new(),
            targets: Vec::new(),
        })
    };
}

/// An empty command list: a kept one, or a new one with room for `capacity`.
#[inline]
pub(crate) fn cmds(capacity: usize) -> Vec<Cmd> {
    take(|spare| spare.cmds.pop()).unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// An empty target list: a kept one, or a new one with room for `capacity`.
#[inline]
pub(crate) fn targets(capacity: usize) -> Vec<Target> {
    take(|spare| spare.targets.pop()).unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Keeps a command list for reuse (emptied first); one that is too large is freed.
pub(crate) fn keep_cmds(mut list: Vec<Cmd>) {
    list.clear();
    if worth_keeping(list.capacity()) {
        put(|spare| &mut spare.cmds, list);
    }
}

/// Keeps a target list for reuse; the caller has emptied it (resolving its targets).
pub(crate) fn keep_targets(list: Vec<Target>) {
    if list.is_empty() && worth_keeping(list.capacity()) {
        put(|spare| &mut spare.targets, list);
    }
}

/// A list that grew large, without the spare room of its last doubling (up to half its
/// size, held through the whole round trip otherwise); a short list is left as it is.
pub(crate) fn trimmed<T>(mut list: Vec<T>) -> Vec<T> {
    if list.capacity() - list.len() > KEEP_UP_TO {
        list.shrink_to_fit();
    }
    list
}

fn worth_keeping(capacity: usize) -> bool {
    capacity > 0 && capacity <= KEEP_UP_TO
}

fn take<T>(pop: impl FnOnce(&mut Spare) -> Option<T>) -> Option<T> {
    // Not borrowed elsewhere: nothing runs user code while it is borrowed. After the
    // thread's locals are destroyed there is nothing to reuse.
    SPARE
        .try_with(|spare| spare.try_borrow_mut().ok().and_then(|mut s| pop(&mut s)))
        .ok()
        .flatten()
}

fn put<T>(kind: impl FnOnce(&mut Spare) -> &mut Vec<T>, list: T) {
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            let kept = kind(&mut spare);
            if kept.len() < KEEP {
                kept.push(list);
            }
        }
    });
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
                keep_targets(Vec::with_capacity(8));
            }
            let kept = SPARE.with(|s| s.borrow().targets.len());
            assert_eq!(kept, KEEP, "at most KEEP lists per thread");
        })
        .join()
        .expect("the test thread");
    }
}
