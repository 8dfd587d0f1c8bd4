//! The pipelined functions every benchmark uses, written by hand exactly as
//! `#[redpipe::pipelined]` expands them (a `Nested` pipeline on the optional parent, the
//! body queues, the tail is the combine step). When the macro lands, each one becomes the
//! plain form shown in its doc comment under `#[redpipe::pipelined]` (signature as shown,
//! `nested` -> the pipeline parameter, the `resolve` closure -> the tail expression); the
//! benchmarks that call them do not change.

#![allow(
    dead_code,
    reason = "each benchmark binary uses a subset of these functions"
)]

use redpipe::{Deferred, Nested, Parent};

/// `#[pipelined] fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64`: one INCR per key,
/// the sum of the new values.
pub(crate) fn incr_sum<'a>(pipe: impl Into<Parent<'a>>, keys: &[String]) -> Deferred<i64> {
    let nested = Nested::new(pipe);
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| nested.incr(k, 1)).collect();
    nested.resolve(move || counts.iter().map(|c| **c).sum())
}

/// `#[pipelined] fn incr_one(pipe: &Pipeline, key: &str) -> Deferred<i64>`: one INCR, its
/// reply forwarded (no combine step).
pub(crate) fn incr_one<'a>(pipe: impl Into<Parent<'a>>, key: &str) -> Deferred<i64> {
    let nested = Nested::new(pipe);
    let count = nested.incr(key, 1);
    nested.forward(count)
}

/// `#[pipelined] fn set_get(pipe: &Pipeline, keys: &[String], value: &[u8]) -> usize`: SET
/// then GET of each key (the Python library's benchmark chunk), the total length read back.
pub(crate) fn set_get<'a>(
    pipe: impl Into<Parent<'a>>,
    keys: &[String],
    value: &[u8],
) -> Deferred<usize> {
    let nested = Nested::new(pipe);
    let mut reads: Vec<Deferred<Vec<u8>>> = Vec::with_capacity(keys.len());
    for key in keys {
        let _: Deferred<()> = nested.set(key, value);
        reads.push(nested.get(key));
    }
    nested.resolve(move || reads.iter().map(|r| r.len()).sum())
}

/// `#[pipelined] fn nest(pipe: &Pipeline, depth: usize, keys: &[String]) -> i64`: INCRs its
/// share of `keys` (`keys.len() / depth`) and calls itself one level deeper with the rest,
/// so `depth` levels queue the same commands; the sum of all new values.
pub(crate) fn nest<'a>(
    pipe: impl Into<Parent<'a>>,
    depth: usize,
    keys: &[String],
) -> Deferred<i64> {
    let nested = Nested::new(pipe);
    let own = if depth <= 1 {
        keys.len()
    } else {
        keys.len() / depth
    };
    let (mine, rest) = keys.split_at(own);
    let counts: Vec<Deferred<i64>> = mine.iter().map(|k| nested.incr(k, 1)).collect();
    let deeper = (depth > 1).then(|| nest(&nested, depth - 1, rest));
    nested.resolve(move || counts.iter().map(|c| **c).sum::<i64>() + deeper.map_or(0, |d| *d))
}

/// What command `i` of the CPU benchmark's mix is: SET, GET or INCR, in that rotation
/// within each group of 10.
pub(crate) fn mix(i: usize) -> usize {
    (i % 10) % 3
}

/// `#[pipelined] fn mixed(pipe: &Pipeline, keys: &[String], value: &[u8]) -> i64`: the
/// CPU benchmark's mix of SET, GET and INCR (see [`mix`]), the sum of read lengths and
/// counters.
pub(crate) fn mixed<'a>(
    pipe: impl Into<Parent<'a>>,
    keys: &[String],
    value: &[u8],
) -> Deferred<i64> {
    let nested = Nested::new(pipe);
    let mut reads: Vec<Deferred<Vec<u8>>> = Vec::with_capacity(keys.len());
    let mut counts: Vec<Deferred<i64>> = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        match mix(i) {
            0 => {
                let _: Deferred<()> = nested.set(key, value);
            }
            1 => reads.push(nested.get(key)),
            _ => counts.push(nested.incr(key, 1)),
        }
    }
    nested.resolve(move || {
        reads.iter().map(|r| r.len() as i64).sum::<i64>() + counts.iter().map(|c| **c).sum::<i64>()
    })
}
