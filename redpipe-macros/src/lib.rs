//! Procedural macros of [redpipe](https://docs.rs/redpipe). Use them through the `redpipe`
//! crate, which re-exports them next to the runtime their expansions call.
#![forbid(unsafe_code)]

mod structs;

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
/// | `i8` to `i64`, `u8` to `u64` | decimal (`IntegerField`) |
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
