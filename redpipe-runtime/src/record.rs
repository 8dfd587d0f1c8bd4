//! Structs: typed records stored in one Redis hash each (the Python `Struct`).
//!
//! `#[derive(redpipe::Struct)]` implements [`Struct`] for a Rust struct; every operation is
//! a provided method returning a [`Deferred`], usable standalone (await it) or on a parent
//! pipeline. The layout is the Python library's: the key is `keyspace{id}`, the id lives
//! only in the key name (never in the hash), and each member is one hash member encoded by
//! its [field codec](crate::field).
//!
//! Rules:
//! - Every write (save, update, remove, incr/decr, pop) refreshes the TTL once when the
//!   struct has one; loads and `clear` do not.
//! - Every write returns the record as a fresh load returns it, read back in the same
//!   round trip (the Python library kept the raw input instead). A write whose command
//!   failed is `Aborted` (never a stale record read back); a write that landed but whose
//!   record cannot be read back is [`Error::ReadBack`], which says the data landed.
//! - Stored bytes a member cannot decode are an error naming the member, the key, the id
//!   and the reason. [`Struct::load_many`] resolves each id on its own, and
//!   [`Struct::load_lenient`] returns every member that decoded with each failure (its
//!   raw bytes and the reason), to read or repair such records.
//! - Invalid input (a value its codec rejects, removing a required member, an extra member
//!   named like the key) is an error before anything is queued.

use std::collections::HashMap;
use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;

use crate::deferred::Deferred;
use crate::error::Error;
use crate::field::{decode_integer, BinaryField, BooleanField, Codec, FloatField, TextField};
use crate::keyspace::Keyspace;
use crate::nested::{Nested, Parent};
use crate::pipeline::Pipeline;

/// Members as stored: names and raw bytes.
pub type RawMembers = Vec<(String, Vec<u8>)>;

/// Every member of a record to write: `None` for an absent `Option` member.
pub type EncodedMembers = Vec<(String, Option<Vec<u8>>)>;

/// A Rust type stored as one hash member, with its default codec.
///
/// Implemented for `bool`, the integers up to 64 bits, `f32`, `f64`, `String` and
/// `Vec<u8>`; implement it for a type of your own to store it without a field attribute.
///
/// Integers are stored in decimal, as [`IntegerField`](crate::field::IntegerField) stores
/// `i64`, and read as it reads them (Python's float text too, truncated), each type over
/// its whole range: `u64::MAX` is stored as `18446744073709551615` and reads back. A stored
/// number outside the type is an error naming the value and the type, for example
/// `9223372036854775808 is out of range for i64`: what Python stores for `i64::MAX`, which
/// it rounds through a float. (For a `u64` member that same text is 2^63 and reads.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no default redpipe codec",
    label = "no default codec for this member type",
    note = "choose a codec with a field attribute: #[redpipe(json)] for serde types, \
            #[redpipe(string_list)] for `Vec<String>`, #[redpipe(codec = MyCodec)] for a \
            `redpipe::field::Codec`, or implement `redpipe::Member` for `{Self}`"
)]
pub trait Member: Sized + Clone + Send + Sync + 'static {
    /// Encodes the value; `Err` is the reason.
    fn encode_member(&self) -> Result<Vec<u8>, String>;
    /// Decodes stored bytes; `Err` is the reason.
    fn decode_member(bytes: &[u8]) -> Result<Self, String>;
}

// Integers: see the `Member` docs.
macro_rules! integer_members {
    ($($t:ty),*) => {$(
        impl Member for $t {
            fn encode_member(&self) -> Result<Vec<u8>, String> {
                Ok(self.to_string().into_bytes())
            }
            fn decode_member(bytes: &[u8]) -> Result<Self, String> {
                decode_integer(bytes, stringify!($t))
            }
        }
    )*};
}

integer_members!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Member for f64 {
    fn encode_member(&self) -> Result<Vec<u8>, String> {
        FloatField::encode(self)
    }
    fn decode_member(bytes: &[u8]) -> Result<Self, String> {
        FloatField::decode(bytes)
    }
}

impl Member for f32 {
    fn encode_member(&self) -> Result<Vec<u8>, String> {
        FloatField::encode(&f64::from(*self))
    }
    fn decode_member(bytes: &[u8]) -> Result<Self, String> {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "an f32 member stores f32 values"
        )]
        FloatField::decode(bytes).map(|v| v as f32)
    }
}

impl Member for bool {
    fn encode_member(&self) -> Result<Vec<u8>, String> {
        BooleanField::encode(self)
    }
    fn decode_member(bytes: &[u8]) -> Result<Self, String> {
        BooleanField::decode(bytes)
    }
}

impl Member for String {
    fn encode_member(&self) -> Result<Vec<u8>, String> {
        TextField::encode(self)
    }
    fn decode_member(bytes: &[u8]) -> Result<Self, String> {
        TextField::decode(bytes)
    }
}

impl Member for Vec<u8> {
    fn encode_member(&self) -> Result<Vec<u8>, String> {
        BinaryField::encode(self)
    }
    fn decode_member(bytes: &[u8]) -> Result<Self, String> {
        BinaryField::decode(bytes)
    }
}

/// The codec of a [`Member`] type: its default one. Derived code encodes every member
/// through a [`Codec`], so a type without a default codec is one error at the field.
pub struct MemberCodec<T: Member>(PhantomData<fn() -> T>);

impl<T: Member> Codec for MemberCodec<T> {
    type Value = T;
    const NAME: &'static str = "member";

    fn encode(value: &T) -> Result<Vec<u8>, String> {
        value.encode_member()
    }

    fn decode(bytes: &[u8]) -> Result<T, String> {
        T::decode_member(bytes)
    }
}

/// Encodes a member with codec `C`, naming it in the error (used by derived code).
pub fn encode_with<C: Codec>(member: &str, value: &C::Value) -> Result<Vec<u8>, Error> {
    C::encode(value).map_err(|reason| Error::invalid_value(member, reason))
}

/// Decodes a member with codec `C` (used by derived code).
pub fn decode_with<C: Codec>(
    member: &str,
    bytes: &[u8],
) -> Result<<C::Value as ToOwned>::Owned, Error> {
    C::decode(bytes).map_err(|reason| decode_error(member, reason))
}

/// Encodes a member with its type's default codec (used by derived code).
pub fn encode_member<T: Member>(member: &str, value: &T) -> Result<Vec<u8>, Error> {
    value
        .encode_member()
        .map_err(|reason| Error::invalid_value(member, reason))
}

/// Decodes a member with its type's default codec (used by derived code).
pub fn decode_member<T: Member>(member: &str, bytes: &[u8]) -> Result<T, Error> {
    T::decode_member(bytes).map_err(|reason| decode_error(member, reason))
}

/// The error for stored bytes a member's codec cannot read.
pub fn decode_error(member: &str, reason: String) -> Error {
    Error::invalid_value(member, format!("stored value cannot be decoded: {reason}"))
}

/// The error for a record whose hash lacks a required member.
pub fn missing_member(keyspace: &str, id: &str, member: &str) -> Error {
    Error::invalid_value(
        member,
        format!("required member is missing from {keyspace}{{{id}}}"),
    )
}

/// Parses the id of a record (from the key) into the key field's type (used by derived
/// code).
pub fn parse_id<T>(key_name: &str, id: &str) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    id.parse().map_err(|reason| {
        Error::invalid_value(key_name, format!("id {id:?} cannot be parsed: {reason}"))
    })
}

/// Encodes the members of a struct's extra map (text, as Python stores undeclared
/// members), refusing names that belong to the key or to a declared member (used by
/// derived code).
pub fn encode_extra<'a, S, K, V>(
    extra: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Result<Vec<(String, Vec<u8>)>, Error>
where
    S: Struct,
    K: AsRef<str> + ?Sized + 'a,
    V: AsRef<str> + ?Sized + 'a,
{
    extra
        .into_iter()
        .map(|(name, value)| {
            let name = name.as_ref();
            if name == S::KEY_NAME {
                Err(Error::invalid_operation(format!(
                    "extra member `{name}` of {} is named like the key; the key is never stored in the hash",
                    S::KEYSPACE.name()
                )))
            } else if S::MEMBERS.contains(&name) {
                Err(Error::invalid_operation(format!(
                    "extra member `{name}` of {} is a declared member; set the field instead",
                    S::KEYSPACE.name()
                )))
            } else {
                Ok((name.to_owned(), value.as_ref().as_bytes().to_vec()))
            }
        })
        .collect()
}

/// A stored member that is not declared, as an entry of the extra map: `None` for a member
/// named like the key, which Python's `Struct` skips too (used by derived code).
pub fn extra_member<S: Struct>(
    member: String,
    bytes: &[u8],
) -> Result<Option<(String, String)>, Error> {
    if member == S::KEY_NAME {
        return Ok(None);
    }
    let value = TextField::decode(bytes).map_err(|reason| decode_error(&member, reason))?;
    Ok(Some((member, value)))
}

/// A typed record stored in one Redis hash. Implement it with `#[derive(redpipe::Struct)]`.
pub trait Struct: Sized + Clone + Send + Sync + 'static {
    /// Every member optional: a partial update, or the result of loading some members.
    type Patch: Default + Clone + Send + Sync + 'static;

    /// Where the records live (default: the type name, as in Python).
    const KEYSPACE: Keyspace;
    /// Seconds to expire after each write, if any.
    const TTL: Option<i64>;
    /// The name of the key field (the Python `key_name`); never stored in the hash.
    const KEY_NAME: &'static str;
    /// The declared member names, as stored.
    const MEMBERS: &'static [&'static str];
    /// The members that must be present (non-`Option` fields).
    const REQUIRED: &'static [&'static str];

    /// The record's id (the key field).
    fn id(&self) -> String;
    /// Every member: `Some(bytes)` to store, `None` for an absent `Option` member (removed
    /// from the hash so a load matches). Includes the extra members map, if any.
    fn encode(&self) -> Result<EncodedMembers, Error>;
    /// Builds the record from its id and stored members; a missing required member or bad
    /// bytes are errors.
    fn decode(id: &str, members: RawMembers) -> Result<Self, Error>;
    /// The members a patch sets.
    fn encode_patch(patch: &Self::Patch) -> Result<Vec<(String, Vec<u8>)>, Error>;
    /// A patch from the members found.
    fn decode_patch(members: RawMembers) -> Result<Self::Patch, Error>;

    /// The hash keyspace holding the records (for raw hash commands).
    fn keyspace() -> Keyspace {
        Self::KEYSPACE
    }

    /// Writes every member (removing absent `Option` members), refreshes the TTL, and
    /// returns the record as stored.
    fn save<'a>(&self, parent: impl Into<Parent<'a>>) -> Deferred<Option<Self>> {
        let (id, encoded) = (self.id(), self.encode());
        write::<Self>(parent, &id, |p, key| {
            let (set, absent): (Vec<_>, Vec<_>) =
                encoded?.into_iter().partition(|(_, v)| v.is_some());
            if !set.is_empty() {
                let pairs: Vec<(String, Vec<u8>)> = set
                    .into_iter()
                    .filter_map(|(m, v)| v.map(|v| (m, v)))
                    .collect();
                let _: Deferred<()> = p.hset_multiple(key, &pairs);
            }
            if !absent.is_empty() {
                let names: Vec<String> = absent.into_iter().map(|(m, _)| m).collect();
                let _: Deferred<i64> = p.hdel(key, names);
            }
            Ok(())
        })
    }

    /// Writes only members that do not exist yet (`HSETNX` each, as Python's `nx`), and
    /// returns the record as stored (existing members keep their values).
    fn save_nx<'a>(&self, parent: impl Into<Parent<'a>>) -> Deferred<Option<Self>> {
        let (id, encoded) = (self.id(), self.encode());
        write::<Self>(parent, &id, |p, key| {
            for (member, value) in encoded? {
                if let Some(value) = value {
                    let _: Deferred<bool> = p.hset_nx(key, member, value);
                }
            }
            Ok(())
        })
    }

    /// Loads the record; `None` when the key does not exist.
    fn load<'a>(parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<Option<Self>> {
        let id = id.to_string();
        run::<Self, _>(parent, |p| {
            Ok(read_back::<Self>(p, &Self::KEYSPACE.key(&id)?, id))
        })
    }

    /// Loads the records of several ids in one round trip. Each id resolves on its own:
    /// a record that cannot be decoded is an error in its own entry and does not hide the
    /// others.
    fn load_many<'a, I: Display>(
        parent: impl Into<Parent<'a>>,
        ids: &[I],
    ) -> Deferred<Vec<Result<Option<Self>, Error>>> {
        run::<Self, _>(parent, |p| {
            let records = ids
                .iter()
                .map(|id| {
                    Ok(read_back::<Self>(
                        p,
                        &Self::KEYSPACE.key(id)?,
                        id.to_string(),
                    ))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(Nested::new(p).resolve(move || {
                records
                    .into_iter()
                    .map(Deferred::into_inner)
                    .collect::<Vec<_>>()
            }))
        })
    }

    /// Loads the record leniently: every member that decodes, as a patch, and each member
    /// that does not with its raw bytes and the reason (`None` when the key does not
    /// exist). Use it to read, inspect or repair records that [`load`](Struct::load)
    /// refuses (a value written by another program, a schema that changed).
    fn load_lenient<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
    ) -> Deferred<Option<Lenient<Self>>> {
        let id = id.to_string();
        run::<Self, _>(parent, |p| {
            let key = Self::KEYSPACE.key(&id)?;
            let all: Deferred<HashMap<String, Vec<u8>>> = p.hgetall(&key);
            Ok(p.combine_step(move || {
                let members = all.try_get()?;
                if members.is_empty() {
                    return Ok::<_, Error>(None);
                }
                let mut good = Vec::new();
                let mut failures = Vec::new();
                for (member, bytes) in members {
                    let single = vec![(member.clone(), bytes.clone())];
                    match Self::decode_patch(single.into_iter().collect()) {
                        Ok(_) => good.push((member.clone(), bytes.clone())),
                        Err(error) => failures.push(MemberFailure {
                            member: member.clone(),
                            bytes: bytes.clone(),
                            reason: error.to_string(),
                        }),
                    }
                }
                failures.sort_by(|a, b| a.member.cmp(&b.member));
                let patch = Self::decode_patch(good.into_iter().collect())?;
                Ok(Some(Lenient {
                    id,
                    patch,
                    failures,
                }))
            }))
        })
    }

    /// Loads only `members` (`HMGET`), as a patch: members not found are `None`.
    fn load_only<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[&str],
    ) -> Deferred<Self::Patch> {
        let names: Vec<String> = members.iter().map(|m| (*m).to_owned()).collect();
        run::<Self, _>(parent, |p| {
            let values: Deferred<Vec<Option<Vec<u8>>>> = p.hmget(Self::KEYSPACE.key(id)?, &names);
            Ok(Nested::new(p).resolve_result(move || {
                let found = names
                    .into_iter()
                    .zip(values.try_get()?.iter().cloned())
                    .filter_map(|(name, value)| value.map(|v| (name, v)))
                    .collect();
                Self::decode_patch(found)
            }))
        })
    }

    /// Writes the members `patch` sets (nothing at all when it sets none: no write, no
    /// TTL refresh), and returns the record as stored.
    fn update<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        patch: &Self::Patch,
    ) -> Deferred<Option<Self>> {
        let (id, encoded) = (id.to_string(), Self::encode_patch(patch));
        match encoded {
            Ok(pairs) if pairs.is_empty() => Self::load(parent, id),
            encoded => write::<Self>(parent, &id, |p, key| {
                let _: Deferred<()> = p.hset_multiple(key, &encoded?);
                Ok(())
            }),
        }
    }

    /// Removes members (required members and the key are refused before sending), and
    /// returns the record as stored.
    fn remove<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        members: &[&str],
    ) -> Deferred<Option<Self>> {
        let id = id.to_string();
        write::<Self>(parent, &id, |p, key| {
            check_removable::<Self>(members)?;
            if !members.is_empty() {
                let _: Deferred<i64> = p.hdel(key, members);
            }
            Ok(())
        })
    }

    /// `HINCRBY` of a numeric member (refreshing the TTL): the new value.
    fn incr<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        amount: i64,
    ) -> Deferred<i64> {
        run::<Self, _>(parent, |p| {
            let key = Self::KEYSPACE.key(id)?;
            let value = p.hincr(&key, member, amount);
            refresh_ttl::<Self>(p, &key);
            Ok(value)
        })
    }

    /// `HINCRBY` by `-amount`.
    fn decr<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
        amount: i64,
    ) -> Deferred<i64> {
        Self::incr(parent, id, member, -amount)
    }

    /// Reads and removes one member (whether or not it was loaded), refreshing the TTL:
    /// a patch holding its value, if it had one. Required members are refused.
    fn pop<'a>(
        parent: impl Into<Parent<'a>>,
        id: impl Display,
        member: &str,
    ) -> Deferred<Self::Patch> {
        let name = member.to_owned();
        run::<Self, _>(parent, |p| {
            check_removable::<Self>(&[member])?;
            let key = Self::KEYSPACE.key(id)?;
            let value: Deferred<Option<Vec<u8>>> = p.hget(&key, member);
            let _: Deferred<i64> = p.hdel(&key, member);
            refresh_ttl::<Self>(p, &key);
            // On this pipeline, so that it is skipped (Aborted) when the HDEL failed.
            Ok(p.combine_step(move || {
                let found = value.try_get()?.clone().map(|v| (name, v));
                Self::decode_patch(found.into_iter().collect())
            }))
        })
    }

    /// Deletes the record's hash: true when it existed.
    fn clear<'a>(parent: impl Into<Parent<'a>>, id: impl Display) -> Deferred<bool> {
        run::<Self, _>(parent, |p| Ok(p.del(Self::KEYSPACE.key(id)?)))
    }

    /// Deletes the records of `ids` without loading them: how many existed.
    fn delete<'a, I: Display>(parent: impl Into<Parent<'a>>, ids: &[I]) -> Deferred<i64> {
        Self::KEYSPACE.delete(parent, ids)
    }
}

/// Runs `build` on a pipeline nested in `parent` on the struct's connection; a failure
/// discards everything it queued.
fn run<'a, S: Struct, T>(
    parent: impl Into<Parent<'a>>,
    build: impl FnOnce(&Pipeline) -> Result<Deferred<T>, Error>,
) -> Deferred<T> {
    let nested = match S::KEYSPACE.connection() {
        Some(connection) => Nested::on(parent, connection),
        None => Nested::new(parent),
    };
    match build(&nested) {
        Ok(deferred) => nested.forward(deferred),
        Err(error) => nested.fail(error),
    }
}

/// A write: `queue` queues the writes on the key, then the TTL is refreshed once and the
/// record is read back in the same round trip. The read-back is a combine step of this
/// pipeline, so a failed write is `Aborted` (never a stale record); when the write
/// succeeded but the record cannot be decoded, the error is [`Error::ReadBack`].
fn write<'a, S: Struct>(
    parent: impl Into<Parent<'a>>,
    id: &str,
    queue: impl FnOnce(&Pipeline, &str) -> Result<(), Error>,
) -> Deferred<Option<S>> {
    run::<S, _>(parent, |p| {
        let key = S::KEYSPACE.key(id)?;
        queue(p, &key)?;
        refresh_ttl::<S>(p, &key);
        let all: Deferred<HashMap<String, Vec<u8>>> = p.hgetall(&key);
        let id = id.to_owned();
        Ok(p.combine_step(move || {
            decode_record::<S>(&all, &key, &id).map_err(|e| Error::ReadBack(Arc::new(e)))
        }))
    })
}

fn refresh_ttl<S: Struct>(pipe: &Pipeline, key: &str) {
    if let Some(ttl) = S::TTL {
        let _: Deferred<bool> = pipe.expire(key, ttl);
    }
}

/// `HGETALL key`, decoded into the record (`None` when the hash is empty or missing).
fn read_back<S: Struct>(pipe: &Pipeline, key: &str, id: String) -> Deferred<Option<S>> {
    let all: Deferred<HashMap<String, Vec<u8>>> = pipe.hgetall(key);
    let key = key.to_owned();
    Nested::new(pipe).resolve_result(move || decode_record::<S>(&all, &key, &id))
}

/// Decodes the members an `HGETALL` found; errors name the key and the id.
fn decode_record<S: Struct>(
    all: &Deferred<HashMap<String, Vec<u8>>>,
    key: &str,
    id: &str,
) -> Result<Option<S>, Error> {
    let members = all.try_get()?;
    if members.is_empty() {
        return Ok(None);
    }
    let raw = members
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    S::decode(id, raw).map(Some).map_err(|error| match error {
        Error::InvalidValue { field, reason } => Error::InvalidValue {
            reason: format!("{reason} (record `{key}`, id {id:?})").into(),
            field,
        },
        other => other,
    })
}

/// What [`Struct::load_lenient`] read: every member that decoded, and each that did not.
#[derive(Debug, Clone)]
pub struct Lenient<S: Struct> {
    /// The record's id.
    pub id: String,
    /// Every member that decoded (members that did not are `None` here).
    pub patch: S::Patch,
    /// The members that did not decode, by name.
    pub failures: Vec<MemberFailure>,
}

/// A stored member that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFailure {
    /// The member's name.
    pub member: String,
    /// Its stored bytes, as found.
    pub bytes: Vec<u8>,
    /// Why it could not be decoded.
    pub reason: String,
}

fn check_removable<S: Struct>(members: &[&str]) -> Result<(), Error> {
    if members.contains(&S::KEY_NAME) {
        return Err(Error::invalid_operation(format!(
            "cannot remove `{}`: it is the key of {}, not a hash member",
            S::KEY_NAME,
            S::KEYSPACE.name()
        )));
    }
    let required: Vec<&str> = members
        .iter()
        .copied()
        .filter(|m| S::REQUIRED.contains(m))
        .collect();
    if required.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_operation(format!(
            "cannot remove required member(s) {required:?} of {}",
            S::KEYSPACE.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::Member;
    use proptest::prelude::*;

    fn round_trip<T: Member + PartialEq + std::fmt::Debug>(value: &T) -> Result<T, String> {
        value.encode_member().and_then(|b| T::decode_member(&b))
    }

    /// Every integer member type: its extremes, then any value, round trip; decimal text of
    /// any number reads exactly when the type holds it, else it is an error naming both.
    macro_rules! integer_properties {
        ($($name:ident: $t:ty),*) => {$(
            mod $name {
                use super::*;

                #[test]
                fn extremes_round_trip() {
                    for v in [<$t>::MIN, <$t>::MAX, 0] {
                        assert_eq!(v.encode_member(), Ok(v.to_string().into_bytes()));
                        assert_eq!(round_trip(&v), Ok(v));
                    }
                }

                proptest! {
                    #[test]
                    fn round_trip_is_identity(v in any::<$t>()) {
                        prop_assert_eq!(round_trip(&v), Ok(v));
                    }

                    #[test]
                    fn decimal_text_reads_when_it_fits(n in any::<i128>()) {
                        let read = <$t>::decode_member(n.to_string().as_bytes());
                        match <$t>::try_from(n) {
                            Ok(v) => prop_assert_eq!(read, Ok(v)),
                            Err(_) => prop_assert_eq!(
                                read,
                                Err(format!("{n} is out of range for {}", stringify!($t)))
                            ),
                        }
                    }

                    #[test]
                    fn any_bytes_decode_without_panicking(
                        bytes in proptest::collection::vec(any::<u8>(), 0..48)
                    ) {
                        let _ = <$t>::decode_member(&bytes);
                    }
                }
            }
        )*};
    }

    integer_properties!(
        int8: i8, int16: i16, int32: i32, int64: i64,
        uint8: u8, uint16: u16, uint32: u32, uint64: u64
    );

    macro_rules! float_properties {
        ($($name:ident: $t:ty),*) => {$(
            proptest! {
                #[test]
                fn $name(v in any::<$t>()) {
                    let decoded = round_trip(&v);
                    prop_assert!(decoded.is_ok());
                    let decoded = decoded.unwrap_or_default();
                    prop_assert!(
                        decoded.to_bits() == v.to_bits() || (v.is_nan() && decoded.is_nan())
                    );
                }
            }
        )*};
    }

    float_properties!(f64_round_trip_is_bit_exact: f64, f32_round_trip_is_bit_exact: f32);

    proptest! {
        #[test]
        fn bool_string_and_bytes_round_trip(
            b in any::<bool>(),
            s in any::<String>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            prop_assert_eq!(round_trip(&b), Ok(b));
            prop_assert_eq!(round_trip(&s), Ok(s));
            prop_assert_eq!(round_trip(&bytes), Ok(bytes));
        }

        #[test]
        fn any_bytes_decode_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..48)
        ) {
            let _ = f64::decode_member(&bytes);
            let _ = f32::decode_member(&bytes);
            let _ = bool::decode_member(&bytes);
            let _ = String::decode_member(&bytes);
            let _ = Vec::<u8>::decode_member(&bytes);
        }
    }
}
