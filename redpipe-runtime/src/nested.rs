//! Nested pipelines: what a pipelined function creates from its optional parent, and
//! finishes with its combine step.

use crate::connection::DEFAULT_CONNECTION;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::pipeline::{in_callbacks, network_in_callback, Pipeline};

/// An optional parent pipeline: what a pipelined function's pipeline parameter accepts.
/// Converts from `&pipe`, `Some(&pipe)`, `None` and `&nested`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Parent<'a>(Option<&'a Pipeline>);

impl<'a> Parent<'a> {
    /// The parent pipeline, if any.
    pub fn get(self) -> Option<&'a Pipeline> {
        self.0
    }
}

impl<'a> From<&'a Pipeline> for Parent<'a> {
    fn from(pipe: &'a Pipeline) -> Self {
        Parent(Some(pipe))
    }
}

impl<'a> From<Option<&'a Pipeline>> for Parent<'a> {
    fn from(pipe: Option<&'a Pipeline>) -> Self {
        Parent(pipe)
    }
}

impl<'a> From<&'a Nested<'_>> for Parent<'a> {
    fn from(pipe: &'a Nested<'_>) -> Self {
        Parent(Some(&pipe.pipe))
    }
}

/// A pipeline nested in an optional parent: the Python `redpipe.pipeline(pipe)`.
///
/// With a parent, it buffers its own commands and callbacks and, when it finishes,
/// splices them into the parent at that point of the parent's queue. Without one, it is a
/// new root, and the deferred its finish returns owns it: awaiting that deferred executes
/// it. Dropped without finishing (an early return, `?`, a panic), it discards everything it
/// queued: nothing of it reaches Redis and its deferreds resolve to
/// [`Error::Cancelled`].
///
/// This is all `#[pipelined]` generates; a function can be written by hand the same way:
///
/// ```no_run
/// use redpipe_runtime::{Deferred, Nested, Parent};
///
/// fn incr_sum<'a>(pipe: impl Into<Parent<'a>>, keys: &[&str]) -> Deferred<i64> {
///     let pipe = Nested::new(pipe);
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(*k, 1)).collect();
///     pipe.resolve(move || counts.iter().map(|c| **c).sum())
/// }
/// # async fn demo() -> redpipe_runtime::Result<()> {
/// let total = incr_sum(None, &["a", "b"]).await?; // standalone: one round trip
/// # Ok(()) }
/// ```
#[must_use = "a nested pipeline discards its commands unless it is finished"]
pub struct Nested<'a> {
    pipe: Pipeline,
    parent: Option<&'a Pipeline>,
}

impl std::fmt::Debug for Nested<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nested")
            .field("pipe", &self.pipe)
            .field("root", &self.parent.is_none())
            .finish()
    }
}

impl<'a> Nested<'a> {
    /// Nested in `parent` on its connection, or a new root on the default connection of
    /// the current registry when there is no parent.
    pub fn new(parent: impl Into<Parent<'a>>) -> Self {
        Self::with_connection(parent.into(), None)
    }

    /// Like [`Nested::new`], but this pipeline's commands go to `connection` whatever the
    /// parent uses.
    pub fn on(parent: impl Into<Parent<'a>>, connection: &str) -> Self {
        Self::with_connection(parent.into(), Some(connection))
    }

    fn with_connection(parent: Parent<'a>, connection: Option<&str>) -> Self {
        let pipe = match parent.0 {
            // SAFETY: the child lives in this `Nested`, within the parent's borrow `'a`.
            Some(parent) => unsafe { parent.child(connection) },
            None => Pipeline::current_pipeline_on(connection.unwrap_or(DEFAULT_CONNECTION)),
        };
        Nested {
            pipe,
            parent: parent.0,
        }
    }

    /// True when there is no parent: finishing yields a deferred that owns this root.
    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    /// Finishes with `combine` as the combine step: it runs as a callback after execute and
    /// its value fills the returned deferred.
    pub fn resolve<T: Send + Sync + 'static>(
        self,
        combine: impl FnOnce() -> T + Send + 'static,
    ) -> Deferred<T> {
        self.resolve_result(move || Ok::<T, Error>(combine()))
    }

    /// Finishes with a fallible combine step; its error fills the deferred.
    pub fn resolve_result<T: Send + Sync + 'static, E: Into<Error> + 'static>(
        self,
        combine: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Deferred<T> {
        match self.parent {
            // The combine step and the finish under one lock of the store.
            Some(_) => self.pipe.finish_with(combine),
            None => {
                let deferred = self.pipe.combine_step(combine);
                self.attach(deferred)
            }
        }
    }

    /// Finishes and returns `deferred` unchanged (for functions whose result is the reply
    /// of one of their commands).
    pub fn forward<T>(self, deferred: Deferred<T>) -> Deferred<T> {
        self.attach(deferred)
    }

    /// Finishes without a result of its own.
    pub fn finish(self) -> Deferred<()> {
        self.resolve(|| ())
    }

    /// Abandons this pipeline: everything it queued is discarded, and the returned deferred
    /// holds `error`.
    pub fn fail<T>(self, error: impl Into<Error>) -> Deferred<T> {
        Deferred::failed(error.into())
    }

    fn attach<T>(self, deferred: Deferred<T>) -> Deferred<T> {
        match self.parent {
            Some(_) => {
                self.pipe.finish();
                deferred
            }
            // A standalone call inside a callback would add a round trip after the one
            // that is running: it resolves to that error at once, and sends nothing.
            None if in_callbacks() => {
                deferred.resolve_now(Err(network_in_callback()));
                deferred
            }
            None => deferred.owned_by(crate::execute::owner(self.pipe)),
        }
    }
}

impl std::ops::Deref for Nested<'_> {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        &self.pipe
    }
}

impl Pipeline {
    /// A pipeline nested in this one, on the same connection. See [`Nested`].
    pub fn nested(&self) -> Nested<'_> {
        Nested::new(self)
    }

    /// A pipeline nested in this one whose commands go to `connection`.
    pub fn nested_on(&self, connection: &str) -> Nested<'_> {
        Nested::on(self, connection)
    }
}
