//! String keyspaces.

use std::fmt::Display;

use redis::Cmd;

use super::decode::{self, Owned};
use super::encode;
use crate::commands::build;
use crate::deferred::Deferred;
use crate::field::Codec;
use crate::nested::Parent;

typed_keyspace! {
    /// Keys holding strings, values encoded by `V` (the Python `String` keyspace).
    Strings
}

impl<V: Codec> Strings<V> {
    /// `GET`: the value, or `None` when the key is missing.
    pub fn get<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || Ok(build::get(self.key(id)?)))
    }

    /// `MGET`: one entry per id, `None` where missing.
    pub fn mget<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<Vec<Option<Owned<V>>>> {
        self.decoded(parent, decode::many_opt::<V>, || {
            Ok(build::mget(self.keys(ids)?))
        })
    }

    /// `SET`.
    pub fn set<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
    ) -> Deferred<()> {
        self.with_value::<V, _>(parent, id, value, Cmd::set)
    }

    /// `SET` with options (`EX`, `PX`, `NX`, `XX`...): true when the value was set (Python
    /// returned `None` when an NX/XX condition failed).
    pub fn set_with<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
        options: redis::SetOptions,
    ) -> Deferred<bool> {
        let decode: fn(redis::Value) -> Result<bool, redis::RedisError> =
            |v| Ok(!matches!(v, redis::Value::Nil));
        self.decoded(parent, decode, || {
            Ok(build::set_options(
                self.key(id)?,
                encode::<V>(self.label(), value)?,
                options,
            ))
        })
    }

    /// `SETNX`: true when the key was set.
    pub fn setnx<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
    ) -> Deferred<bool> {
        self.with_value::<V, _>(parent, id, value, Cmd::set_nx)
    }

    /// `SETEX`.
    pub fn setex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
        seconds: u64,
    ) -> Deferred<()> {
        self.with_value::<V, _>(parent, id, value, |k, v| build::set_ex(k, v, seconds))
    }

    /// `PSETEX`.
    pub fn psetex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
        ms: u64,
    ) -> Deferred<()> {
        self.with_value::<V, _>(parent, id, value, |k, v| build::pset_ex(k, v, ms))
    }

    /// `APPEND`: the new length.
    pub fn append<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        value: &V::Value,
    ) -> Deferred<i64> {
        self.with_value::<V, _>(parent, id, value, Cmd::append)
    }

    /// `STRLEN` (0 when missing).
    pub fn strlen<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::strlen)
    }

    /// `GETRANGE` (the Python `substr`), decoded.
    pub fn substr<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        end: isize,
    ) -> Deferred<Owned<V>> {
        self.decoded(parent, decode::one::<V>, || {
            Ok(build::getrange(self.key(id)?, start, end))
        })
    }

    /// `SETRANGE` with the value encoded (Python skipped encoding): the new length.
    pub fn setrange<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        offset: isize,
        value: &V::Value,
    ) -> Deferred<i64> {
        self.with_value::<V, _>(parent, id, value, |k, v| build::setrange(k, offset, v))
    }

    /// `SETBIT`: the previous bit.
    pub fn setbit<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        offset: usize,
        bit: bool,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::setbit(k, offset, bit))
    }

    /// `GETBIT`.
    pub fn getbit<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        offset: usize,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::getbit(k, offset))
    }

    /// `BITCOUNT`, over a byte range when given.
    pub fn bitcount<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        range: Option<(usize, usize)>,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| match range {
            Some((start, end)) => build::bitcount_range(k, start, end),
            None => build::bitcount(k),
        })
    }

    /// `INCRBY`: the new value.
    pub fn incr<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        amount: i64,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::incr(k, amount))
    }

    /// `INCRBYFLOAT`: the new value.
    pub fn incrbyfloat<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        amount: f64,
    ) -> Deferred<f64> {
        self.raw(parent, id, |k| build::incr(k, amount))
    }
}
