//! Callbacks kept in a callback list's own entries: a combine step that captures a few
//! deferreds or lists (what a pipelined function's tail usually holds) takes no heap
//! allocation of its own; a larger one is boxed.

use std::marker::PhantomData;
use std::mem::{align_of, size_of, ManuallyDrop, MaybeUninit};

use crate::error::Error;

/// Something to run after the replies arrived, or to resolve otherwise.
pub(crate) trait Callback: Send + Sized {
    /// Runs the callback.
    fn run(self);
    /// Resolves what the callback would have filled to `error`, without running it.
    fn skip(self, error: Error);
}

/// Bytes of a callback kept inline: a slot and two lists, or a slot and three deferreds
/// (what a pipelined function's tail usually holds). Every entry of a callback list pays
/// for the room, used or not: 56 bytes instead of 40 raised the peak heap of 10,000
/// nested calls of 10 commands by 0.15 MiB (0.5%) and took the box of every combine step
/// that holds two lists (-0.10 allocations per command from nested functions).
const INLINE: usize = 56;

type Room = [MaybeUninit<usize>; INLINE / size_of::<usize>()];

/// A callback of any type: inline when it fits [`INLINE`] bytes with no stricter alignment
/// than a pointer's, boxed otherwise.
pub(crate) struct Stored {
    room: Room,
    actions: &'static Actions,
}

// SAFETY: a `Stored` only ever holds a `Callback`, and callbacks are `Send`.
unsafe impl Send for Stored {}

/// What can be done with the callback in a room, for its type and placement. Each
/// consumes the callback: exactly one of them is called, once.
struct Actions {
    run: unsafe fn(*mut Room),
    skip: unsafe fn(*mut Room, Error),
    drop: unsafe fn(*mut Room),
}

impl Stored {
    pub(crate) fn new<C: Callback>(callback: C) -> Self {
        let mut room: Room = [MaybeUninit::uninit(); INLINE / size_of::<usize>()];
        let at = room.as_mut_ptr();
        if Inline::<C>::FITS {
            // SAFETY: `C` fits the room in size and alignment (`FITS`).
            unsafe { at.cast::<C>().write(callback) };
            Stored {
                room,
                actions: &Inline::<C>::ACTIONS,
            }
        } else {
            let boxed = Box::into_raw(Box::new(callback));
            // SAFETY: a pointer fits the room, which is aligned for pointers.
            unsafe { at.cast::<*mut C>().write(boxed) };
            Stored {
                room,
                actions: &Boxed::<C>::ACTIONS,
            }
        }
    }

    /// Runs the callback.
    pub(crate) fn run(self) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the room holds the callback `actions` was made for, and `this` is never
        // dropped, so it is consumed once, here.
        unsafe { (this.actions.run)(&mut this.room) }
    }

    /// Resolves what the callback would have filled to `error`, without running it.
    pub(crate) fn skip(self, error: Error) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: as in `run`.
        unsafe { (this.actions.skip)(&mut this.room, error) }
    }
}

impl Drop for Stored {
    fn drop(&mut self) {
        // SAFETY: a `Stored` that was neither run nor skipped still holds its callback.
        unsafe { (self.actions.drop)(&mut self.room) }
    }
}

/// A callback of type `C` in the room itself.
struct Inline<C>(PhantomData<C>);

impl<C: Callback> Inline<C> {
    const FITS: bool = size_of::<C>() <= INLINE && align_of::<C>() <= align_of::<Room>();

    const ACTIONS: Actions = Actions {
        run: Self::run,
        skip: Self::skip,
        drop: Self::drop,
    };

    /// # Safety
    /// The room holds a live `C`, not used afterwards.
    unsafe fn run(room: *mut Room) {
        // SAFETY: by the caller's contract.
        unsafe { room.cast::<C>().read() }.run()
    }

    /// # Safety
    /// As for `run`.
    unsafe fn skip(room: *mut Room, error: Error) {
        // SAFETY: by the caller's contract.
        unsafe { room.cast::<C>().read() }.skip(error)
    }

    /// # Safety
    /// As for `run`.
    unsafe fn drop(room: *mut Room) {
        // SAFETY: by the caller's contract.
        unsafe { room.cast::<C>().drop_in_place() }
    }
}

/// A callback of type `C` in a box whose pointer is in the room.
struct Boxed<C>(PhantomData<C>);

impl<C: Callback> Boxed<C> {
    const ACTIONS: Actions = Actions {
        run: Self::run,
        skip: Self::skip,
        drop: Self::drop,
    };

    /// # Safety
    /// The room holds the pointer of a live boxed `C`, not used afterwards.
    unsafe fn take(room: *mut Room) -> Box<C> {
        // SAFETY: by the caller's contract; the pointer came from `Box::into_raw`.
        unsafe { Box::from_raw(room.cast::<*mut C>().read()) }
    }

    /// # Safety
    /// As for `take`.
    unsafe fn run(room: *mut Room) {
        // SAFETY: by the caller's contract.
        (*unsafe { Self::take(room) }).run()
    }

    /// # Safety
    /// As for `take`.
    unsafe fn skip(room: *mut Room, error: Error) {
        // SAFETY: by the caller's contract.
        (*unsafe { Self::take(room) }).skip(error)
    }

    /// # Safety
    /// As for `take`.
    unsafe fn drop(room: *mut Room) {
        // SAFETY: by the caller's contract.
        drop(unsafe { Self::take(room) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts what happened to it; `pad` makes it as large as wanted.
    struct Probe<const N: usize> {
        counts: Arc<[AtomicUsize; 3]>,
        pad: [u8; N],
    }

    const RUN: usize = 0;
    const SKIPPED: usize = 1;
    const DROPPED: usize = 2;

    impl<const N: usize> Callback for Probe<N> {
        fn run(self) {
            self.counts[RUN].fetch_add(1, Ordering::SeqCst);
            assert_ne!(self.pad.len(), usize::MAX, "the pad is there");
        }
        fn skip(self, error: Error) {
            assert!(matches!(error, Error::Cancelled(_)));
            self.counts[SKIPPED].fetch_add(1, Ordering::SeqCst);
        }
    }

    impl<const N: usize> Drop for Probe<N> {
        fn drop(&mut self) {
            self.counts[DROPPED].fetch_add(1, Ordering::SeqCst);
        }
    }

    fn probe<const N: usize>() -> (Probe<N>, Arc<[AtomicUsize; 3]>) {
        let counts = Arc::new([const { AtomicUsize::new(0) }; 3]);
        let probe = Probe {
            counts: Arc::clone(&counts),
            pad: [7; N],
        };
        (probe, counts)
    }

    fn seen(counts: &[AtomicUsize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|i| counts[i].load(Ordering::SeqCst))
    }

    fn each_way<const N: usize>() {
        let (small, counts) = probe::<N>();
        Stored::new(small).run();
        assert_eq!(seen(&counts), [1, 0, 1], "run, then dropped once");
        let (small, counts) = probe::<N>();
        Stored::new(small).skip(Error::Cancelled("test".into()));
        assert_eq!(seen(&counts), [0, 1, 1], "skipped, then dropped once");
        let (small, counts) = probe::<N>();
        drop(Stored::new(small));
        assert_eq!(seen(&counts), [0, 0, 1], "dropped unrun, once");
        // Moved around in a list (as callback lists are), it is still the same callback.
        let (small, counts) = probe::<N>();
        let mut list = vec![Stored::new(small)];
        list.reserve(100);
        list.insert(0, Stored::new(probe::<N>().0));
        list.remove(1).run();
        assert_eq!(seen(&counts), [1, 0, 1]);
    }

    #[test]
    fn small_callbacks_are_inline_and_large_ones_boxed_and_each_is_consumed_once() {
        const { assert!(Inline::<Probe<48>>::FITS && !Inline::<Probe<56>>::FITS) };
        each_way::<48>();
        each_way::<56>();
    }

    #[test]
    fn a_callback_that_panics_is_dropped_once() {
        struct Panics(Arc<AtomicUsize>);
        impl Callback for Panics {
            fn run(self) {
                panic!("callback bug");
            }
            fn skip(self, _: Error) {}
        }
        impl Drop for Panics {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let stored = Stored::new(Panics(Arc::clone(&drops)));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stored.run()));
        assert!(caught.is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
