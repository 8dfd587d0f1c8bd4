//! List keyspaces.

use std::borrow::Borrow;
use std::fmt::Display;

use redis::Cmd;

use super::decode::{self, Owned};
use crate::commands::build;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::Codec;
use crate::nested::Parent;

typed_keyspace! {
    /// Keys holding lists, items encoded by `V`.
    ///
    /// Blocking pops block their connection's whole batch; a timeout of 0 waits forever
    /// unless the connection has a response timeout.
    List
}

impl<V: Codec> List<V> {
    /// `BLPOP` over `ids`: the id and the item, `None` on timeout.
    pub fn blpop<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
        timeout: f64,
    ) -> Deferred<Option<(String, Owned<V>)>> {
        self.pop_blocking(parent, ids, timeout, Cmd::blpop)
    }

    /// `BRPOP` over `ids`: the id and the item, `None` on timeout.
    pub fn brpop<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
        timeout: f64,
    ) -> Deferred<Option<(String, Owned<V>)>> {
        self.pop_blocking(parent, ids, timeout, Cmd::brpop)
    }

    fn pop_blocking<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
        timeout: f64,
        build: fn(Vec<String>, f64) -> Cmd,
    ) -> Deferred<Option<(String, Owned<V>)>> {
        let space = **self;
        self.run(parent, |p| {
            let popped = p.query_with(build(self.keys(ids)?, timeout), decode::popped::<V>);
            let nested = crate::nested::Nested::new(p);
            Ok(nested.resolve_result(move || {
                let popped = popped.try_get()?.clone();
                Ok::<_, Error>(popped.map(|(key, item)| {
                    let id = space.id_of(&key).map_or(key.clone(), str::to_owned);
                    (id, item)
                }))
            }))
        })
    }

    /// `BRPOPLPUSH`: the item moved, `None` on timeout.
    pub fn brpoplpush<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        src: impl Display,
        dst: impl Display,
        timeout: f64,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::brpoplpush(self.key(src)?, self.key(dst)?, timeout))
        })
    }

    /// `LLEN`.
    pub fn llen<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::llen)
    }

    /// `LRANGE`.
    pub fn lrange<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        stop: isize,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(build::lrange(self.key(id)?, start, stop))
        })
    }

    /// `LPUSH`: the new length.
    pub fn lpush<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        items: &[M],
    ) -> Deferred<i64> {
        self.with_values::<V, M, _>(parent, id, items, Cmd::lpush)
    }

    /// `RPUSH`: the new length.
    pub fn rpush<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        items: &[M],
    ) -> Deferred<i64> {
        self.with_values::<V, M, _>(parent, id, items, Cmd::rpush)
    }

    /// `LPOP`: `None` when empty.
    pub fn lpop<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::lpop(self.key(id)?, None))
        })
    }

    /// `RPOP`: `None` when empty.
    pub fn rpop<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::rpop(self.key(id)?, None))
        })
    }

    /// `RPOPLPUSH`: the item moved, `None` when `src` is empty.
    pub fn rpoplpush<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        src: impl Display,
        dst: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::rpoplpush(self.key(src)?, self.key(dst)?))
        })
    }

    /// `LREM key count value`: how many were removed (`count` 0 removes all).
    pub fn lrem<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        count: isize,
        value: &V::Value,
    ) -> Deferred<i64> {
        self.with_value::<V, _>(parent, id, value, |k, v| build::lrem(k, count, v))
    }

    /// `LTRIM`.
    pub fn ltrim<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        stop: isize,
    ) -> Deferred<()> {
        self.raw(parent, id, |k| build::ltrim(k, start, stop))
    }

    /// `LINDEX`: `None` when out of range.
    pub fn lindex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        index: isize,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::lindex(self.key(id)?, index))
        })
    }

    /// `LSET`.
    pub fn lset<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        index: isize,
        value: &V::Value,
    ) -> Deferred<()> {
        self.with_value::<V, _>(parent, id, value, |k, v| build::lset(k, index, v))
    }
}
