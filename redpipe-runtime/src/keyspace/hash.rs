//! Hash keyspaces, with a codec per member.

use std::collections::HashMap;
use std::fmt::Display;

use redis::{Cmd, Value};

use super::decode;
use super::scan::{Page, Scan};
use super::Keyspace;
use crate::commands::build;
use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::{Field, FieldValue};
use crate::nested::{Nested, Parent};
use crate::pipeline::Pipeline;

/// Keys holding hashes whose members have their own codecs (the Python `Hash` with
/// `fields`): members listed in [`fields`](Hash::fields) use their [`Field`], others the
/// [`default_field`](Hash::default_field) (text unless set). Values are [`FieldValue`]s;
/// member names are text: a stored member name that is not UTF-8 makes a read fail with
/// an error naming the key (it is never converted lossily, which could merge members).
///
/// A member its codec cannot decode fails the read with [`Error::Decode`], naming the key
/// and the member. To read such a hash anyway (to inspect or repair it), read the raw
/// bytes and decode member by member with [`Hash::field_of`]:
/// `let raw: Deferred<HashMap<String, Vec<u8>>> = pipe.hgetall(USERS.key(id)?);`.
///
/// Decoding picks each member's codec, including for `hvals` (which reads the members with
/// `HGETALL`; Python decoded `HVALS` with the default codec only).
#[derive(Debug, Clone, Copy)]
pub struct Hash {
    space: Keyspace,
    fields: &'static [(&'static str, Field)],
    default: Field,
}

impl std::ops::Deref for Hash {
    type Target = Keyspace;

    fn deref(&self) -> &Keyspace {
        &self.space
    }
}

type Members = HashMap<String, FieldValue>;

impl Hash {
    /// A hash keyspace over `space`, every member text.
    pub const fn new(space: Keyspace) -> Self {
        Hash {
            space,
            fields: &[],
            default: Field::Text,
        }
    }

    /// Gives members their own codecs.
    pub const fn fields(mut self, fields: &'static [(&'static str, Field)]) -> Self {
        self.fields = fields;
        self
    }

    /// The codec of members not listed in `fields`.
    pub const fn default_field(mut self, field: Field) -> Self {
        self.default = field;
        self
    }

    /// The codec of `member`.
    pub fn field_of(&self, member: &str) -> Field {
        self.fields
            .iter()
            .find(|(name, _)| *name == member)
            .map_or(self.default, |(_, field)| *field)
    }

    fn encode(&self, member: &str, value: &FieldValue) -> Result<Vec<u8>, Error> {
        self.field_of(member)
            .encode(value)
            .map_err(|reason| Error::invalid_value(member, reason))
    }

    fn decode(&self, key: &str, member: &str, bytes: &[u8]) -> Result<FieldValue, Error> {
        let field = self.field_of(member);
        field.decode(bytes).map_err(|reason| Error::Decode {
            key: key.into(),
            member: Some(member.into()),
            reason: format!("{} field: {reason}", field.name()).into(),
        })
    }

    /// Queues a raw reply of the command `build` makes for the key of `id`, and a combine
    /// step that decodes it with the member codecs (given the key, for messages).
    fn decode_with<'a, T: Send + Sync + 'static>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        build: impl FnOnce(String) -> Cmd,
        combine: impl FnOnce(&Hash, &str, Value) -> Result<T, Error> + Send + 'static,
    ) -> Deferred<T> {
        let hash = *self;
        self.run(parent, move |p: &Pipeline| {
            let key = self.key(id)?;
            let raw: Deferred<Value> = p.query(build(key.clone()));
            let nested = Nested::new(p);
            Ok(nested.resolve_result(move || combine(&hash, &key, raw.try_get()?.clone())))
        })
    }

    fn members(&self, key: &str, reply: Value) -> Result<Members, Error> {
        Ok(self.member_pairs(key, reply)?.into_iter().collect())
    }

    /// The members of a reply, decoded. Member names must be UTF-8: any other name is an
    /// error naming the key, never a lossy conversion (which could merge two members).
    fn member_pairs(&self, key: &str, reply: Value) -> Result<Vec<(String, FieldValue)>, Error> {
        decode::pairs(reply)
            .map_err(|e| Self::reply_error(key, e))?
            .into_iter()
            .map(|(member, value)| {
                let member =
                    decode::member_name(key, member).map_err(|e| Self::reply_error(key, e))?;
                let bytes: Vec<u8> =
                    redis::from_redis_value(value).map_err(|e| Self::reply_error(key, e.into()))?;
                let value = self.decode(key, &member, &bytes)?;
                Ok((member, value))
            })
            .collect()
    }

    fn reply_error(key: &str, source: redis::RedisError) -> Error {
        Error::Decode {
            key: key.into(),
            member: None,
            reason: source.to_string().into(),
        }
    }

    /// `HLEN`.
    pub fn hlen<'a>(&self, parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<i64> {
        self.raw(parent, id, Cmd::hlen)
    }

    /// `HSTRLEN` of a member.
    pub fn hstrlen<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| {
            redis::cmd("HSTRLEN").arg(k).arg(member).take()
        })
    }

    /// `HSET` of one member, encoded with its codec: 1 when new, 0 when updated.
    pub fn hset<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        value: impl Into<FieldValue>,
    ) -> Deferred<i64> {
        let value = value.into();
        self.cmd(parent, || {
            Ok(build::hset(
                self.key(id)?,
                member,
                self.encode(member, &value)?,
            ))
        })
    }

    /// `HSETNX`: true when set.
    pub fn hsetnx<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        value: impl Into<FieldValue>,
    ) -> Deferred<bool> {
        let value = value.into();
        self.cmd(parent, || {
            Ok(build::hset_nx(
                self.key(id)?,
                member,
                self.encode(member, &value)?,
            ))
        })
    }

    /// `HSET key member value ...` (the Python `hmset`).
    pub fn hmset<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[(&str, FieldValue)],
    ) -> Deferred<()> {
        self.cmd(parent, || {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(self.key(id)?);
            for (member, value) in members {
                cmd.arg(*member).arg(self.encode(member, value)?);
            }
            Ok(cmd)
        })
    }

    /// `HDEL`: how many were removed.
    pub fn hdel<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[&str],
    ) -> Deferred<i64> {
        self.cmd(parent, || Ok(build::hdel(self.key(id)?, members)))
    }

    /// `HKEYS`.
    pub fn hkeys<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Vec<String>> {
        self.raw(parent, id, Cmd::hkeys)
    }

    /// `HEXISTS`.
    pub fn hexists<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
    ) -> Deferred<bool> {
        self.raw(parent, id, |k| build::hexists(k, member))
    }

    /// `HINCRBY`: the new value.
    pub fn hincrby<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        amount: i64,
    ) -> Deferred<i64> {
        self.raw(parent, id, |k| build::hincr(k, member, amount))
    }

    /// `HINCRBYFLOAT`: the new value.
    pub fn hincrbyfloat<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        amount: f64,
    ) -> Deferred<f64> {
        self.raw(parent, id, |k| build::hincr(k, member, amount))
    }

    /// `HGET`, decoded with the member's codec; `None` when missing.
    pub fn hget<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
    ) -> Deferred<Option<FieldValue>> {
        let owned = member.to_owned();
        self.decode_with(
            parent,
            id,
            |key| build::hget(key, member),
            move |hash, key, reply| {
                let bytes: Option<Vec<u8>> =
                    redis::from_redis_value(reply).map_err(|e| Hash::reply_error(key, e.into()))?;
                bytes.map(|b| hash.decode(key, &owned, &b)).transpose()
            },
        )
    }

    /// `HMGET`: one entry per member, decoded with its codec, `None` where missing.
    pub fn hmget<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[&str],
    ) -> Deferred<Vec<Option<FieldValue>>> {
        let owned: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        self.decode_with(
            parent,
            id,
            |key| build::hmget(key, members),
            move |hash, key, reply| {
                let values: Vec<Option<Vec<u8>>> =
                    redis::from_redis_value(reply).map_err(|e| Hash::reply_error(key, e.into()))?;
                owned
                    .iter()
                    .zip(values)
                    .map(|(member, bytes)| bytes.map(|b| hash.decode(key, member, &b)).transpose())
                    .collect()
            },
        )
    }

    /// `HGETALL`, decoded per member; empty when the key is missing.
    pub fn hgetall<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Members> {
        self.decode_with(parent, id, Cmd::hgetall, |hash, key, reply| {
            hash.members(key, reply)
        })
    }

    /// The values, each decoded with its member's codec (read with `HGETALL`).
    pub fn hvals<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Vec<FieldValue>> {
        self.decode_with(parent, id, Cmd::hgetall, |hash, key, reply| {
            Ok(hash.members(key, reply)?.into_values().collect())
        })
    }

    /// One `HSCAN` page: the next cursor and the members found, decoded.
    pub fn hscan<'a>(
        &self,
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        cursor: u64,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Deferred<Page<(String, FieldValue)>> {
        self.decode_with(
            parent,
            id,
            |key| super::scan_cmd("HSCAN", Some(key), cursor, pattern, count),
            |hash, key, reply| {
                let (next, items): (u64, Value) =
                    redis::from_redis_value(reply).map_err(|e| Hash::reply_error(key, e.into()))?;
                Ok((next, hash.member_pairs(key, items)?))
            },
        )
    }

    /// Every member, one round trip per page.
    pub fn hscan_iter(
        &self,
        id: impl Display,
        pattern: Option<&str>,
        count: Option<usize>,
    ) -> Scan<(String, FieldValue)> {
        let (hash, id, pattern) = (*self, id.to_string(), pattern.map(str::to_owned));
        Scan::new(move |cursor| hash.hscan(None, &id, cursor, pattern.as_deref(), count))
    }
}
