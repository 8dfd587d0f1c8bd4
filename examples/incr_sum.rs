//! The seed's `incr_sum`: one function, called standalone (it executes on its own, one
//! round trip) and twice under one parent (both calls share one round trip).
//!
//! `cargo run --example incr_sum` (uses `REDIS_URL`, or starts a throwaway server).

use redpipe::{pipelined, Deferred, Pipeline};

/// Increments every key; the tail, run after execute, sums the replies.
#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

#[tokio::main]
async fn main() -> redpipe::Result<()> {
    let (_server, connection) = redpipe_dev::example_connection().await;
    redpipe::connect(connection)?;
    let keys: Vec<String> = (0..200).map(|i| format!("incr_sum:key{i}")).collect();

    // No parent: the call pipelines internally and awaiting it executes it.
    let total = incr_sum(None, &keys[..100]).await?;
    println!("standalone over 100 keys: {total}");

    // One parent for two calls: their 200 INCRs go in one round trip.
    let pipe = redpipe::pipeline();
    let first = incr_sum(&pipe, &keys[..100]);
    let second = incr_sum(&pipe, &keys[100..]);
    pipe.execute().await?;
    println!("under one parent: first = {first}, second = {second}");
    Ok(())
}
