//! Reply decoders for keyspace methods: plain `fn`s, so a queued command carries a
//! function pointer and no closure allocation.

use redis::{FromRedisValue, RedisError, Value};

use super::scan::Page;
use crate::field::Codec;

/// The owned value type a codec decodes to.
pub(crate) type Owned<C> = <<C as Codec>::Value as ToOwned>::Owned;

/// A decode failure: typed (`Error::Command` with a parse error), never a panic.
pub(crate) fn invalid(codec: &str, reason: String) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Parse,
        "invalid stored value",
        format!("{codec} codec: {reason}"),
    ))
}

fn parse<T: FromRedisValue>(v: Value) -> Result<T, RedisError> {
    T::from_redis_value(v).map_err(Into::into)
}

pub(crate) fn bytes<C: Codec>(b: &[u8]) -> Result<Owned<C>, RedisError> {
    C::decode(b).map_err(|reason| invalid(C::NAME, reason))
}

/// A value that must exist.
pub(crate) fn one<C: Codec>(v: Value) -> Result<Owned<C>, RedisError> {
    bytes::<C>(&parse::<Vec<u8>>(v)?)
}

/// A value, or `None` for a nil reply.
pub(crate) fn opt<C: Codec>(v: Value) -> Result<Option<Owned<C>>, RedisError> {
    parse::<Option<Vec<u8>>>(v)?
        .map(|b| bytes::<C>(&b))
        .transpose()
}

/// An array (or set) of values.
pub(crate) fn many<C: Codec>(v: Value) -> Result<Vec<Owned<C>>, RedisError> {
    parse::<Vec<Vec<u8>>>(v)?
        .iter()
        .map(|b| bytes::<C>(b))
        .collect()
}

/// An array of values with nils.
pub(crate) fn many_opt<C: Codec>(v: Value) -> Result<Vec<Option<Owned<C>>>, RedisError> {
    parse::<Vec<Option<Vec<u8>>>>(v)?
        .into_iter()
        .map(|b| b.map(|b| bytes::<C>(&b)).transpose())
        .collect()
}

/// Flattened or nested pairs (RESP2 arrays, RESP3 maps) as raw byte pairs.
pub(crate) fn pairs(v: Value) -> Result<Vec<(Vec<u8>, Value)>, RedisError> {
    match v {
        Value::Map(entries) => entries
            .into_iter()
            .map(|(k, v)| Ok((parse::<Vec<u8>>(k)?, v)))
            .collect(),
        Value::Array(items) if items.iter().all(|i| matches!(i, Value::Array(_))) => items
            .into_iter()
            .map(|pair| {
                let (k, v): (Vec<u8>, Value) = parse(pair)?;
                Ok((k, v))
            })
            .collect(),
        Value::Array(items) => {
            if items.len() % 2 != 0 {
                return Err(invalid("pair", "odd number of items".into()));
            }
            let mut out = Vec::with_capacity(items.len() / 2);
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((parse::<Vec<u8>>(k)?, v));
            }
            Ok(out)
        }
        Value::Nil => Ok(Vec::new()),
        other => Err(invalid("pair", format!("unexpected reply {other:?}"))),
    }
}

/// Members with scores.
pub(crate) fn scored<C: Codec>(v: Value) -> Result<Vec<(Owned<C>, f64)>, RedisError> {
    pairs(v)?
        .into_iter()
        .map(|(member, score)| Ok((bytes::<C>(&member)?, parse::<f64>(score)?)))
        .collect()
}

/// A `*SCAN` page of members.
pub(crate) fn page<C: Codec>(v: Value) -> Result<Page<Owned<C>>, RedisError> {
    let (cursor, items): (u64, Value) = parse(v)?;
    Ok((cursor, many::<C>(items)?))
}

/// A `ZSCAN` page.
pub(crate) fn scored_page<C: Codec>(v: Value) -> Result<Page<(Owned<C>, f64)>, RedisError> {
    let (cursor, items): (u64, Value) = parse(v)?;
    Ok((cursor, scored::<C>(items)?))
}

/// A `BLPOP`/`BRPOP` reply: the key and the value.
pub(crate) fn popped<C: Codec>(v: Value) -> Result<Option<(String, Owned<C>)>, RedisError> {
    match parse::<Option<(String, Vec<u8>)>>(v)? {
        Some((key, value)) => Ok(Some((key, bytes::<C>(&value)?))),
        None => Ok(None),
    }
}

/// A hash member name of the hash at `key`: UTF-8, or an error naming the key (never a
/// lossy conversion, which could turn two members into one).
pub(crate) fn member_name(key: &str, name: Vec<u8>) -> Result<String, RedisError> {
    String::from_utf8(name).map_err(|e| {
        let name = e.into_bytes();
        invalid(
            "member name",
            format!(
                "a member of `{key}` is not utf-8: {:?}",
                name.escape_ascii().to_string()
            ),
        )
    })
}

/// An `HSCAN` page of the shard `key` of a [`HashedString`](super::HashedString): keys
/// (member names, which must be UTF-8) and values.
pub(crate) fn shard_page<C: Codec>(
    key: &str,
    v: Value,
) -> Result<Page<(String, Owned<C>)>, RedisError> {
    let (next, items): (u64, Value) = parse(v)?;
    let pairs = pairs(items)?
        .into_iter()
        .map(|(k, v)| {
            let value = bytes::<C>(&parse::<Vec<u8>>(v)?)?;
            Ok((member_name(key, k)?, value))
        })
        .collect::<Result<_, RedisError>>()?;
    Ok((next, pairs))
}
