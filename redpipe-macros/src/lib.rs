//! Procedural macros of [redpipe](https://docs.rs/redpipe): `#[pipelined]` and
//! `#[derive(Struct)]`. Use them through the `redpipe` crate, which re-exports them next to
//! the runtime their expansions call; their references are on [`macro@pipelined`] and
//! [`derive@Struct`].
#![forbid(unsafe_code)]

mod pipelined;
mod span;
mod structs;

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
/// deferred is ready yet (`try_get` gives `NotReady`, `*` panics, and the macro rejects
/// the reads it can see, below): read deferreds in the tail, and make it a block (`{ let a = *x; ... }`) when the combine step needs several
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
/// is needed; unknown or duplicate arguments; reading a deferred before the tail (see
/// below). When it reports one, it still emits the
/// rewritten signature, so callers get no follow-on errors. Reading a borrowed argument in
/// the combine step is caught by the compiler, at the tail ("borrowed data escapes").
///
/// # Reading a deferred before the tail
///
/// The statements before the tail run while queueing, so a deferred read there is not
/// ready. The macro rejects such a read wherever it knows for certain that the value is a
/// deferred: "`a` is a deferred: its value is only known after the pipeline executes; read
/// it in the tail (the last expression) of the #\[pipelined\] function, which runs after the
/// round trip".
///
/// A value is certainly a deferred when it is
/// - a local declared as one: `let a: Deferred<i64> = ..` (except `= Deferred::ready(..)`);
/// - a command on the pipeline parameter, `pipe.incr(k, 1)`: any method call on it except
///   `connection`, `registry`, `len`, `is_empty`, `on_execute`, `nested`, `nested_on`,
///   `execute`, `clone`, `to_owned`;
/// - a call given the pipeline parameter as `pipe`, `&pipe`, `Some(pipe)` or `Some(&pipe)`:
///   `other(pipe, k)`, `User::load(&pipe, id)`, `NAMES.get(pipe, id)` (calls of a name
///   starting with an upper-case letter, such as `Some(pipe)` itself, are constructors);
/// - a local bound to one of these, or `.clone()`, `.to_owned()` or `.check()?` of one.
///
/// With such a value `a`, these are reads and are rejected before the tail: `*a`, `-a`,
/// `!a`; `a` or `&a` as an operand of a binary operator (`a + 1`, `a == 5`, `a += 1`); a
/// method call on it (`a.len()`, `a.to_string()`, `a.try_get()`, `a.get_cloned()`,
/// `a.into_inner()`) except `clone`, `to_owned`, `check`, `is_ready`, `outcome` and
/// `into_future`, which do not look at the value; a field `a.name` or an index `a[0]`.
///
/// Allowed anywhere: cloning it, passing it as a whole (`f(a)`, `f(&a)`, into a struct or
/// a `vec![..]`), moving it into a closure, returning it, and of course reading it in the
/// tail. The check stays silent where it cannot be certain, so a read it does not see
/// still finds the deferred not ready at run time: inside closures, `async` blocks, nested
/// items and macro calls (`format!("{a}")`); through a deref coercion (`f(&a)` where `f`
/// takes `&T`); on deferreds in collections, struct fields or function parameters. A later
/// binding of the same name (`let a = 5;`, a pattern, a `for` variable) is not a deferred.
///
/// ```compile_fail
/// use redpipe::{pipelined, Deferred, Pipeline};
///
/// #[pipelined]
/// fn incr_twice(pipe: &Pipeline, key: &str) -> i64 {
///     let first: Deferred<i64> = pipe.incr(key, 1);
///     let second: Deferred<i64> = pipe.incr(key, *first); // error: `first` is a deferred
///     *second
/// }
/// ```
#[proc_macro_attribute]
pub fn pipelined(args: TokenStream, item: TokenStream) -> TokenStream {
    pipelined::pipelined(args.into(), item.into()).into()
}

/// Implements `redpipe::Struct` for a struct with named fields: a typed record stored in
/// one Redis hash, at key `keyspace{id}`, exactly as the Python library's `Struct` stores
/// it, so records written by either library read the same in the other.
///
/// ```no_run
/// use std::collections::HashMap;
///
/// use redpipe::Struct;
///
/// #[derive(Debug, Clone, PartialEq, redpipe::Struct)]
/// #[redpipe(keyspace = "U", connection = "users", ttl = 3600)]
/// #[redpipe(patch_derive(Debug, PartialEq))]
/// struct User {
///     #[redpipe(key)]
///     id: String,
///     name: String,               // required: a record without it fails to load
///     age: Option<i64>,           // may be absent
///     #[redpipe(ascii)]
///     email: Option<String>,
///     #[redpipe(string_list, rename = "tags")]
///     labels: Option<Vec<String>>,
///     #[redpipe(json)]
///     prefs: Option<HashMap<String, u32>>,
///     #[redpipe(extra)]
///     other: HashMap<String, String>, // members this struct does not declare
/// }
///
/// # async fn demo(user: User) -> redpipe::Result<()> {
/// let pipe = redpipe::pipeline();
/// let saved = user.save(&pipe);                 // HSET + EXPIRE + HGETALL
/// let loaded = User::load(&pipe, "2");          // HGETALL
/// pipe.execute().await?;                        // one round trip
/// assert_eq!(saved, Some(user.clone()));
///
/// // A partial update: only the members the patch sets are written.
/// let patch = UserPatch { age: Some(42), ..UserPatch::default() };
/// let user = User::update(None, "1", &patch).await?;
/// # Ok(()) }
/// ```
///
/// The derive writes `id`, `encode`/`decode` and the constants of `Struct`; every operation
/// (`save`, `save_nx`, `load`, `load_many`, `load_only`, `update`, `remove`, `incr`, `decr`,
/// `pop`, `clear`, `delete`, `keyspace`) is a provided method of the trait, returning a
/// deferred that runs standalone (await it) or joins a parent pipeline.
///
/// Operations that take member names (`load_only`, `remove`, `incr`, `decr`, `pop`) take
/// the stored names, which are also in `User::MEMBERS`; `User::REQUIRED` lists the
/// required ones.
///
/// # The patch type
///
/// The derive also defines `{Name}Patch`, with the struct's visibility: every declared
/// member except the key as a public `Option` field (`None`: not set), plus the extra
/// map if the struct has one. It derives `Clone` and `Default`; add derives with
/// `#[redpipe(patch_derive(...))]`. It is the input of `update` and the result of
/// `load_only` and `pop`.
///
/// # Container attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `keyspace = "U"` | the keyspace name (default: the struct's name, as in Python) |
/// | `connection = "users"` | the named connection the records live on (default: the parent pipeline's) |
/// | `ttl = 3600` | seconds; every write refreshes the expiry once, loads do not |
/// | `template = "%s:%s"` | the key format, keyspace then id (default `"%s{%s}"`) |
/// | `ascii_keys` | refuse ids that are not printable ASCII |
/// | `patch_derive(Debug, PartialEq)` | extra derives for the patch type |
/// | `crate = path` | where the `redpipe` crate is, if renamed (default `::redpipe`) |
///
/// # Field attributes
///
/// Exactly one field has `#[redpipe(key)]`: it holds the id, which lives in the key name
/// and never in the hash. Its type must implement `Display` and `FromStr` (`String`,
/// integers, ...), and its name is the Python `key_name` (renamable with `rename`).
///
/// Every other field is a hash member named after the field. Its codec follows its type,
/// `Option<T>` meaning the member may be absent (any other type is required):
///
/// | type | stored as (Python field) |
/// |---|---|
/// | `bool` | `1` or empty (`BooleanField`) |
/// | `i8` to `i64`, `u8` to `u64` | decimal (`IntegerField`), exact over the type's whole range; a stored number outside it is an error naming the value |
/// | `f32`, `f64` | as Python prints floats (`FloatField`) |
/// | `String` | UTF-8 (`TextField`) |
/// | `Vec<u8>` | the bytes (`BinaryField`) |
/// | a type implementing `redpipe::Member` | its own codec |
///
/// Any other type needs a codec attribute; there is no silent JSON fallback, so a type
/// without a codec is a compile error at the field, not data in a surprising format:
///
/// | attribute | codec |
/// |---|---|
/// | `ascii` | printable ASCII text, for `String` (`AsciiField`) |
/// | `string_list` | comma-joined strings, for `Vec<String>` (`StringListField`) |
/// | `json` | JSON as Python's `json.dumps` writes it, for any serde type (`ListField`, `DictField`) |
/// | `binary` | the bytes unchanged, for `Vec<u8>` (`BinaryField`, the default already) |
/// | `codec = MyCodec` | any `redpipe::field::Codec` whose owned value is the field's type |
/// | `rename = "x"` | store the member as `x` |
/// | `extra` | this field (a `HashMap<String, String>` or any map that is `Default`, `Extend<(String, String)>` and iterates as `(&K, &V)` with `K, V: AsRef<str>`) keeps the members the struct does not declare, as text; saving an extra named like the key or a declared member is an error before anything is sent; a save adds the map's members and keeps stored ones the map lacks (as Python does), and the record it returns shows them |
#[proc_macro_derive(Struct, attributes(redpipe))]
pub fn derive_struct(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    structs::derive(input.into()).into()
}
