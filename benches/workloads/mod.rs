//! What the benchmarks run on both sides: the pipelined functions, written with
//! `#[pipelined]` as users write them (the expansion is what `examples/incr_sum_expanded.rs`
//! shows), and the raw redis-rs pipes they are compared with.

#![allow(
    dead_code,
    reason = "each benchmark binary uses a subset of these functions"
)]

use redis::aio::MultiplexedConnection;
use redpipe::{pipelined, Deferred, Pipeline};

/// One INCR per key, the sum of the new values.
#[pipelined]
pub(crate) fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

/// One INCR, its reply forwarded (no combine step).
#[pipelined]
pub(crate) fn incr_one(pipe: &Pipeline, key: &str) -> Deferred<i64> {
    pipe.incr(key, 1)
}

/// SET then GET of each key (the Python library's benchmark chunk), the total length read
/// back.
#[pipelined]
pub(crate) fn set_get(pipe: &Pipeline, keys: &[String], value: &[u8]) -> usize {
    let mut reads: Vec<Deferred<Vec<u8>>> = Vec::with_capacity(keys.len());
    for key in keys {
        let _: Deferred<()> = pipe.set(key, value);
        reads.push(pipe.get(key));
    }
    reads.iter().map(|r| r.len()).sum()
}

/// INCRs its share of `keys` (`keys.len() / depth`) and calls itself one level deeper with
/// the rest, so `depth` levels queue the same commands; the sum of all new values.
#[pipelined]
pub(crate) fn nest(pipe: &Pipeline, depth: usize, keys: &[String]) -> i64 {
    let own = if depth <= 1 {
        keys.len()
    } else {
        keys.len() / depth
    };
    let (mine, rest) = keys.split_at(own);
    let counts: Vec<Deferred<i64>> = mine.iter().map(|k| pipe.incr(k, 1)).collect();
    let deeper = (depth > 1).then(|| nest(pipe, depth - 1, rest));
    counts.iter().map(|c| **c).sum::<i64>() + deeper.map_or(0, |d| *d)
}

/// What command `i` of the CPU benchmark's mix is: SET, GET or INCR, in that rotation
/// within each group of 10.
pub(crate) fn mix(i: usize) -> usize {
    (i % 10) % 3
}

/// The CPU benchmark's mix of SET, GET and INCR (see [`mix`]), the sum of read lengths and
/// counters.
#[pipelined]
pub(crate) fn mixed(pipe: &Pipeline, keys: &[String], value: &[u8]) -> i64 {
    let mut reads: Vec<Deferred<Vec<u8>>> = Vec::with_capacity(keys.len());
    let mut counts: Vec<Deferred<i64>> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match mix(i) {
            0 => {
                let _: Deferred<()> = pipe.set(key, value);
            }
            1 => reads.push(pipe.get(key)),
            _ => counts.push(pipe.incr(key, 1)),
        }
    }
    reads.iter().map(|r| r.len() as i64).sum::<i64>() + counts.iter().map(|c| **c).sum::<i64>()
}

/// The redis-rs side of `incr_sum` and `nest`: one INCR per key in one raw `redis::pipe()`,
/// the new values.
pub(crate) async fn raw_incr_all(conn: &MultiplexedConnection, keys: &[String]) -> Vec<i64> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.incr(key, 1);
    }
    pipe.query_async(&mut conn.clone()).await.expect("pipe")
}

/// The redis-rs side of the concurrency comparison: 2 INCR in one raw pipe, their sum.
pub(crate) async fn raw_incr_pair(mut conn: MultiplexedConnection, a: &str, b: &str) -> i64 {
    let (a, b): (i64, i64) = redis::pipe()
        .incr(a, 1)
        .incr(b, 1)
        .query_async(&mut conn)
        .await
        .expect("pipe");
    a + b
}
