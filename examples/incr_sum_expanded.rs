//! `examples/incr_sum.rs` with `#[pipelined]` expanded by hand: exactly what the macro
//! generates (modulo hygiene), written against the public API. It compiles and runs, so
//! the expansion shown in the docs cannot rot.
//!
//! `cargo run --example incr_sum_expanded`

use redpipe::{Deferred, Nested, Parent, Pipeline};

/// `#[pipelined] fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64`, expanded.
fn incr_sum<'p>(parent: impl Into<Parent<'p>>, keys: &[String]) -> Deferred<i64> {
    // The body queues on a pipeline nested in the parent (a new root without one) ...
    let nested = Nested::new(parent);
    let pipe: &Pipeline = &nested;
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    // ... and the tail becomes the combine step, run after execute.
    Nested::resolve(nested, move || -> i64 { counts.iter().map(|c| **c).sum() })
}

#[tokio::main]
async fn main() -> redpipe::Result<()> {
    let (_server, connection) = redpipe_dev::example_connection().await;
    redpipe::connect(connection)?;
    let keys: Vec<String> = (0..200).map(|i| format!("expanded:key{i}")).collect();

    let total = incr_sum(None, &keys[..100]).await?;
    println!("standalone over 100 keys: {total}");

    let pipe = redpipe::pipeline();
    let first = incr_sum(&pipe, &keys[..100]);
    let second = incr_sum(&pipe, &keys[100..]);
    pipe.execute().await?;
    println!("under one parent: first = {first}, second = {second}");
    Ok(())
}
