//! The blocking API: the same `#[pipelined]` functions in a program with no async runtime
//! (a command-line tool, a batch job), on a blocking connection, from several threads.
//!
//! `cargo run --example blocking` (uses `REDIS_URL`, or starts a throwaway server).

use redpipe::{pipelined, Connection, Deferred, Pipeline};

/// Increments every key; the tail, run after execute, sums the replies.
#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

fn main() -> redpipe::Result<()> {
    let server = std::env::var("REDIS_URL")
        .is_err()
        .then(redpipe_dev::RedisServer::start);
    let url = std::env::var("REDIS_URL")
        .unwrap_or_else(|_| server.as_ref().map(|s| s.url()).unwrap_or_default());
    redpipe::connect(Connection::open_blocking(&url)?)?;
    let keys: Vec<String> = (0..100).map(|i| format!("blocking:key{i}")).collect();

    // Standalone: `wait` executes the call's own pipeline on this thread.
    let total = incr_sum(None, &keys).wait()?;
    println!("standalone over 100 keys: {total}");

    // Two calls under one root: one round trip, executed on this thread.
    let pipe = redpipe::pipeline();
    let first = incr_sum(&pipe, &keys[..50]);
    let second = incr_sum(&pipe, &keys[50..]);
    pipe.execute_blocking()?;
    println!("under one parent: first = {first}, second = {second}");

    // Threads share the connection (a pool of sockets underneath).
    let sums = std::thread::scope(|threads| {
        let running: Vec<_> = keys
            .chunks(25)
            .map(|chunk| threads.spawn(move || incr_sum(None, chunk).wait()))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("a worker thread panicked"))
            .collect::<redpipe::Result<Vec<i64>>>()
    })?;
    println!("four threads: {sums:?}");
    Ok(())
}
