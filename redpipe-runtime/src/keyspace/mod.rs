//! Keyspaces: keys grouped under a prefix, with each data type's commands, keys built from
//! ids, and values encoded and decoded by [field codecs](crate::field).
//!
//! A keyspace is a `const` value, so it is defined once and used from anywhere:
//!
//! ```no_run
//! use redpipe_runtime::field::{IntegerField, TextField};
//! use redpipe_runtime::keyspace::{Keyspace, Strings};
//!
//! /// Display names, stored as `N{<user id>}`.
//! const NAMES: Strings<TextField> = Strings::new(Keyspace::new("N"));
//! /// Visit counters on the `stats` connection.
//! const VISITS: Strings<IntegerField> = Strings::new(Keyspace::new("V").on("stats"));
//!
//! # async fn demo() -> redpipe_runtime::Result<()> {
//! let pipe = redpipe_runtime::pipeline();
//! let _ = NAMES.set(&pipe, "1", "alice");
//! let name = NAMES.get(&pipe, "1");
//! let visits = VISITS.incr(&pipe, "1", 1);
//! pipe.execute().await?;
//! assert_eq!(name, Some("alice".to_owned()));
//! # Ok(()) }
//! ```
//!
//! Every method takes the parent pipeline first (`&pipe`, `Some(&pipe)`, or `None` to run
//! standalone: await the deferred) and returns a [`Deferred`]; it works the same inside
//! `#[pipelined]` functions and nested pipelines. Methods that take several values take
//! slices, so Python's list-versus-varargs quirks cannot happen. Bad input (a value its
//! codec rejects, an id that is not ASCII for an ASCII keyspace, a bad template) is an
//! error before anything is queued: nothing of that call reaches Redis.
//!
//! # Keys
//!
//! The key of id `1` in keyspace `U` is `U{1}`, exactly as in the Python library: the
//! braces make the id a Redis Cluster hash tag, so keys of one id in several keyspaces
//! share a slot. [`Keyspace::template`] sets another format, Python style, with two `%s`
//! (keyspace, then id), for example `"%s:%s"`; [`Keyspace::unprefixed`] uses ids as keys
//! unchanged (Python's `keyspace = None`). Scans escape the keyspace for the `MATCH`
//! glob and honour custom templates (both were bugs of the Python library).

use std::fmt::Display;

use redis::{Cmd, FromRedisValue, Value};

use crate::commands::build;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::{AsciiField, Codec, TextField};
use crate::nested::{Nested, Parent};
use crate::pipeline::Pipeline;

#[macro_use]
mod typed;
mod decode;
mod hash;
mod hashed_string;
mod list;
mod scan;
mod set;
mod sorted_set;
mod string;

pub use hash::Hash;
pub use hashed_string::HashedString;
pub use list::List;
pub use scan::{Page, Scan};
pub use set::{HyperLogLog, Set};
pub use sorted_set::{SortedSet, ZAdd};
pub use string::Strings;

/// A keyspace: the prefix, the connection and the key format shared by the typed
/// keyspaces ([`Strings`], [`Hash`](struct@Hash), [`List`], [`Set`], [`SortedSet`], [`HyperLogLog`],
/// [`HashedString`]), which all dereference to it for the common key commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyspace {
    name: &'static str,
    connection: Option<&'static str>,
    template: &'static str,
    ascii_keys: bool,
}

impl Keyspace {
    /// A keyspace named `name`, on the parent pipeline's connection, with keys `name{id}`.
    pub const fn new(name: &'static str) -> Self {
        Keyspace {
            name,
            connection: None,
            template: "%s{%s}",
            ascii_keys: false,
        }
    }

    /// The keyspace without a prefix: the key of an id is the id itself (`"user:7"` is the
    /// key `user:7`), as in a Python keyspace whose `keyspace` is `None`. Scans match the
    /// whole key with the pattern given, unescaped, and return whole keys. Other options
    /// ([`on`](Self::on), [`ascii_keys`](Self::ascii_keys)) apply as usual.
    ///
    /// ```
    /// use redpipe_runtime::field::TextField;
    /// use redpipe_runtime::keyspace::{Keyspace, Strings};
    ///
    /// const RAW: Strings<TextField> = Strings::new(Keyspace::unprefixed());
    /// assert_eq!(RAW.key("session:42").unwrap(), "session:42");
    /// ```
    pub const fn unprefixed() -> Self {
        Keyspace::new("").template("%s%s")
    }

    /// The name for messages: the keyspace name, or `unprefixed keyspace`.
    pub(crate) const fn label(&self) -> &'static str {
        if self.name.is_empty() {
            "unprefixed keyspace"
        } else {
            self.name
        }
    }

    /// Sends this keyspace's commands to connection `connection`, whatever pipeline they
    /// are queued on (the Python `connection` attribute).
    pub const fn on(mut self, connection: &'static str) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Sets the key format, Python style: two `%s`, the keyspace then the id (the default
    /// is `"%s{%s}"`). A template without exactly two `%s` is an error when a key is built.
    pub const fn template(mut self, template: &'static str) -> Self {
        self.template = template;
        self
    }

    /// Rejects keys that are not printable ASCII (the Python `keyparse = AsciiField`).
    pub const fn ascii_keys(mut self) -> Self {
        self.ascii_keys = true;
        self
    }

    /// The keyspace name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The connection its commands go to (`None`: the parent's).
    pub const fn connection(&self) -> Option<&'static str> {
        self.connection
    }

    /// The template split around its two `%s`.
    fn parts(&self) -> Result<[&'static str; 3], Error> {
        let mut pieces = self.template.split("%s");
        match (pieces.next(), pieces.next(), pieces.next(), pieces.next()) {
            (Some(a), Some(b), Some(c), None) => Ok([a, b, c]),
            _ => Err(Error::invalid_value(
                self.label(),
                format!(
                    "key template {:?} must contain exactly two %s (keyspace, then id)",
                    self.template
                ),
            )),
        }
    }

    /// The Redis key of `id`: `name{id}` by default.
    pub fn key(&self, id: impl Display) -> Result<String, Error> {
        let [before, between, after] = self.parts()?;
        let key = format!("{before}{}{between}{id}{after}", self.name);
        let check = if self.ascii_keys {
            AsciiField::encode(&key).map(drop)
        } else {
            TextField::encode(&key).map(drop)
        };
        check.map_err(|reason| Error::invalid_value(format!("{} key", self.label()), reason))?;
        Ok(key)
    }

    /// The keys of several ids.
    fn keys<I: Display>(&self, ids: &[I]) -> Result<Vec<String>, Error> {
        ids.iter().map(|id| self.key(id)).collect()
    }

    /// The id inside a key of this keyspace, if it is one.
    fn id_of<'k>(&self, key: &'k str) -> Option<&'k str> {
        let [before, between, after] = self.parts().ok()?;
        key.strip_prefix(before)?
            .strip_prefix(self.name)?
            .strip_prefix(between)?
            .strip_suffix(after)
    }

    /// Queues what `build` queues on a pipeline nested in `parent` (on this keyspace's
    /// connection). If `build` fails, nothing it queued is kept and the deferred holds the
    /// error.
    fn run<'a, T>(
        &self,
        parent: impl Into<Parent<'a>>,
        build: impl FnOnce(&Pipeline) -> Result<Deferred<T>, Error>,
    ) -> Deferred<T> {
        let nested = match self.connection {
            Some(connection) => Nested::on(parent, connection),
            None => Nested::new(parent),
        };
        match build(&nested) {
            Ok(deferred) => nested.forward(deferred),
            Err(error) => nested.fail(error),
        }
    }

    /// One command built by `build` (which may fail before anything is queued), its reply
    /// converted by redis-rs.
    fn cmd<'a, T: FromRedisValue + Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        build: impl FnOnce() -> Result<Cmd, Error>,
    ) -> Deferred<T> {
        self.run(parent, |p| Ok(p.query(build()?)))
    }

    /// One command built by `build`, its reply converted by `decode`.
    fn decoded<'a, T: Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        decode: fn(Value) -> Result<T, redis::RedisError>,
        build: impl FnOnce() -> Result<Cmd, Error>,
    ) -> Deferred<T> {
        self.run(parent, |p| Ok(p.query_with(build()?, decode)))
    }

    /// One command on the key of `id`, its reply converted by redis-rs.
    fn raw<'a, T: FromRedisValue + Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        build: impl FnOnce(String) -> Cmd,
    ) -> Deferred<T> {
        self.run(parent, |p| Ok(p.query(build(self.key(id)?))))
    }

    /// One command on the key of `id` and `value` encoded by `C` (refused before anything
    /// is queued when `C` rejects it), its reply converted by redis-rs.
    fn with_value<'a, C: Codec, T: FromRedisValue + Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &C::Value,
        build: impl FnOnce(String, Vec<u8>) -> Cmd,
    ) -> Deferred<T> {
        self.cmd(parent, || {
            Ok(build(self.key(id)?, encode::<C>(self.label(), value)?))
        })
    }

    /// Like [`with_value`](Self::with_value), with several values.
    fn with_values<'a, C: Codec, M: std::borrow::Borrow<C::Value>, T>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        values: &[M],
        build: impl FnOnce(String, Vec<Vec<u8>>) -> Cmd,
    ) -> Deferred<T>
    where
        T: FromRedisValue + Send + Sync + 'static,
    {
        self.cmd(parent, || {
            Ok(build(
                self.key(id)?,
                encode_all::<C, M>(self.label(), values)?,
            ))
        })
    }

    /// `DEL` of the keys of `ids`; the number removed.
    pub fn delete<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<i64> {
        self.run(parent, |p| Ok(p.del(self.keys(ids)?)))
    }

    /// `EXISTS`: whether the key of `id` exists.
    pub fn exists<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<bool> {
        self.raw(parent, id, Cmd::exists)
    }

    /// `EXPIRE`: whether the timeout was set.
    pub fn expire<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        seconds: i64,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::expire(k, seconds))
    }

    /// `PEXPIRE`: whether the timeout was set.
    pub fn pexpire<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        ms: i64,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::pexpire(k, ms))
    }

    /// `PEXPIREAT` (Unix time in milliseconds): whether the timeout was set.
    pub fn pexpireat<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        when_ms: i64,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::pexpire_at(k, when_ms))
    }

    /// `TTL` in seconds (-2 missing, -1 no expiry).
    pub fn ttl<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::ttl)
    }

    /// `PTTL` in milliseconds (-2 missing, -1 no expiry).
    pub fn pttl<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::pttl)
    }

    /// `PERSIST`: whether a timeout was removed.
    pub fn persist<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<bool> {
        self.raw(parent, id, Cmd::persist)
    }

    /// `RENAME` the key of `src` to the key of `dst` (an error reply if `src` is missing).
    pub fn rename<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        src: impl Display,
        dst: impl Display,
    ) -> Deferred<()> {
        self.run(parent, |p| Ok(p.rename(self.key(src)?, self.key(dst)?)))
    }

    /// `RENAMENX`: false when `dst` exists.
    pub fn renamenx<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        src: impl Display,
        dst: impl Display,
    ) -> Deferred<bool> {
        self.run(parent, |p| Ok(p.rename_nx(self.key(src)?, self.key(dst)?)))
    }

    /// `DUMP`: the serialized value, or `None` when the key is missing.
    pub fn dump<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Vec<u8>>> {
        self.raw(parent, id, |k| redis::cmd("DUMP").arg(k).take())
    }

    /// `RESTORE key pttl payload` (no `REPLACE`: an existing key is a `BUSYKEY` error).
    /// `pttl` 0 means no expiry. (Python returned the text `OK`; this is `()`.)
    pub fn restore<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        payload: &[u8],
        pttl: i64,
    ) -> Deferred<()> {
        self.raw(parent, id, |k| {
            redis::cmd("RESTORE").arg(k).arg(pttl).arg(payload).take()
        })
    }

    /// Restores only if the key is absent (a Lua script sent with `EVAL`): true if restored.
    pub fn restorenx<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        payload: &[u8],
        pttl: i64,
    ) -> Deferred<bool> {
        const RESTORENX: &str = "if redis.call('exists', KEYS[1]) == 0 then \
             redis.call('restore', KEYS[1], ARGV[1], ARGV[2]) return 1 else return 0 end";
        self.raw(parent, id, |k| {
            redis::cmd("EVAL")
                .arg(RESTORENX)
                .arg(1)
                .arg(k)
                .arg(pttl)
                .arg(payload)
                .take()
        })
    }

    /// `EVAL script` with the keys of `ids` as `KEYS` and `args` as `ARGV` (sent raw).
    pub fn eval<'a, T, I, A>(
        &self,
        parent: impl Into<Parent<'a>>,
        script: &crate::Script,
        ids: &[I],
        args: &[A],
    ) -> Deferred<T>
    where
        T: FromRedisValue + Send + Sync + 'static,
        I: Display,
        A: redis::ToRedisArgs,
    {
        self.run(parent, |p| {
            Ok(p.invoke_script(script, &self.keys(ids)?, args))
        })
    }

    /// `OBJECT <subcommand> key`, for example `OBJECT ENCODING` (reply type chosen by the
    /// caller: `Option<String>` for ENCODING, `Option<i64>` for IDLETIME/REFCOUNT/FREQ).
    pub fn object<'a, T: FromRedisValue + Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        subcommand: &str,
        id: impl Display,
    ) -> Deferred<T> {
        self.raw(parent, id, |k| {
            redis::cmd("OBJECT").arg(subcommand).arg(k).take()
        })
    }

    /// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [DESC] [ALPHA]`.
    /// Patterns are sent as given, not prefixed (the Python library forced them into this
    /// keyspace, which broke `#` and other keyspaces): write full key patterns.
    pub fn sort<'a, T: FromRedisValue + Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        sort: &Sort<'_>,
    ) -> Deferred<T> {
        self.raw(parent, id, |k| sort.command(k))
    }

    /// `SORT key ... STORE dest`: sorts as [`sort`](Self::sort) does and stores the result
    /// as a list at the key of `dest` in this keyspace (as Python's `store=`, which built
    /// the key the same way); the reply is the number of elements stored.
    pub fn sort_store<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        sort: &Sort<'_>,
        dest: impl Display,
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            let mut cmd = sort.command(self.key(id)?);
            cmd.arg("STORE").arg(self.key(dest)?);
            Ok(cmd)
        })
    }

    /// One `SCAN` page of this keyspace: the next cursor (0 when done) and the ids found.
    /// `pattern` globs the id (`*` when `None`); the keyspace and template parts are escaped.
    pub fn scan<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        cursor: u64,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Deferred<Page<String>> {
        let space = *self;
        self.run(parent, |p| {
            let [before, between, after] = self.parts()?;
            let glob = format!(
                "{}{}{}{}{}",
                scan::escape_glob(before),
                scan::escape_glob(self.name),
                scan::escape_glob(between),
                pattern.unwrap_or("*"),
                scan::escape_glob(after)
            );
            let page: Deferred<Page<String>> =
                p.query(scan_cmd("SCAN", None, cursor, Some(&glob), count));
            let nested = Nested::new(p);
            let ids = nested.resolve_result(move || {
                let (next, keys) = page.try_get()?;
                let ids = keys
                    .iter()
                    .filter_map(|k| space.id_of(k))
                    .map(str::to_owned);
                Ok::<_, Error>((*next, ids.collect()))
            });
            Ok(ids)
        })
    }

    /// Every id of this keyspace, one round trip per page, on the current registry.
    pub fn scan_iter(&self, pattern: Option<&str>, count: Option<usize>) -> Scan<String> {
        let space = *self;
        let pattern = pattern.map(str::to_owned);
        Scan::new(move |cursor| space.scan(None, cursor, pattern.as_deref(), count))
    }
}

/// Options of [`Keyspace::sort`] and [`Keyspace::sort_store`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Sort<'s> {
    /// `BY pattern`.
    pub by: Option<&'s str>,
    /// `LIMIT offset count`.
    pub limit: Option<(i64, i64)>,
    /// `GET pattern`, repeated.
    pub get: &'s [&'s str],
    /// `DESC`.
    pub desc: bool,
    /// `ALPHA`.
    pub alpha: bool,
}

impl Sort<'_> {
    /// The `SORT` command on `key` with these options.
    fn command(&self, key: String) -> Cmd {
        let mut cmd = redis::cmd("SORT");
        cmd.arg(key);
        if let Some(by) = self.by {
            cmd.arg("BY").arg(by);
        }
        if let Some((offset, count)) = self.limit {
            cmd.arg("LIMIT").arg(offset).arg(count);
        }
        for get in self.get {
            cmd.arg("GET").arg(*get);
        }
        if self.desc {
            cmd.arg("DESC");
        }
        if self.alpha {
            cmd.arg("ALPHA");
        }
        cmd
    }
}

/// Encodes `value` with codec `C`, naming `what` in the error.
pub(crate) fn encode<C: Codec>(what: &str, value: &C::Value) -> Result<Vec<u8>, Error> {
    C::encode(value).map_err(|reason| Error::invalid_value(what, reason))
}

/// Encodes several values.
pub(crate) fn encode_all<C: Codec, V: std::borrow::Borrow<C::Value>>(
    what: &str,
    values: &[V],
) -> Result<Vec<Vec<u8>>, Error> {
    values
        .iter()
        .map(|v| encode::<C>(what, v.borrow()))
        .collect()
}

/// `SCAN`/`SSCAN`/`ZSCAN`/`HSCAN` with its optional `MATCH` and `COUNT`.
pub(crate) fn scan_cmd(
    name: &str,
    key: Option<String>,
    cursor: u64,
    pattern: Option<&str>,
    count: Option<usize>,
) -> Cmd {
    let mut cmd = redis::cmd(name);
    if let Some(key) = key {
        cmd.arg(key);
    }
    cmd.arg(cursor);
    if let Some(pattern) = pattern {
        cmd.arg("MATCH").arg(pattern);
    }
    if let Some(count) = count {
        cmd.arg("COUNT").arg(count);
    }
    cmd
}
