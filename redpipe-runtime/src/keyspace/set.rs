//! Set and HyperLogLog keyspaces.

use std::borrow::Borrow;
use std::fmt::Display;

use redis::Cmd;

use super::decode::{self, Owned};
use super::scan::{Page, Scan};
use super::{encode, encode_all};
use crate::deferred::Deferred;
use crate::field::Codec;
use crate::pipeline::Parent;

typed_keyspace! {
    /// Keys holding sets, members encoded by `V`. Set replies are `Vec`s (codec values
    /// such as `f64` are not `Hash`).
    Set
}

impl<V: Codec> Set<V> {
    /// `SADD`: how many were added.
    pub fn sadd<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[M],
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            Ok(Cmd::sadd(
                self.key(id)?,
                encode_all::<V, M>(self.name(), members)?,
            ))
        })
    }

    /// `SREM`: how many were removed.
    pub fn srem<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[M],
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            Ok(Cmd::srem(
                self.key(id)?,
                encode_all::<V, M>(self.name(), members)?,
            ))
        })
    }

    /// `SPOP`: a random member, removed; `None` when empty.
    pub fn spop<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || Ok(Cmd::spop(self.key(id)?)))
    }

    /// `SMEMBERS`.
    pub fn smembers<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(Cmd::smembers(self.key(id)?))
        })
    }

    /// `SCARD`.
    pub fn scard<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::scard)
    }

    /// `SISMEMBER`.
    pub fn sismember<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
    ) -> Deferred<bool> {
        self.cmd(parent, || {
            Ok(Cmd::sismember(
                self.key(id)?,
                encode::<V>(self.name(), member)?,
            ))
        })
    }

    /// `SRANDMEMBER`: one member, `None` when empty.
    pub fn srandmember<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(Cmd::srandmember(self.key(id)?))
        })
    }

    /// `SRANDMEMBER key count`.
    pub fn srandmember_n<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        count: isize,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(Cmd::srandmember_multiple(self.key(id)?, count))
        })
    }

    /// `SDIFF` of the sets of `ids`.
    pub fn sdiff<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(Cmd::sdiff(self.keys(ids)?))
        })
    }

    /// `SDIFFSTORE`: the size of the result.
    pub fn sdiffstore<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        ids: &[I],
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            Ok(Cmd::sdiffstore(self.key(dest)?, self.keys(ids)?))
        })
    }

    /// `SINTER`.
    pub fn sinter<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(Cmd::sinter(self.keys(ids)?))
        })
    }

    /// `SINTERSTORE`.
    pub fn sinterstore<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        ids: &[I],
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            Ok(Cmd::sinterstore(self.key(dest)?, self.keys(ids)?))
        })
    }

    /// `SUNION`.
    pub fn sunion<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(Cmd::sunion(self.keys(ids)?))
        })
    }

    /// `SUNIONSTORE`.
    pub fn sunionstore<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        ids: &[I],
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            Ok(Cmd::sunionstore(self.key(dest)?, self.keys(ids)?))
        })
    }

    /// One `SSCAN` page: the next cursor and members (the pattern matches members).
    pub fn sscan<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        cursor: u64,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Deferred<Page<Owned<V>>> {
        self.decoded(parent, decode::page::<V>, || {
            Ok(super::scan_cmd(
                "SSCAN",
                Some(self.key(id)?),
                cursor,
                pattern,
                count,
            ))
        })
    }

    /// Every member, one round trip per page.
    pub fn sscan_iter(
        &self,
        id: impl Display,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Scan<Owned<V>> {
        let (space, id, pattern) = (*self, id.to_string(), pattern.map(str::to_owned));
        Scan::new(move |cursor| space.sscan(None, &id, cursor, pattern.as_deref(), count))
    }
}

typed_keyspace! {
    /// Keys holding HyperLogLogs, elements encoded by `V`.
    HyperLogLog
}

impl<V: Codec> HyperLogLog<V> {
    /// `PFADD`: true when the estimate changed.
    pub fn pfadd<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        elements: &[M],
    ) -> Deferred<bool> {
        self.cmd(parent, || {
            Ok(Cmd::pfadd(
                self.key(id)?,
                encode_all::<V, M>(self.name(), elements)?,
            ))
        })
    }

    /// `PFCOUNT` over the union of `ids`.
    pub fn pfcount<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<i64> {
        self.cmd(parent, || Ok(Cmd::pfcount(self.keys(ids)?)))
    }

    /// `PFMERGE` of `ids` into `dest`.
    pub fn pfmerge<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        ids: &[I],
    ) -> Deferred<()> {
        self.cmd(parent, || {
            Ok(Cmd::pfmerge(self.key(dest)?, self.keys(ids)?))
        })
    }
}
