//! Set and HyperLogLog keyspaces.

use std::borrow::Borrow;
use std::fmt::Display;

use redis::Cmd;

use super::decode::{self, Owned};
use super::scan::{Page, Scan};
use crate::commands::build;
use crate::deferred::Deferred;
use crate::field::Codec;
use crate::nested::Parent;

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
        self.with_values::<V, M, _>(parent, id, members, Cmd::sadd)
    }

    /// `SREM`: how many were removed.
    pub fn srem<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[M],
    ) -> Deferred<i64> {
        self.with_values::<V, M, _>(parent, id, members, Cmd::srem)
    }

    /// `SPOP`: a random member, removed; `None` when empty.
    pub fn spop<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || Ok(build::spop(self.key(id)?)))
    }

    /// `SMEMBERS`.
    pub fn smembers<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(build::smembers(self.key(id)?))
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
        self.with_value::<V, _>(parent, id, member, Cmd::sismember)
    }

    /// `SRANDMEMBER`: one member, `None` when empty.
    pub fn srandmember<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Owned<V>>> {
        self.decoded(parent, decode::opt::<V>, || {
            Ok(build::srandmember(self.key(id)?))
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
            Ok(build::srandmember_multiple(self.key(id)?, count))
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

/// `SDIFF`, `SINTER`, `SUNION` over the sets of `ids`, and their `*STORE` forms into
/// `dest` (which return the size of the result).
macro_rules! set_algebra {
    ($($op:ident $name:literal, $store:ident;)*) => {
        impl<V: Codec> Set<V> {
            $(
                #[doc = concat!("`", $name, "` of the sets of `ids`.")]
                pub fn $op<'a, I: Display>(
                    &self,
                    parent: impl Into<Parent<'a>>,
                    ids: &[I],
                ) -> Deferred<Vec<Owned<V>>> {
                    self.decoded(parent, decode::many::<V>, || Ok(Cmd::$op(self.keys(ids)?)))
                }

                #[doc = concat!("`", $name, "STORE` into `dest`: the size of the result.")]
                pub fn $store<'a, I: Display>(
                    &self,
                    parent: impl Into<Parent<'a>>,
                    dest: impl Display,
                    ids: &[I],
                ) -> Deferred<i64> {
                    self.cmd(parent, || Ok(Cmd::$store(self.key(dest)?, self.keys(ids)?)))
                }
            )*
        }
    };
}

set_algebra! {
    sdiff "SDIFF", sdiffstore;
    sinter "SINTER", sinterstore;
    sunion "SUNION", sunionstore;
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
        self.with_values::<V, M, _>(parent, id, elements, Cmd::pfadd)
    }

    /// `PFCOUNT` over the union of `ids`.
    pub fn pfcount<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<i64> {
        self.cmd(parent, || Ok(build::pfcount(self.keys(ids)?)))
    }

    /// `PFMERGE` of `ids` into `dest`.
    pub fn pfmerge<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        ids: &[I],
    ) -> Deferred<()> {
        self.cmd(parent, || {
            Ok(build::pfmerge(self.key(dest)?, self.keys(ids)?))
        })
    }
}
