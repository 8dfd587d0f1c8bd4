//! Typed command methods on [`Pipeline`], generated from one table.
//!
//! Each method has the name and arguments of the matching `redis::Cmd` builder (so the
//! redis-rs documentation applies), queues that command, and returns a [`Deferred`] of the
//! reply type the caller chooses: `let n: Deferred<i64> = pipe.incr("k", 1);`.

use redis::{Cmd, FromRedisValue, ToRedisArgs, ToSingleRedisArg};

use crate::deferred::Deferred;
use crate::pipeline::Pipeline;

/// One line per command: `"REDIS NAME" method<generic: bound, ...>(arg: type, ...);`
/// expands to a method that queues `redis::Cmd::method(args)`.
macro_rules! commands {
    ($(
        $redis:literal $name:ident<$($g:ident: $bound:ident),*>($($arg:ident: $ty:ty),* $(,)?);
    )*) => {
        impl Pipeline {
            $(
                #[doc = concat!(
                    "Queues `", $redis, "`; arguments as [`redis::Cmd::", stringify!($name),
                    "`], reply converted to `T` when the pipeline executes."
                )]
                pub fn $name<T: FromRedisValue + Send + Sync + 'static, $($g: $bound),*>(
                    &self,
                    $($arg: $ty),*
                ) -> Deferred<T> {
                    self.queue_with(Cmd::$name($($arg),*), crate::pipeline::decode_reply::<T>)
                }
            )*
        }
    };
}

commands! {
    // Strings
    "GET" get<K: ToSingleRedisArg>(key: K);
    "MGET" mget<K: ToRedisArgs>(key: K);
    "SET" set<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V);
    "SET ... options" set_options<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, options: redis::SetOptions);
    "MSET" mset<K: ToRedisArgs, V: ToRedisArgs>(items: &[(K, V)]);
    "SETEX" set_ex<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, seconds: u64);
    "PSETEX" pset_ex<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, milliseconds: u64);
    "SETNX" set_nx<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V);
    "MSETNX" mset_nx<K: ToRedisArgs, V: ToRedisArgs>(items: &[(K, V)]);
    "GETSET" getset<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V);
    "GETRANGE" getrange<K: ToSingleRedisArg>(key: K, from: isize, to: isize);
    "SETRANGE" setrange<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, offset: isize, value: V);
    "GETEX" get_ex<K: ToSingleRedisArg>(key: K, expire_at: redis::Expiry);
    "GETDEL" get_del<K: ToSingleRedisArg>(key: K);
    "APPEND" append<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V);
    "INCRBY (or INCRBYFLOAT for floats)" incr<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, delta: V);
    "DECRBY" decr<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, delta: V);
    "SETBIT" setbit<K: ToSingleRedisArg>(key: K, offset: usize, value: bool);
    "GETBIT" getbit<K: ToSingleRedisArg>(key: K, offset: usize);
    "BITCOUNT" bitcount<K: ToSingleRedisArg>(key: K);
    "BITCOUNT key start end" bitcount_range<K: ToSingleRedisArg>(key: K, start: usize, end: usize);
    "BITOP AND" bit_and<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S);
    "BITOP OR" bit_or<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S);
    "BITOP XOR" bit_xor<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S);
    "BITOP NOT" bit_not<D: ToSingleRedisArg, S: ToSingleRedisArg>(dstkey: D, srckey: S);
    "STRLEN" strlen<K: ToSingleRedisArg>(key: K);

    // Keys and expiry
    "KEYS" keys<K: ToSingleRedisArg>(key: K);
    "DEL" del<K: ToRedisArgs>(key: K);
    "UNLINK" unlink<K: ToRedisArgs>(key: K);
    "EXISTS" exists<K: ToRedisArgs>(key: K);
    "TYPE" key_type<K: ToSingleRedisArg>(key: K);
    "EXPIRE" expire<K: ToSingleRedisArg>(key: K, seconds: i64);
    "EXPIREAT" expire_at<K: ToSingleRedisArg>(key: K, ts: i64);
    "PEXPIRE" pexpire<K: ToSingleRedisArg>(key: K, ms: i64);
    "PEXPIREAT" pexpire_at<K: ToSingleRedisArg>(key: K, ts: i64);
    "EXPIRETIME" expire_time<K: ToSingleRedisArg>(key: K);
    "PEXPIRETIME" pexpire_time<K: ToSingleRedisArg>(key: K);
    "PERSIST" persist<K: ToSingleRedisArg>(key: K);
    "TTL" ttl<K: ToSingleRedisArg>(key: K);
    "PTTL" pttl<K: ToSingleRedisArg>(key: K);
    "RENAME" rename<K: ToSingleRedisArg, N: ToSingleRedisArg>(key: K, new_key: N);
    "RENAMENX" rename_nx<K: ToSingleRedisArg, N: ToSingleRedisArg>(key: K, new_key: N);
    "OBJECT ENCODING" object_encoding<K: ToSingleRedisArg>(key: K);
    "OBJECT IDLETIME" object_idletime<K: ToSingleRedisArg>(key: K);
    "OBJECT FREQ" object_freq<K: ToSingleRedisArg>(key: K);
    "OBJECT REFCOUNT" object_refcount<K: ToSingleRedisArg>(key: K);

    // Hashes
    "HGET" hget<K: ToSingleRedisArg, F: ToSingleRedisArg>(key: K, field: F);
    "HMGET" hmget<K: ToSingleRedisArg, F: ToRedisArgs>(key: K, fields: F);
    "HDEL" hdel<K: ToSingleRedisArg, F: ToRedisArgs>(key: K, field: F);
    "HSET" hset<K: ToSingleRedisArg, F: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, field: F, value: V);
    "HSETNX" hset_nx<K: ToSingleRedisArg, F: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, field: F, value: V);
    "HSET key field value ..." hset_multiple<K: ToSingleRedisArg, F: ToRedisArgs, V: ToRedisArgs>(key: K, items: &[(F, V)]);
    "HINCRBY (or HINCRBYFLOAT for floats)" hincr<K: ToSingleRedisArg, F: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, field: F, delta: D);
    "HEXISTS" hexists<K: ToSingleRedisArg, F: ToSingleRedisArg>(key: K, field: F);
    "HKEYS" hkeys<K: ToSingleRedisArg>(key: K);
    "HVALS" hvals<K: ToSingleRedisArg>(key: K);
    "HGETALL" hgetall<K: ToSingleRedisArg>(key: K);
    "HLEN" hlen<K: ToSingleRedisArg>(key: K);

    // Lists
    "BLPOP" blpop<K: ToRedisArgs>(key: K, timeout: f64);
    "BRPOP" brpop<K: ToRedisArgs>(key: K, timeout: f64);
    "BRPOPLPUSH" brpoplpush<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, timeout: f64);
    "BLMOVE" blmove<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, src_dir: redis::Direction, dst_dir: redis::Direction, timeout: f64);
    "LINDEX" lindex<K: ToSingleRedisArg>(key: K, index: isize);
    "LINSERT key BEFORE" linsert_before<K: ToSingleRedisArg, P: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, pivot: P, value: V);
    "LINSERT key AFTER" linsert_after<K: ToSingleRedisArg, P: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, pivot: P, value: V);
    "LLEN" llen<K: ToSingleRedisArg>(key: K);
    "LMOVE" lmove<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, src_dir: redis::Direction, dst_dir: redis::Direction);
    "LPOP" lpop<K: ToSingleRedisArg>(key: K, count: Option<core::num::NonZeroUsize>);
    "LPOS" lpos<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, options: redis::LposOptions);
    "LPUSH" lpush<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V);
    "LPUSHX" lpush_exists<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V);
    "LRANGE" lrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "LREM" lrem<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, count: isize, value: V);
    "LTRIM" ltrim<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "LSET" lset<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, index: isize, value: V);
    "RPOP" rpop<K: ToSingleRedisArg>(key: K, count: Option<core::num::NonZeroUsize>);
    "RPOPLPUSH" rpoplpush<K: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, dstkey: D);
    "RPUSH" rpush<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V);
    "RPUSHX" rpush_exists<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V);

    // Sets
    "SADD" sadd<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, member: M);
    "SCARD" scard<K: ToSingleRedisArg>(key: K);
    "SDIFF" sdiff<K: ToRedisArgs>(keys: K);
    "SDIFFSTORE" sdiffstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K);
    "SINTER" sinter<K: ToRedisArgs>(keys: K);
    "SINTERSTORE" sinterstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K);
    "SISMEMBER" sismember<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M);
    "SMISMEMBER" smismember<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M);
    "SMEMBERS" smembers<K: ToSingleRedisArg>(key: K);
    "SMOVE" smove<S: ToSingleRedisArg, D: ToSingleRedisArg, M: ToSingleRedisArg>(srckey: S, dstkey: D, member: M);
    "SPOP" spop<K: ToSingleRedisArg>(key: K);
    "SRANDMEMBER" srandmember<K: ToSingleRedisArg>(key: K);
    "SRANDMEMBER key count" srandmember_multiple<K: ToSingleRedisArg>(key: K, count: isize);
    "SREM" srem<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, member: M);
    "SUNION" sunion<K: ToRedisArgs>(keys: K);
    "SUNIONSTORE" sunionstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K);

    // Sorted sets
    "ZADD" zadd<K: ToSingleRedisArg, S: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M, score: S);
    "ZADD key score member ..." zadd_multiple<K: ToSingleRedisArg, S: ToRedisArgs, M: ToRedisArgs>(key: K, items: &[(S, M)]);
    "ZADD with options" zadd_options<K: ToSingleRedisArg, S: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M, score: S, options: &redis::SortedSetAddOptions);
    "ZADD with options, several members" zadd_multiple_options<K: ToSingleRedisArg, S: ToRedisArgs, M: ToRedisArgs>(key: K, items: &[(S, M)], options: &redis::SortedSetAddOptions);
    "ZCARD" zcard<K: ToSingleRedisArg>(key: K);
    "ZCOUNT" zcount<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZINCRBY" zincr<K: ToSingleRedisArg, M: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, member: M, delta: D);
    "ZINTERSTORE" zinterstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K);
    "ZINTERSTORE with weights" zinterstore_weights<D: ToSingleRedisArg, K: ToRedisArgs, W: ToRedisArgs>(dstkey: D, keys: &[(K, W)]);
    "ZLEXCOUNT" zlexcount<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZPOPMAX" zpopmax<K: ToSingleRedisArg>(key: K, count: isize);
    "ZPOPMIN" zpopmin<K: ToSingleRedisArg>(key: K, count: isize);
    "BZPOPMAX" bzpopmax<K: ToRedisArgs>(key: K, timeout: f64);
    "BZPOPMIN" bzpopmin<K: ToRedisArgs>(key: K, timeout: f64);
    "ZRANDMEMBER" zrandmember<K: ToSingleRedisArg>(key: K, count: Option<isize>);
    "ZRANGE" zrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "ZRANGE ... WITHSCORES" zrange_withscores<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "ZRANGEBYLEX" zrangebylex<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZRANGEBYLEX ... LIMIT" zrangebylex_limit<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM, offset: isize, count: isize);
    "ZREVRANGEBYLEX" zrevrangebylex<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M);
    "ZREVRANGEBYLEX ... LIMIT" zrevrangebylex_limit<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M, offset: isize, count: isize);
    "ZRANGEBYSCORE" zrangebyscore<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZRANGEBYSCORE ... WITHSCORES" zrangebyscore_withscores<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZRANGEBYSCORE ... LIMIT" zrangebyscore_limit<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM, offset: isize, count: isize);
    "ZRANK" zrank<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M);
    "ZREM" zrem<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M);
    "ZREMRANGEBYLEX" zrembylex<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZREMRANGEBYRANK" zremrangebyrank<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "ZREMRANGEBYSCORE" zrembyscore<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM);
    "ZREVRANGE" zrevrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "ZREVRANGE ... WITHSCORES" zrevrange_withscores<K: ToSingleRedisArg>(key: K, start: isize, stop: isize);
    "ZREVRANGEBYSCORE" zrevrangebyscore<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M);
    "ZREVRANGEBYSCORE ... WITHSCORES" zrevrangebyscore_withscores<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M);
    "ZREVRANGEBYSCORE ... LIMIT" zrevrangebyscore_limit<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M, offset: isize, count: isize);
    "ZREVRANK" zrevrank<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M);
    "ZSCORE" zscore<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M);
    "ZMSCORE" zscore_multiple<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: &[M]);
    "ZUNIONSTORE" zunionstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K);
    "ZUNIONSTORE with weights" zunionstore_weights<D: ToSingleRedisArg, K: ToRedisArgs, W: ToRedisArgs>(dstkey: D, keys: &[(K, W)]);

    // HyperLogLog
    "PFADD" pfadd<K: ToSingleRedisArg, E: ToRedisArgs>(key: K, element: E);
    "PFCOUNT" pfcount<K: ToRedisArgs>(key: K);
    "PFMERGE" pfmerge<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S);

    // Geo
    "GEOADD" geo_add<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M);
    "GEODIST" geo_dist<K: ToSingleRedisArg, M1: ToSingleRedisArg, M2: ToSingleRedisArg>(key: K, member1: M1, member2: M2, unit: redis::geo::Unit);
    "GEOHASH" geo_hash<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M);
    "GEOPOS" geo_pos<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M);

    // Streams
    "XADD" xadd<K: ToRedisArgs, ID: ToRedisArgs, F: ToRedisArgs, V: ToRedisArgs>(key: K, id: ID, items: &[(F, V)]);
    "XLEN" xlen<K: ToRedisArgs>(key: K);
    "XRANGE" xrange<K: ToRedisArgs, S: ToRedisArgs, E: ToRedisArgs>(key: K, start: S, end: E);
    "XREVRANGE" xrevrange<K: ToRedisArgs, E: ToRedisArgs, S: ToRedisArgs>(key: K, end: E, start: S);

    // Server
    "PING" ping<>();
    "PUBLISH" publish<K: ToSingleRedisArg, E: ToSingleRedisArg>(channel: K, message: E);
}

/// A Lua script, sent with `EVAL` and its full source every time.
///
/// We send `EVAL` rather than `EVALSHA`: a pipeline cannot fall back to `EVAL` after a
/// `NOSCRIPT` reply without a second round trip, and the script cache is lost on restarts,
/// `SCRIPT FLUSH` and cluster failovers. The cost is the script's bytes on every call.
#[derive(Debug, Clone)]
pub struct Script {
    code: std::sync::Arc<str>,
}

impl Script {
    /// A script with the given Lua source.
    pub fn new(code: &str) -> Self {
        Script { code: code.into() }
    }

    /// The Lua source.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The SHA1 Redis uses to cache this script (for `EVALSHA` by hand).
    pub fn hash(&self) -> String {
        redis::Script::new(&self.code).get_hash().to_owned()
    }
}

impl Pipeline {
    /// Queues `EVAL script numkeys keys... args...`.
    pub fn invoke_script<T, K, A>(&self, script: &Script, keys: &[K], args: &[A]) -> Deferred<T>
    where
        T: FromRedisValue + Send + Sync + 'static,
        K: ToRedisArgs,
        A: ToRedisArgs,
    {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(&*script.code).arg(keys.len()).arg(keys).arg(args);
        self.query(cmd)
    }
}
