//! The `#[pipelined]` attribute macro of [redpipe](https://docs.rs/redpipe). Use it through
//! the `redpipe` crate, which re-exports it; its reference is on [`macro@pipelined`].

mod pipelined;

use proc_macro::TokenStream;

/// Turns a function that queues commands on a pipeline into a composable, pipelined
/// operation returning a [`Deferred`](https://docs.rs/redpipe/latest/redpipe/struct.Deferred.html).
///
/// Write an ordinary function with one `&Pipeline` parameter (any name, any position) and
/// an ordinary return type. The macro rewrites it so that:
/// - the pipeline parameter takes an optional parent: callers pass `&pipe`, `Some(&pipe)`
///   or `None`;
/// - the body queues its commands on a pipeline nested in the parent (a new root when
///   there is none); nested calls join it, and its commands reach Redis where the function
///   finished, in program order;
/// - the **tail expression is the combine step**: it runs after execute, once every reply
///   is in, and its value fills the returned deferred;
/// - the return type `T` becomes `Deferred<T>`. A standalone call
///   (`incr_sum(None, &keys).await?`) executes on its own, in one round trip; a call with a
///   parent joins the parent's batch.
///
/// ```no_run
/// use redpipe::{pipelined, Deferred, Pipeline};
///
/// #[pipelined]
/// fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
///     counts.iter().map(|c| **c).sum() // the combine step
/// }
///
/// # async fn demo() -> redpipe::Result<()> {
/// let keys: Vec<String> = (0..100).map(|i| format!("key{i}")).collect();
/// let total = incr_sum(None, &keys).await?; // one round trip
///
/// let pipe = redpipe::pipeline();
/// let first = incr_sum(&pipe, &keys[..50]);
/// let second = incr_sum(&pipe, &keys[50..]);
/// pipe.execute().await?; // still one round trip
/// assert_eq!(*first + *second, total + 100);
/// # Ok(()) }
/// ```
///
/// # Expansion
///
/// Only code a person could write against the public API (see `Nested` in the runtime):
///
/// ```text
/// // Input
/// #[pipelined]
/// fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
///     counts.iter().map(|c| **c).sum()
/// }
///
/// // Output
/// fn incr_sum<'p>(parent: impl Into<Parent<'p>>, keys: &[String]) -> Deferred<i64> {
///     let nested = Nested::new(parent);
///     let pipe: &Pipeline = &nested;
///     let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
///     Nested::resolve(nested, move || -> i64 { counts.iter().map(|c| **c).sum() })
/// }
/// ```
///
/// Only the tail runs after execute. Statements before it run while queueing, when no
/// deferred is ready yet (`try_get` gives `NotReady`, `*` panics): read deferreds in the
/// tail, and make it a block (`{ let a = *x; ... }`) when the combine step needs several
/// steps. The combine step is a `move` closure run later, so it owns what it reads:
/// deferreds (cheap to clone) and owned values, not the function's borrowed arguments
/// (clone what it needs in the body).
///
/// # Forms
///
/// - **`-> T`**: as above. **No return type**: the function only queues and returns
///   `Deferred<()>`.
/// - **`-> Deferred<T>`**: no combine step; the tail is a deferred from the body, returned
///   as is (`fn get_name(pipe: &Pipeline, id: &str) -> Deferred<Option<String>>`).
/// - **`-> Result<T, E>`**: `?` works in the body and in the tail, and the function
///   returns `Deferred<T>`. An error in the body discards everything the function queued
///   (nothing of it is sent) and the deferred holds the error; an error in the tail fills
///   the deferred. `E` must convert into `redpipe::Error` (`redpipe::Error` itself does).
/// - **Methods** (`&self`) and **generic functions** work; bounds the deferred needs
///   (`T: Send + Sync + 'static`) are the function's to declare.
/// - `pub`, other attributes and doc comments are kept.
///
/// # Arguments
///
/// - `connection = "name"`: the function's commands go to that connection of the registry,
///   whatever the parent uses (the rest of the parent's batch is unaffected).
/// - `crate = path` (or `crate = "path"`): the path of the redpipe crate, for a renamed
///   dependency.
///
/// # Mistakes it catches
///
/// Each is a compile error at your token that says what to do instead (the full list, with
/// the exact messages, is the `tests/ui` suite): using the pipeline in the combine step;
/// creating or executing a pipeline in the combine step (a network call there cannot be
/// pipelined: the Python docs' "no cookie" gotcha); `.await` in the combine step;
/// `async fn`; no pipeline parameter, or two; an early `return`; a missing tail where one
/// is needed; unknown or duplicate arguments. When it reports one, it still emits the
/// rewritten signature, so callers get no follow-on errors.
#[proc_macro_attribute]
pub fn pipelined(args: TokenStream, item: TokenStream) -> TokenStream {
    pipelined::pipelined(args.into(), item.into()).into()
}
