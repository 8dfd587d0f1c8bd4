//! Sorted set keyspaces.

use std::borrow::Borrow;
use std::fmt::Display;

use redis::Cmd;

use super::decode::{self, Owned};
use super::encode;
use super::scan::{Page, Scan};
use crate::commands::build;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::Codec;
use crate::nested::Parent;

typed_keyspace! {
    /// Keys holding sorted sets, members encoded by `V`. Score bounds (`min`, `max`) are
    /// sent as given, so `"-inf"`, `"(1.5"` and `"+inf"` work; lex bounds likewise.
    SortedSet
}

/// `ZADD` flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZAdd {
    /// `NX`: only add new members.
    pub nx: bool,
    /// `XX`: only update existing members.
    pub xx: bool,
    /// `CH`: count changed members, not only added ones.
    pub ch: bool,
}

impl<V: Codec> SortedSet<V> {
    /// `ZADD key [NX|XX] [CH] score member ...`: how many were added (changed, with `ch`).
    /// `nx` with `xx` is an error before anything is sent.
    pub fn zadd<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[(M, f64)],
        flags: ZAdd,
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(self.key(id)?);
            zadd_flags(&mut cmd, flags)?;
            for (member, score) in members {
                cmd.arg(*score)
                    .arg(encode::<V>(self.label(), member.borrow())?);
            }
            Ok(cmd)
        })
    }

    /// `ZADD ... INCR`: the new score (a float, unlike Python), `None` when an `NX`/`XX`
    /// condition stopped it.
    pub fn zadd_incr<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
        amount: f64,
        flags: ZAdd,
    ) -> Deferred<Option<f64>> {
        self.cmd(parent, || {
            let mut cmd = redis::cmd("ZADD");
            cmd.arg(self.key(id)?);
            zadd_flags(&mut cmd, flags)?;
            cmd.arg("INCR")
                .arg(amount)
                .arg(encode::<V>(self.label(), member)?);
            Ok(cmd)
        })
    }

    /// `ZREM`: how many were removed.
    pub fn zrem<'a, M: Borrow<V::Value>>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[M],
    ) -> Deferred<i64> {
        self.with_values::<V, M, _>(parent, id, members, Cmd::zrem)
    }

    /// `ZINCRBY`: the new score.
    pub fn zincrby<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
        amount: f64,
    ) -> Deferred<f64> {
        self.with_value::<V, _>(parent, id, member, |k, v| build::zincr(k, v, amount))
    }

    /// `ZRANK`: `None` when not a member.
    pub fn zrank<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
    ) -> Deferred<Option<i64>> {
        self.with_value::<V, _>(parent, id, member, Cmd::zrank)
    }

    /// `ZREVRANK`: `None` when not a member.
    pub fn zrevrank<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
    ) -> Deferred<Option<i64>> {
        self.with_value::<V, _>(parent, id, member, Cmd::zrevrank)
    }

    /// `ZSCORE`: `None` when not a member.
    pub fn zscore<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &V::Value,
    ) -> Deferred<Option<f64>> {
        self.with_value::<V, _>(parent, id, member, Cmd::zscore)
    }

    /// `ZRANGE` by rank (`ZREVRANGE` when `desc`).
    pub fn zrange<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        stop: isize,
        desc: bool,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            let key = self.key(id)?;
            Ok(if desc {
                build::zrevrange(key, start, stop)
            } else {
                build::zrange(key, start, stop)
            })
        })
    }

    /// `ZRANGE ... WITHSCORES` (`ZREVRANGE` when `desc`).
    pub fn zrange_withscores<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        stop: isize,
        desc: bool,
    ) -> Deferred<Vec<(Owned<V>, f64)>> {
        self.decoded(parent, decode::scored::<V>, || {
            let key = self.key(id)?;
            Ok(if desc {
                build::zrevrange_withscores(key, start, stop)
            } else {
                build::zrange_withscores(key, start, stop)
            })
        })
    }

    /// `ZRANGEBYSCORE min max [LIMIT offset count]`.
    pub fn zrangebyscore<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<Owned<V>>> {
        self.range(parent, id, "ZRANGEBYSCORE", min, max, limit)
    }

    /// `ZRANGEBYSCORE min max WITHSCORES [LIMIT offset count]`.
    pub fn zrangebyscore_withscores<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<(Owned<V>, f64)>> {
        self.scored_range(parent, id, "ZRANGEBYSCORE", min, max, limit)
    }

    /// `ZREVRANGEBYSCORE max min [LIMIT offset count]`.
    pub fn zrevrangebyscore<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        max: &str,
        min: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<Owned<V>>> {
        self.range(parent, id, "ZREVRANGEBYSCORE", max, min, limit)
    }

    /// `ZREVRANGEBYSCORE max min WITHSCORES [LIMIT offset count]`.
    pub fn zrevrangebyscore_withscores<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        max: &str,
        min: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<(Owned<V>, f64)>> {
        self.scored_range(parent, id, "ZREVRANGEBYSCORE", max, min, limit)
    }

    /// `ZCARD`.
    pub fn zcard<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::zcard)
    }

    /// `ZCOUNT min max`.
    pub fn zcount<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::zcount(k, min, max))
    }

    /// `ZREMRANGEBYRANK`.
    pub fn zremrangebyrank<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        start: isize,
        stop: isize,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::zremrangebyrank(k, start, stop))
    }

    /// `ZREMRANGEBYSCORE min max`.
    pub fn zremrangebyscore<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::zrembyscore(k, min, max))
    }

    /// `ZLEXCOUNT min max`.
    pub fn zlexcount<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::zlexcount(k, min, max))
    }

    /// `ZRANGEBYLEX min max [LIMIT offset count]`.
    pub fn zrangebylex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<Owned<V>>> {
        self.range(parent, id, "ZRANGEBYLEX", min, max, limit)
    }

    /// `ZREVRANGEBYLEX max min [LIMIT offset count]`.
    pub fn zrevrangebylex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        max: &str,
        min: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<Owned<V>>> {
        self.range(parent, id, "ZREVRANGEBYLEX", max, min, limit)
    }

    /// `ZREMRANGEBYLEX min max`.
    pub fn zremrangebylex<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        min: &str,
        max: &str,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::zrembylex(k, min, max))
    }

    /// `ZUNIONSTORE dest n keys... WEIGHTS ... [AGGREGATE SUM|MIN|MAX]` with one weight per
    /// source (Python ignored weights).
    pub fn zunionstore<'a, I: Display>(
        &self,
        parent: impl Into<Parent<'a>>,
        dest: impl Display,
        sources: &[(I, f64)],
        aggregate: Option<&str>,
    ) -> Deferred<i64> {
        self.cmd(parent, || {
            let mut cmd = redis::cmd("ZUNIONSTORE");
            cmd.arg(self.key(dest)?).arg(sources.len());
            for (id, _) in sources {
                cmd.arg(self.key(id)?);
            }
            cmd.arg("WEIGHTS");
            for (_, weight) in sources {
                cmd.arg(*weight);
            }
            if let Some(aggregate) = aggregate {
                cmd.arg("AGGREGATE").arg(aggregate);
            }
            Ok(cmd)
        })
    }

    /// One `ZSCAN` page: the next cursor and members with scores.
    pub fn zscan<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        cursor: u64,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Deferred<Page<(Owned<V>, f64)>> {
        self.decoded(parent, decode::scored_page::<V>, || {
            Ok(super::scan_cmd(
                "ZSCAN",
                Some(self.key(id)?),
                cursor,
                pattern,
                count,
            ))
        })
    }

    /// Every member with its score, one round trip per page.
    pub fn zscan_iter(
        &self,
        id: impl Display,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Scan<(Owned<V>, f64)> {
        let (space, id, pattern) = (*self, id.to_string(), pattern.map(str::to_owned));
        Scan::new(move |cursor| space.zscan(None, &id, cursor, pattern.as_deref(), count))
    }
}

fn zadd_flags(cmd: &mut Cmd, flags: ZAdd) -> Result<(), Error> {
    match (flags.nx, flags.xx) {
        (true, true) => return Err(Error::invalid_operation("ZADD cannot take both NX and XX")),
        (true, false) => drop(cmd.arg("NX")),
        (false, true) => drop(cmd.arg("XX")),
        (false, false) => {}
    }
    if flags.ch {
        cmd.arg("CH");
    }
    Ok(())
}

impl<V: Codec> SortedSet<V> {
    /// One `Z*RANGEBY*` command (`name`, bounds in the order it takes them, `LIMIT`) on the
    /// key of `id`: the members.
    fn range<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        name: &'static str,
        from: &str,
        to: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<Owned<V>>> {
        self.decoded(parent, decode::many::<V>, || {
            Ok(range_cmd(name, self.key(id)?, from, to, limit, false))
        })
    }

    /// Like [`range`](Self::range), `WITHSCORES`: the members with their scores.
    fn scored_range<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        name: &'static str,
        from: &str,
        to: &str,
        limit: Option<(isize, isize)>,
    ) -> Deferred<Vec<(Owned<V>, f64)>> {
        self.decoded(parent, decode::scored::<V>, || {
            Ok(range_cmd(name, self.key(id)?, from, to, limit, true))
        })
    }
}

fn range_cmd(
    name: &str,
    key: String,
    from: &str,
    to: &str,
    limit: Option<(isize, isize)>,
    scores: bool,
) -> Cmd {
    let mut cmd = redis::cmd(name);
    cmd.arg(key).arg(from).arg(to);
    if scores {
        cmd.arg("WITHSCORES");
    }
    if let Some((offset, count)) = limit {
        cmd.arg("LIMIT").arg(offset).arg(count);
    }
    cmd
}
