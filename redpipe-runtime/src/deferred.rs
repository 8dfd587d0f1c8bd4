//! `Deferred<T>`: a handle to a value that exists once its pipeline has executed.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::ops::Deref;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use redis::Value;

use crate::error::Error;
use crate::pipeline::Pipeline;

/// Converts one raw reply into the deferred's value type.
pub(crate) type Decoder<T> = fn(Value) -> Result<T, redis::RedisError>;

/// The shared cell behind a deferred and all its clones.
pub(crate) struct Slot<T> {
    cell: OnceLock<Result<T, Error>>,
    decode: Decoder<T>,
}

impl<T> Slot<T> {
    pub(crate) fn new(decode: Decoder<T>) -> Self {
        Slot {
            cell: OnceLock::new(),
            decode,
        }
    }

    /// Fills the slot once; a second fill is ignored (the first outcome stands).
    pub(crate) fn set(&self, outcome: Result<T, Error>) {
        let _ = self.cell.set(outcome);
    }
}

/// A slot filled by a command reply, seen without its value type.
pub(crate) trait Fill: Send + Sync {
    /// Decodes the reply; on failure returns the decode error (the slot holds it too,
    /// with the context the caller gives).
    fn fill(&self, reply: Value, context: &dyn Fn(redis::RedisError) -> Error) -> Option<Error>;
    /// Resolves the slot to an error.
    fn fail(&self, error: Error);
}

impl<T: Send + Sync> Fill for Slot<T> {
    fn fill(&self, reply: Value, context: &dyn Fn(redis::RedisError) -> Error) -> Option<Error> {
        let outcome = match reply {
            Value::ServerError(e) => Err(context(e.into())),
            reply => (self.decode)(reply).map_err(context),
        };
        let failed = outcome.as_ref().err().cloned();
        self.set(outcome);
        failed
    }

    fn fail(&self, error: Error) {
        self.set(Err(error));
    }
}

/// The root pipeline owned by the deferred of a standalone call; awaiting executes it.
type OwnedRoot = Arc<Mutex<Option<Pipeline>>>;

/// A cheap, cloneable handle to a value that exists once its pipeline has executed: the
/// reply of a command, or the result of a function's combine step.
///
/// Read it with [`try_get`](Deferred::try_get) (never panics) or through `Deref` after the
/// pipeline executed. A deferred returned by a standalone call (no parent pipeline) owns
/// its root pipeline: `.await` executes it, in one round trip per connection, and yields
/// the value.
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
    slot: Arc<Slot<T>>,
    root: Option<OwnedRoot>,
}

impl<T> Clone for Deferred<T> {
    fn clone(&self) -> Self {
        Deferred {
            slot: Arc::clone(&self.slot),
            root: self.root.clone(),
        }
    }
}

impl<T> Deferred<T> {
    pub(crate) fn from_slot(slot: Arc<Slot<T>>) -> Self {
        Deferred { slot, root: None }
    }

    /// A deferred that is already resolved to `value` (useful for functions that know
    /// their answer without asking Redis).
    pub fn ready(value: T) -> Self {
        let slot = Slot::new(not_a_reply);
        slot.set(Ok(value));
        Deferred::from_slot(Arc::new(slot))
    }

    /// A deferred that is already resolved to `error`.
    pub fn failed(error: Error) -> Self {
        let slot = Slot::new(not_a_reply);
        slot.set(Err(error));
        Deferred::from_slot(Arc::new(slot))
    }

    /// Makes this deferred own `root`, so awaiting it executes that pipeline.
    pub(crate) fn owning(mut self, root: Pipeline) -> Self {
        self.root = Some(Arc::new(Mutex::new(Some(root))));
        self
    }

    /// The value, once the pipeline executed and this command or callback succeeded.
    ///
    /// Returns [`Error::NotReady`] before execution, or the command's own error if it
    /// failed.
    pub fn try_get(&self) -> Result<&T, Error> {
        match self.slot.cell.get() {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Error::NotReady),
        }
    }

    /// The outcome, borrowed: `None` before execution.
    pub fn outcome(&self) -> Option<&Result<T, Error>> {
        self.slot.cell.get()
    }

    /// `Err` when the deferred already holds an error, which is how a call that failed
    /// while queueing (an invalid value, a bad key) reports: nothing of it was queued.
    /// Lets a function stop at once with `?` (so everything it queued is discarded):
    /// `NAMES.set(pipe, id, name).check()?;`
    pub fn check(self) -> Result<Self, Error> {
        match self.slot.cell.get() {
            Some(Err(e)) => Err(e.clone()),
            _ => Ok(self),
        }
    }

    /// True once the deferred holds a value or an error.
    pub fn is_ready(&self) -> bool {
        self.slot.cell.get().is_some()
    }
}

/// The decoder of deferreds that callbacks (not replies) fill; never called with a reply.
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
/// ready, or whose command failed, panics with a message saying which. Use
/// [`Deferred::try_get`] where that can happen.
impl<T> Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self.slot.cell.get() {
            Some(Ok(value)) => value,
            Some(Err(e)) => panic!("deferred holds an error, not a value: {e}"),
            None => panic!("result not ready: wait until after the pipeline executes"),
        }
    }
}

impl<T: PartialEq<U>, U> PartialEq<U> for Deferred<T> {
    /// Equal when the deferred holds a value equal to `other`; a deferred that is not
    /// ready or holds an error equals nothing.
    fn eq(&self, other: &U) -> bool {
        matches!(self.slot.cell.get(), Some(Ok(v)) if v == other)
    }
}

impl<T: fmt::Debug> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.slot.cell.get() {
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
        match self.slot.cell.get() {
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
///   or the execute error;
/// - one that is already resolved yields its outcome;
/// - one that waits on a parent pipeline that has not executed yields
///   [`Error::NotReady`] at once (it never hangs).
///
/// The value is moved out when this is the last handle, cloned otherwise.
impl<T: Clone + Send + Sync + 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let Deferred { slot, root } = self;
            if let Some(root) = root {
                let pipe = match root.lock() {
                    Ok(mut guard) => guard.take(),
                    Err(poisoned) => poisoned.into_inner().take(),
                };
                drop(root);
                if let Some(pipe) = pipe {
                    pipe.execute().await?;
                }
            }
            match Arc::try_unwrap(slot) {
                Ok(slot) => slot.cell.into_inner().unwrap_or(Err(Error::NotReady)),
                Err(shared) => match shared.cell.get() {
                    Some(outcome) => outcome.clone(),
                    None => Err(Error::NotReady),
                },
            }
        })
    }
}
