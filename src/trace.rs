//! Capturing tracing in a test that runs beside others.
//!
//! `tracing` caches, per callsite (one span or event macro), whether any subscriber wants
//! it. While only one dispatcher exists in the process (the usual case in a test binary:
//! one test's capture), the callsite is judged, the first time it is reached, by the
//! default subscriber of whichever thread reaches it; a test running beside the capturing
//! one, on a thread with no subscriber, then marks a callsite of redpipe's as wanted by no
//! one, and the capture never sees it (tokio-rs/tracing issue 3611). [`capture`] keeps a
//! second dispatcher alive for the whole process, so that every callsite is judged by all
//! of them and checked again on each use.

use std::sync::OnceLock;

use tracing::dispatcher::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};
use tracing::Subscriber;

/// Makes `subscriber` this thread's default until the guard is dropped, as
/// [`tracing::subscriber::set_default`] does, but safe from the other tests of the binary
/// (see the module's documentation).
pub fn capture<S: Subscriber + Send + Sync + 'static>(subscriber: S) -> DefaultGuard {
    static RESIDENT: OnceLock<Dispatch> = OnceLock::new();
    RESIDENT.get_or_init(|| Dispatch::new(NoSubscriber::default()));
    tracing::subscriber::set_default(subscriber)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::capture;

    /// Counts the spans made while it is the thread's default.
    struct Spans(Arc<AtomicUsize>);

    impl tracing::Subscriber for Spans {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(self.0.fetch_add(1, Ordering::SeqCst) as u64 + 1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// One callsite, made from two threads.
    fn probe() -> tracing::Span {
        tracing::debug_span!("redpipe_dev.trace.probe")
    }

    #[test]
    fn a_span_first_made_on_a_thread_without_a_subscriber_still_reaches_the_capture() {
        let made = Arc::new(AtomicUsize::new(0));
        let _guard = capture(Spans(Arc::clone(&made)));
        // Another test's thread, with no subscriber, reaches the callsite first.
        std::thread::spawn(|| drop(probe()))
            .join()
            .expect("probe thread");
        drop(probe());
        assert_eq!(made.load(Ordering::SeqCst), 1, "the capture saw the span");
    }
}
