//! HashedString: many small strings spread over a fixed number of hash shards.

use std::borrow::Borrow;
use std::marker::PhantomData;

use super::decode::{self, Owned};
use super::scan::{Scan, Source};
use super::{encode, Keyspace};
use crate::commands::build;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::Codec;
use crate::nested::{Nested, Parent};
use crate::shard::{shard, DEFAULT_SHARD_COUNT};

/// Many small string values stored in `shards` hash keys instead of one key each.
///
/// The shard of a key is the MD5 of its UTF-8 bytes, read as a big-endian 128-bit
/// integer, modulo the shard count (64 by default); the shard's hash key is the keyspace's
/// key for the shard number (`name{17}`), and the member is the key itself: the same
/// layout as the Python library, so both read each other's data. Scans visit every shard
/// (Python skipped the last one); a member name in a shard that is not UTF-8 ends the scan
/// with an error naming the shard key (it is never converted lossily).
pub struct HashedString<V: Codec = crate::field::TextField> {
    space: Keyspace,
    shards: u32,
    _values: PhantomData<fn() -> V>,
}

impl<V: Codec> Clone for HashedString<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V: Codec> Copy for HashedString<V> {}

impl<V: Codec> std::fmt::Debug for HashedString<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashedString")
            .field("space", &self.space)
            .field("shards", &self.shards)
            .finish()
    }
}

impl<V: Codec> HashedString<V> {
    /// Over `space`, with 64 shards.
    pub const fn new(space: Keyspace) -> Self {
        HashedString {
            space,
            shards: DEFAULT_SHARD_COUNT,
            _values: PhantomData,
        }
    }

    /// With `count` shards (0 is treated as 1).
    pub const fn shards(mut self, count: u32) -> Self {
        self.shards = if count == 0 { 1 } else { count };
        self
    }

    /// The keyspace of the shard hashes.
    pub fn keyspace(&self) -> &Keyspace {
        &self.space
    }

    /// The shard number of `key`.
    pub fn shard(&self, key: &str) -> u32 {
        shard(key, self.shards)
    }

    /// The hash key holding `key`.
    pub fn shard_key(&self, key: &str) -> Result<String, Error> {
        self.space.key(self.shard(key))
    }

    /// `HGET`: the value, `None` when missing.
    pub fn get<'a>(&self, parent: impl Into<Parent<'a>>, key: &str) -> Deferred<Option<Owned<V>>> {
        self.space.decoded(parent, decode::opt::<V>, || {
            Ok(build::hget(self.shard_key(key)?, key))
        })
    }

    /// `HSET`: 1 when new, 0 when updated.
    pub fn set<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        key: &str,
        value: &V::Value,
    ) -> Deferred<i64> {
        self.space.cmd(parent, || {
            Ok(build::hset(
                self.shard_key(key)?,
                key,
                encode::<V>(key, value)?,
            ))
        })
    }

    /// `HSETNX`: true when set.
    pub fn setnx<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        key: &str,
        value: &V::Value,
    ) -> Deferred<bool> {
        self.space.cmd(parent, || {
            Ok(build::hset_nx(
                self.shard_key(key)?,
                key,
                encode::<V>(key, value)?,
            ))
        })
    }

    /// `HSTRLEN`.
    pub fn strlen<'a>(&self, parent: impl Into<Parent<'a>>, key: &str) -> Deferred<i64> {
        self.space.cmd(parent, || {
            Ok(redis::cmd("HSTRLEN")
                .arg(self.shard_key(key)?)
                .arg(key)
                .take())
        })
    }

    /// `HINCRBY`: the new value.
    pub fn incr<'a>(&self, parent: impl Into<Parent<'a>>, key: &str, amount: i64) -> Deferred<i64> {
        self.space.cmd(parent, || {
            Ok(build::hincr(self.shard_key(key)?, key, amount))
        })
    }

    /// `HINCRBYFLOAT`: the new value.
    pub fn incrbyfloat<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        key: &str,
        amount: f64,
    ) -> Deferred<f64> {
        self.space.cmd(parent, || {
            Ok(build::hincr(self.shard_key(key)?, key, amount))
        })
    }

    /// One `HDEL` per key, in one round trip: how many were removed in total.
    pub fn delete<'a, K: Borrow<str>>(
        &self,
        parent: impl Into<Parent<'a>>,
        keys: &[K],
    ) -> Deferred<i64> {
        self.space.run(parent, |p| {
            let counts = keys
                .iter()
                .map(|k| Ok(p.hdel(self.shard_key(k.borrow())?, k.borrow())))
                .collect::<Result<Vec<Deferred<i64>>, Error>>()?;
            Ok(Nested::new(p).resolve(move || {
                counts
                    .iter()
                    .map(|c| c.try_get().copied().unwrap_or(0))
                    .sum()
            }))
        })
    }

    /// One `HGET` per key, in one round trip: one entry per key, `None` where missing.
    pub fn mget<'a, K: Borrow<str>>(
        &self,
        parent: impl Into<Parent<'a>>,
        keys: &[K],
    ) -> Deferred<Vec<Option<Owned<V>>>> {
        self.space.run(parent, |p| {
            let values = keys
                .iter()
                .map(|k| {
                    Ok(p.query_with(
                        build::hget(self.shard_key(k.borrow())?, k.borrow()),
                        decode::opt::<V>,
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Nested::new(p).resolve_result(move || {
                values
                    .iter()
                    .map(|v| v.try_get().cloned())
                    .collect::<Result<Vec<_>, Error>>()
            }))
        })
    }

    /// Every `(key, value)` of every shard, one round trip per page.
    pub fn scan_iter(
        &self,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Scan<(String, Owned<V>)> {
        let sources = (0..self.shards)
            .map(|n| {
                let (space, pattern) = (self.space, pattern.map(str::to_owned));
                Box::new(move |cursor| {
                    space.run(None, |p| {
                        let key = space.key(n)?;
                        let cmd = super::scan_cmd(
                            "HSCAN",
                            Some(key.clone()),
                            cursor,
                            pattern.as_deref(),
                            count,
                        );
                        let raw: Deferred<redis::Value> = p.query(cmd);
                        Ok(Nested::new(p).resolve_result(move || {
                            decode::shard_page::<V>(&key, raw.try_get()?.clone()).map_err(|e| {
                                Error::Decode {
                                    key: key.as_str().into(),
                                    member: None,
                                    reason: e.to_string().into(),
                                }
                            })
                        }))
                    })
                }) as Source<(String, Owned<V>)>
            })
            .collect();
        Scan::from_sources(sources)
    }
}
