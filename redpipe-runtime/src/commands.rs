//! Typed command methods on [`Pipeline`], generated from one table.
//!
//! Each method has the name and arguments of the matching `redis::Cmd` builder (so the
//! redis-rs documentation applies), queues that command, and returns a [`Deferred`] of the
//! reply type the caller chooses: `let n: Deferred<i64> = pipe.incr("k", 1);`.
//!
//! The table lists each command's arguments in the order they go on the wire, and a
//! command is built with its buffers made to measure: its arguments are measured first
//! (written to a counter), then written once. redis-rs's builders grow a command's buffers
//! as its arguments arrive, which for `INCRBY key 1` takes two reallocations, the most
//! expensive part of building it (about 700 instructions a command). The tests check every
//! command against redis-rs's builder, byte for byte. The few whose arguments redis-rs
//! rearranges first (`ZINTERSTORE` and `ZUNIONSTORE` with weights) use its builders.

use std::{fmt, io};

use redis::{Cmd, FromRedisValue, NumericBehavior, RedisWrite, ToRedisArgs, ToSingleRedisArg};

use crate::deferred::Deferred;
use crate::pipeline::Pipeline;

/// One line per command: `"REDIS NAME" method<generic: bound, ...>(arg: type, ...) =>
/// [name, wire arguments...];` expands to [`build::method`], which builds the command made
/// to measure, and to the method of [`Pipeline`] that queues it; `=> redis;` builds it with
/// `redis::Cmd::method`.
macro_rules! commands {
    ($(
        $redis:literal $name:ident<$($g:ident: $bound:ident),*>($($arg:ident: $ty:ty),* $(,)?)
            => $wire:tt;
    )*) => {
        /// The commands of the table, built.
        pub(crate) mod build {
            #[allow(unused_imports, reason = "the table's types name some")]
            use super::*;
            $(
                #[doc = concat!("`", $redis, "`.")]
                pub(crate) fn $name<$($g: $bound),*>($($arg: $ty),*) -> Cmd {
                    wire!($wire, $name($($arg),*))
                }
            )*
        }

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
                    self.queue_with(build::$name($($arg),*), crate::pipeline::decode_reply::<T>)
                }
            )*
        }

        #[cfg(test)]
        mod same_as_redis_rs {
            use super::tests::{check, Example, Sample};
            use super::*;
            $(
                #[test]
                fn $name() {
                    $(type $g = Sample;)*
                    $(let $arg = <$ty as Example>::store();)*
                    check(
                        stringify!($name),
                        || build::$name($(<$ty as Example>::view(&$arg)),*),
                        || Cmd::$name($(<$ty as Example>::view(&$arg)),*),
                    );
                }
            )*
        }
    };
}

/// A command of the table built from its wire arguments, or by redis-rs.
macro_rules! wire {
    ([$command:expr], $name:ident()) => {{
        let command: &str = $command;
        let mut cmd = Cmd::with_capacity(1, command.len());
        cmd.arg(command);
        cmd
    }};
    ([$command:expr $(, $part:expr)+], $name:ident($($arg:ident),*)) => {{
        let command: &str = $command;
        let mut measure = Measure {
            args: 1,
            bytes: command.len(),
        };
        $(ToRedisArgs::write_redis_args(&$part, &mut measure);)+
        let mut cmd = Cmd::with_capacity(measure.args, measure.bytes);
        cmd.arg(command)$(.arg($part))+;
        cmd
    }};
    (redis, $name:ident($($arg:ident),*)) => {
        Cmd::$name($($arg),*)
    };
}

/// The first name for an integer `delta`, the second for a float (as redis-rs chooses).
fn float_or(delta: &impl ToRedisArgs, integer: &'static str, float: &'static str) -> &'static str {
    match delta.describe_numeric_behavior() {
        NumericBehavior::NumberIsFloat => float,
        _ => integer,
    }
}

/// Counts the arguments and bytes that arguments write, without writing them.
struct Measure {
    args: usize,
    bytes: usize,
}

impl RedisWrite for Measure {
    fn write_arg(&mut self, arg: &[u8]) {
        self.args += 1;
        self.bytes += arg.len();
    }

    fn write_arg_fmt(&mut self, arg: impl fmt::Display) {
        self.args += 1;
        // Counting never fails.
        let _ = fmt::Write::write_fmt(&mut Count(&mut self.bytes), format_args!("{arg}"));
    }

    fn writer_for_next_arg(&mut self) -> impl io::Write + '_ {
        self.args += 1;
        Count(&mut self.bytes)
    }
}

/// Counts the bytes written to it.
struct Count<'a>(&'a mut usize);

impl fmt::Write for Count<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        *self.0 += s.len();
        Ok(())
    }
}

impl io::Write for Count<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        *self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

commands! {
    // Strings
    "GET" get<K: ToSingleRedisArg>(key: K) => ["GET", key];
    "MGET" mget<K: ToRedisArgs>(key: K) => ["MGET", key];
    "SET" set<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V) => ["SET", key, value];
    "SET ... options" set_options<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, options: redis::SetOptions) => ["SET", key, value, options];
    "MSET" mset<K: ToRedisArgs, V: ToRedisArgs>(items: &[(K, V)]) => ["MSET", items];
    "SETEX" set_ex<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, seconds: u64) => ["SETEX", key, seconds, value];
    "PSETEX" pset_ex<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, milliseconds: u64) => ["PSETEX", key, milliseconds, value];
    "SETNX" set_nx<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V) => ["SETNX", key, value];
    "MSETNX" mset_nx<K: ToRedisArgs, V: ToRedisArgs>(items: &[(K, V)]) => ["MSETNX", items];
    "GETSET" getset<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V) => ["GETSET", key, value];
    "GETRANGE" getrange<K: ToSingleRedisArg>(key: K, from: isize, to: isize) => ["GETRANGE", key, from, to];
    "SETRANGE" setrange<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, offset: isize, value: V) => ["SETRANGE", key, offset, value];
    "GETEX" get_ex<K: ToSingleRedisArg>(key: K, expire_at: redis::Expiry) => ["GETEX", key, expire_at];
    "GETDEL" get_del<K: ToSingleRedisArg>(key: K) => ["GETDEL", key];
    "APPEND" append<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V) => ["APPEND", key, value];
    "INCRBY (or INCRBYFLOAT for floats)" incr<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, delta: V) => [float_or(&delta, "INCRBY", "INCRBYFLOAT"), key, delta];
    "DECRBY" decr<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, delta: V) => ["DECRBY", key, delta];
    "SETBIT" setbit<K: ToSingleRedisArg>(key: K, offset: usize, value: bool) => ["SETBIT", key, offset, i32::from(value)];
    "GETBIT" getbit<K: ToSingleRedisArg>(key: K, offset: usize) => ["GETBIT", key, offset];
    "BITCOUNT" bitcount<K: ToSingleRedisArg>(key: K) => ["BITCOUNT", key];
    "BITCOUNT key start end" bitcount_range<K: ToSingleRedisArg>(key: K, start: usize, end: usize) => ["BITCOUNT", key, start, end];
    "BITOP AND" bit_and<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S) => ["BITOP", "AND", dstkey, srckeys];
    "BITOP OR" bit_or<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S) => ["BITOP", "OR", dstkey, srckeys];
    "BITOP XOR" bit_xor<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S) => ["BITOP", "XOR", dstkey, srckeys];
    "BITOP NOT" bit_not<D: ToSingleRedisArg, S: ToSingleRedisArg>(dstkey: D, srckey: S) => ["BITOP", "NOT", dstkey, srckey];
    "STRLEN" strlen<K: ToSingleRedisArg>(key: K) => ["STRLEN", key];

    // Keys and expiry
    "KEYS" keys<K: ToSingleRedisArg>(key: K) => ["KEYS", key];
    "DEL" del<K: ToRedisArgs>(key: K) => ["DEL", key];
    "UNLINK" unlink<K: ToRedisArgs>(key: K) => ["UNLINK", key];
    "EXISTS" exists<K: ToRedisArgs>(key: K) => ["EXISTS", key];
    "TYPE" key_type<K: ToSingleRedisArg>(key: K) => ["TYPE", key];
    "EXPIRE" expire<K: ToSingleRedisArg>(key: K, seconds: i64) => ["EXPIRE", key, seconds];
    "EXPIREAT" expire_at<K: ToSingleRedisArg>(key: K, ts: i64) => ["EXPIREAT", key, ts];
    "PEXPIRE" pexpire<K: ToSingleRedisArg>(key: K, ms: i64) => ["PEXPIRE", key, ms];
    "PEXPIREAT" pexpire_at<K: ToSingleRedisArg>(key: K, ts: i64) => ["PEXPIREAT", key, ts];
    "EXPIRETIME" expire_time<K: ToSingleRedisArg>(key: K) => ["EXPIRETIME", key];
    "PEXPIRETIME" pexpire_time<K: ToSingleRedisArg>(key: K) => ["PEXPIRETIME", key];
    "PERSIST" persist<K: ToSingleRedisArg>(key: K) => ["PERSIST", key];
    "TTL" ttl<K: ToSingleRedisArg>(key: K) => ["TTL", key];
    "PTTL" pttl<K: ToSingleRedisArg>(key: K) => ["PTTL", key];
    "RENAME" rename<K: ToSingleRedisArg, N: ToSingleRedisArg>(key: K, new_key: N) => ["RENAME", key, new_key];
    "RENAMENX" rename_nx<K: ToSingleRedisArg, N: ToSingleRedisArg>(key: K, new_key: N) => ["RENAMENX", key, new_key];
    "OBJECT ENCODING" object_encoding<K: ToSingleRedisArg>(key: K) => ["OBJECT", "ENCODING", key];
    "OBJECT IDLETIME" object_idletime<K: ToSingleRedisArg>(key: K) => ["OBJECT", "IDLETIME", key];
    "OBJECT FREQ" object_freq<K: ToSingleRedisArg>(key: K) => ["OBJECT", "FREQ", key];
    "OBJECT REFCOUNT" object_refcount<K: ToSingleRedisArg>(key: K) => ["OBJECT", "REFCOUNT", key];

    // Hashes
    "HGET" hget<K: ToSingleRedisArg, F: ToSingleRedisArg>(key: K, field: F) => ["HGET", key, field];
    "HMGET" hmget<K: ToSingleRedisArg, F: ToRedisArgs>(key: K, fields: F) => ["HMGET", key, fields];
    "HDEL" hdel<K: ToSingleRedisArg, F: ToRedisArgs>(key: K, field: F) => ["HDEL", key, field];
    "HSET" hset<K: ToSingleRedisArg, F: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, field: F, value: V) => ["HSET", key, field, value];
    "HSETNX" hset_nx<K: ToSingleRedisArg, F: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, field: F, value: V) => ["HSETNX", key, field, value];
    "HMSET (HSET of several fields)" hset_multiple<K: ToSingleRedisArg, F: ToRedisArgs, V: ToRedisArgs>(key: K, items: &[(F, V)]) => ["HMSET", key, items];
    "HINCRBY (or HINCRBYFLOAT for floats)" hincr<K: ToSingleRedisArg, F: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, field: F, delta: D) => [float_or(&delta, "HINCRBY", "HINCRBYFLOAT"), key, field, delta];
    "HEXISTS" hexists<K: ToSingleRedisArg, F: ToSingleRedisArg>(key: K, field: F) => ["HEXISTS", key, field];
    "HKEYS" hkeys<K: ToSingleRedisArg>(key: K) => ["HKEYS", key];
    "HVALS" hvals<K: ToSingleRedisArg>(key: K) => ["HVALS", key];
    "HGETALL" hgetall<K: ToSingleRedisArg>(key: K) => ["HGETALL", key];
    "HLEN" hlen<K: ToSingleRedisArg>(key: K) => ["HLEN", key];

    // Lists
    "BLPOP" blpop<K: ToRedisArgs>(key: K, timeout: f64) => ["BLPOP", key, timeout];
    "BRPOP" brpop<K: ToRedisArgs>(key: K, timeout: f64) => ["BRPOP", key, timeout];
    "BRPOPLPUSH" brpoplpush<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, timeout: f64) => ["BRPOPLPUSH", srckey, dstkey, timeout];
    "BLMOVE" blmove<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, src_dir: redis::Direction, dst_dir: redis::Direction, timeout: f64) => ["BLMOVE", srckey, dstkey, src_dir, dst_dir, timeout];
    "LINDEX" lindex<K: ToSingleRedisArg>(key: K, index: isize) => ["LINDEX", key, index];
    "LINSERT key BEFORE" linsert_before<K: ToSingleRedisArg, P: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, pivot: P, value: V) => ["LINSERT", key, "BEFORE", pivot, value];
    "LINSERT key AFTER" linsert_after<K: ToSingleRedisArg, P: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, pivot: P, value: V) => ["LINSERT", key, "AFTER", pivot, value];
    "LLEN" llen<K: ToSingleRedisArg>(key: K) => ["LLEN", key];
    "LMOVE" lmove<S: ToSingleRedisArg, D: ToSingleRedisArg>(srckey: S, dstkey: D, src_dir: redis::Direction, dst_dir: redis::Direction) => ["LMOVE", srckey, dstkey, src_dir, dst_dir];
    "LPOP" lpop<K: ToSingleRedisArg>(key: K, count: Option<core::num::NonZeroUsize>) => ["LPOP", key, count];
    "LPOS" lpos<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, value: V, options: redis::LposOptions) => ["LPOS", key, value, options];
    "LPUSH" lpush<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V) => ["LPUSH", key, value];
    "LPUSHX" lpush_exists<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V) => ["LPUSHX", key, value];
    "LRANGE" lrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["LRANGE", key, start, stop];
    "LREM" lrem<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, count: isize, value: V) => ["LREM", key, count, value];
    "LTRIM" ltrim<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["LTRIM", key, start, stop];
    "LSET" lset<K: ToSingleRedisArg, V: ToSingleRedisArg>(key: K, index: isize, value: V) => ["LSET", key, index, value];
    "RPOP" rpop<K: ToSingleRedisArg>(key: K, count: Option<core::num::NonZeroUsize>) => ["RPOP", key, count];
    "RPOPLPUSH" rpoplpush<K: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, dstkey: D) => ["RPOPLPUSH", key, dstkey];
    "RPUSH" rpush<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V) => ["RPUSH", key, value];
    "RPUSHX" rpush_exists<K: ToSingleRedisArg, V: ToRedisArgs>(key: K, value: V) => ["RPUSHX", key, value];

    // Sets
    "SADD" sadd<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, member: M) => ["SADD", key, member];
    "SCARD" scard<K: ToSingleRedisArg>(key: K) => ["SCARD", key];
    "SDIFF" sdiff<K: ToRedisArgs>(keys: K) => ["SDIFF", keys];
    "SDIFFSTORE" sdiffstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K) => ["SDIFFSTORE", dstkey, keys];
    "SINTER" sinter<K: ToRedisArgs>(keys: K) => ["SINTER", keys];
    "SINTERSTORE" sinterstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K) => ["SINTERSTORE", dstkey, keys];
    "SISMEMBER" sismember<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M) => ["SISMEMBER", key, member];
    "SMISMEMBER" smismember<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M) => ["SMISMEMBER", key, members];
    "SMEMBERS" smembers<K: ToSingleRedisArg>(key: K) => ["SMEMBERS", key];
    "SMOVE" smove<S: ToSingleRedisArg, D: ToSingleRedisArg, M: ToSingleRedisArg>(srckey: S, dstkey: D, member: M) => ["SMOVE", srckey, dstkey, member];
    "SPOP" spop<K: ToSingleRedisArg>(key: K) => ["SPOP", key];
    "SRANDMEMBER" srandmember<K: ToSingleRedisArg>(key: K) => ["SRANDMEMBER", key];
    "SRANDMEMBER key count" srandmember_multiple<K: ToSingleRedisArg>(key: K, count: isize) => ["SRANDMEMBER", key, count];
    "SREM" srem<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, member: M) => ["SREM", key, member];
    "SUNION" sunion<K: ToRedisArgs>(keys: K) => ["SUNION", keys];
    "SUNIONSTORE" sunionstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K) => ["SUNIONSTORE", dstkey, keys];

    // Sorted sets
    "ZADD" zadd<K: ToSingleRedisArg, S: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M, score: S) => ["ZADD", key, score, member];
    "ZADD key score member ..." zadd_multiple<K: ToSingleRedisArg, S: ToRedisArgs, M: ToRedisArgs>(key: K, items: &[(S, M)]) => ["ZADD", key, items];
    "ZADD with options" zadd_options<K: ToSingleRedisArg, S: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M, score: S, options: &redis::SortedSetAddOptions) => ["ZADD", key, options, score, member];
    "ZADD with options, several members" zadd_multiple_options<K: ToSingleRedisArg, S: ToRedisArgs, M: ToRedisArgs>(key: K, items: &[(S, M)], options: &redis::SortedSetAddOptions) => ["ZADD", key, options, items];
    "ZCARD" zcard<K: ToSingleRedisArg>(key: K) => ["ZCARD", key];
    "ZCOUNT" zcount<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZCOUNT", key, min, max];
    "ZINCRBY" zincr<K: ToSingleRedisArg, M: ToSingleRedisArg, D: ToSingleRedisArg>(key: K, member: M, delta: D) => ["ZINCRBY", key, delta, member];
    "ZINTERSTORE" zinterstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K) => ["ZINTERSTORE", dstkey, keys.num_of_args(), keys];
    "ZINTERSTORE with weights" zinterstore_weights<D: ToSingleRedisArg, K: ToRedisArgs, W: ToRedisArgs>(dstkey: D, keys: &[(K, W)]) => redis;
    "ZLEXCOUNT" zlexcount<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZLEXCOUNT", key, min, max];
    "ZPOPMAX" zpopmax<K: ToSingleRedisArg>(key: K, count: isize) => ["ZPOPMAX", key, count];
    "ZPOPMIN" zpopmin<K: ToSingleRedisArg>(key: K, count: isize) => ["ZPOPMIN", key, count];
    "BZPOPMAX" bzpopmax<K: ToRedisArgs>(key: K, timeout: f64) => ["BZPOPMAX", key, timeout];
    "BZPOPMIN" bzpopmin<K: ToRedisArgs>(key: K, timeout: f64) => ["BZPOPMIN", key, timeout];
    "ZRANDMEMBER" zrandmember<K: ToSingleRedisArg>(key: K, count: Option<isize>) => ["ZRANDMEMBER", key, count];
    "ZRANGE" zrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["ZRANGE", key, start, stop];
    "ZRANGE ... WITHSCORES" zrange_withscores<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["ZRANGE", key, start, stop, "WITHSCORES"];
    "ZRANGEBYLEX" zrangebylex<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZRANGEBYLEX", key, min, max];
    "ZRANGEBYLEX ... LIMIT" zrangebylex_limit<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM, offset: isize, count: isize) => ["ZRANGEBYLEX", key, min, max, "LIMIT", offset, count];
    "ZREVRANGEBYLEX" zrevrangebylex<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M) => ["ZREVRANGEBYLEX", key, max, min];
    "ZREVRANGEBYLEX ... LIMIT" zrevrangebylex_limit<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M, offset: isize, count: isize) => ["ZREVRANGEBYLEX", key, max, min, "LIMIT", offset, count];
    "ZRANGEBYSCORE" zrangebyscore<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZRANGEBYSCORE", key, min, max];
    "ZRANGEBYSCORE ... WITHSCORES" zrangebyscore_withscores<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZRANGEBYSCORE", key, min, max, "WITHSCORES"];
    "ZRANGEBYSCORE ... LIMIT" zrangebyscore_limit<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM, offset: isize, count: isize) => ["ZRANGEBYSCORE", key, min, max, "LIMIT", offset, count];
    "ZRANK" zrank<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M) => ["ZRANK", key, member];
    "ZREM" zrem<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M) => ["ZREM", key, members];
    "ZREMRANGEBYLEX" zrembylex<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZREMRANGEBYLEX", key, min, max];
    "ZREMRANGEBYRANK" zremrangebyrank<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["ZREMRANGEBYRANK", key, start, stop];
    "ZREMRANGEBYSCORE" zrembyscore<K: ToSingleRedisArg, M: ToSingleRedisArg, MM: ToSingleRedisArg>(key: K, min: M, max: MM) => ["ZREMRANGEBYSCORE", key, min, max];
    "ZREVRANGE" zrevrange<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["ZREVRANGE", key, start, stop];
    "ZREVRANGE ... WITHSCORES" zrevrange_withscores<K: ToSingleRedisArg>(key: K, start: isize, stop: isize) => ["ZREVRANGE", key, start, stop, "WITHSCORES"];
    "ZREVRANGEBYSCORE" zrevrangebyscore<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M) => ["ZREVRANGEBYSCORE", key, max, min];
    "ZREVRANGEBYSCORE ... WITHSCORES" zrevrangebyscore_withscores<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M) => ["ZREVRANGEBYSCORE", key, max, min, "WITHSCORES"];
    "ZREVRANGEBYSCORE ... LIMIT" zrevrangebyscore_limit<K: ToSingleRedisArg, MM: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, max: MM, min: M, offset: isize, count: isize) => ["ZREVRANGEBYSCORE", key, max, min, "LIMIT", offset, count];
    "ZREVRANK" zrevrank<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M) => ["ZREVRANK", key, member];
    "ZSCORE" zscore<K: ToSingleRedisArg, M: ToSingleRedisArg>(key: K, member: M) => ["ZSCORE", key, member];
    "ZMSCORE" zscore_multiple<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: &[M]) => ["ZMSCORE", key, members];
    "ZUNIONSTORE" zunionstore<D: ToSingleRedisArg, K: ToRedisArgs>(dstkey: D, keys: K) => ["ZUNIONSTORE", dstkey, keys.num_of_args(), keys];
    "ZUNIONSTORE with weights" zunionstore_weights<D: ToSingleRedisArg, K: ToRedisArgs, W: ToRedisArgs>(dstkey: D, keys: &[(K, W)]) => redis;

    // HyperLogLog
    "PFADD" pfadd<K: ToSingleRedisArg, E: ToRedisArgs>(key: K, element: E) => ["PFADD", key, element];
    "PFCOUNT" pfcount<K: ToRedisArgs>(key: K) => ["PFCOUNT", key];
    "PFMERGE" pfmerge<D: ToSingleRedisArg, S: ToRedisArgs>(dstkey: D, srckeys: S) => ["PFMERGE", dstkey, srckeys];

    // Geo
    "GEOADD" geo_add<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M) => ["GEOADD", key, members];
    "GEODIST" geo_dist<K: ToSingleRedisArg, M1: ToSingleRedisArg, M2: ToSingleRedisArg>(key: K, member1: M1, member2: M2, unit: redis::geo::Unit) => ["GEODIST", key, member1, member2, unit];
    "GEOHASH" geo_hash<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M) => ["GEOHASH", key, members];
    "GEOPOS" geo_pos<K: ToSingleRedisArg, M: ToRedisArgs>(key: K, members: M) => ["GEOPOS", key, members];

    // Streams
    "XADD" xadd<K: ToRedisArgs, ID: ToRedisArgs, F: ToRedisArgs, V: ToRedisArgs>(key: K, id: ID, items: &[(F, V)]) => ["XADD", key, id, items];
    "XLEN" xlen<K: ToRedisArgs>(key: K) => ["XLEN", key];
    "XRANGE" xrange<K: ToRedisArgs, S: ToRedisArgs, E: ToRedisArgs>(key: K, start: S, end: E) => ["XRANGE", key, start, end];
    "XREVRANGE" xrevrange<K: ToRedisArgs, E: ToRedisArgs, S: ToRedisArgs>(key: K, end: E, start: S) => ["XREVRANGE", key, end, start];

    // Server
    "PING" ping<>() => ["PING"];
    "PUBLISH" publish<K: ToSingleRedisArg, E: ToSingleRedisArg>(channel: K, message: E) => ["PUBLISH", channel, message];
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
        self.query(eval(&script.code, keys, args))
    }
}

/// `EVAL code numkeys keys... args...`, made to measure (a script's source is long: grown
/// as it arrives, it would be copied on each reallocation).
fn eval<K: ToRedisArgs, A: ToRedisArgs>(code: &str, keys: &[K], args: &[A]) -> Cmd {
    wire!(["EVAL", code, keys.len(), keys, args], eval())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::num::NonZeroUsize;

    use redis::{Direction, ExistenceCheck, Expiry, LposOptions, SetExpiry, SetOptions};
    use redis::{SortedSetAddOptions, ToRedisArgs};

    use super::*;

    thread_local! {
        /// The number of the next example value.
        static NEXT: Cell<u32> = const { Cell::new(0) };
    }

    fn next() -> u32 {
        NEXT.with(|next| {
            next.set(next.get() + 1);
            next.get()
        })
    }

    /// A generic argument of the table: a different word each time, so that arguments
    /// written out of order show.
    #[derive(Clone)]
    pub(super) struct Sample(String);

    impl ToRedisArgs for Sample {
        fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
            out.write_arg(self.0.as_bytes());
        }
    }

    impl ToSingleRedisArg for Sample {}

    /// An argument of the table's type: `store` makes what it is made from (a different
    /// example for each argument), `view` the argument itself, for each of the two builds.
    pub(super) trait Example<'a> {
        type Store;
        fn store() -> Self::Store;
        fn view(store: &'a Self::Store) -> Self;
    }

    /// `Example` for types whose value is made anew from a stored number.
    macro_rules! made_of {
        ($($t:ty: $store:ty = $make:expr => |$n:ident| $view:expr;)*) => {$(
            impl<'a> Example<'a> for $t {
                type Store = $store;
                fn store() -> $store {
                    $make
                }
                fn view(&$n: &'a $store) -> $t {
                    $view
                }
            }
        )*};
    }

    made_of! {
        isize: isize = isize::try_from(next()).unwrap_or_default() => |n| n;
        i64: i64 = i64::from(next()) => |n| n;
        u64: u64 = u64::from(next()) => |n| n;
        usize: usize = usize::try_from(next()).unwrap_or_default() => |n| n;
        f64: f64 = f64::from(next()) + 0.25 => |n| n;
        bool: bool = next() % 2 == 0 => |n| n;
        Option<NonZeroUsize>: usize = usize::try_from(next()).unwrap_or_default()
            => |n| NonZeroUsize::new(n);
        Option<isize>: isize = isize::try_from(next()).unwrap_or_default() => |n| Some(n);
        Direction: bool = next() % 2 == 0
            => |left| if left { Direction::Left } else { Direction::Right };
        Expiry: u64 = u64::from(next()) => |n| Expiry::EX(n);
        SetOptions: u64 = u64::from(next())
            => |n| SetOptions::default()
                .conditional_set(ExistenceCheck::NX)
                .with_expiration(SetExpiry::PX(n));
        LposOptions: isize = isize::try_from(next()).unwrap_or_default()
            => |n| LposOptions::default().rank(n);
        redis::geo::Unit: () = () => |_unit| redis::geo::Unit::Kilometers;
    }

    impl<'a> Example<'a> for Sample {
        type Store = Sample;
        fn store() -> Sample {
            Sample(format!("word{}", next()))
        }
        fn view(store: &'a Sample) -> Sample {
            store.clone()
        }
    }

    impl<'a> Example<'a> for &'a SortedSetAddOptions {
        type Store = SortedSetAddOptions;
        fn store() -> SortedSetAddOptions {
            SortedSetAddOptions::add_only()
        }
        fn view(store: &'a SortedSetAddOptions) -> Self {
            store
        }
    }

    impl<'a> Example<'a> for &'a [Sample] {
        type Store = Vec<Sample>;
        fn store() -> Vec<Sample> {
            vec![Sample::store(), Sample::store()]
        }
        fn view(store: &'a Vec<Sample>) -> Self {
            store
        }
    }

    impl<'a> Example<'a> for &'a [(Sample, Sample)] {
        type Store = Vec<(Sample, Sample)>;
        fn store() -> Vec<(Sample, Sample)> {
            let pair = || (Sample::store(), Sample::store());
            vec![pair(), pair()]
        }
        fn view(store: &'a Vec<(Sample, Sample)>) -> Self {
            store
        }
    }

    /// `ours` builds the same command as `theirs` (both from the same arguments).
    pub(super) fn check(name: &str, ours: impl Fn() -> Cmd, theirs: impl Fn() -> Cmd) {
        let (ours, theirs) = (ours(), theirs());
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{name}");
        assert_eq!(
            ours.get_packed_command(),
            theirs.get_packed_command(),
            "{name}"
        );
    }

    #[test]
    fn a_float_delta_picks_the_float_command_as_redis_rs_does() {
        let (key, delta) = ("k", 1.5);
        check("incr", || build::incr(key, delta), || Cmd::incr(key, delta));
        check(
            "hincr",
            || build::hincr(key, "f", delta),
            || Cmd::hincr(key, "f", delta),
        );
        assert!(format!("{:?}", build::incr(key, delta)).contains("INCRBYFLOAT"));
        assert!(format!("{:?}", build::incr(key, 2)).contains("INCRBY"));
    }

    #[test]
    fn a_script_is_sent_as_eval_with_its_keys_counted() {
        let code = "return redis.call('GET', KEYS[1]) .. ARGV[1]";
        let mut theirs = redis::cmd("EVAL");
        theirs.arg(code).arg(2).arg(&["a", "b"]).arg(&[7, 8]);
        check(
            "EVAL",
            || eval(code, &["a", "b"], &[7, 8]),
            || theirs.clone(),
        );
    }

    #[test]
    fn measured_arguments_count_what_every_kind_of_writer_writes() {
        let mut measure = Measure { args: 0, bytes: 0 };
        measure.write_arg(b"GET");
        measure.write_arg_fmt(1234);
        io::Write::write_all(&mut measure.writer_for_next_arg(), b"abcde").expect("counted");
        vec!["x", "yz"].write_redis_args(&mut measure);
        assert_eq!((measure.args, measure.bytes), (5, 3 + 4 + 5 + 3));
    }
}
