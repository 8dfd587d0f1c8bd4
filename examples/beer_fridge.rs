//! The beer fridge: one function takes a beer and says how many are left. Call it once,
//! twice, or for a case of six: every way is one round trip, because the calls share the
//! caller's pipeline.
//!
//! `cargo run --example beer_fridge`

use redpipe::{pipelined, Deferred, Pipeline};

/// Takes one `beer` from the fridge; the combine step says what is left.
#[pipelined]
fn take_beer(pipe: &Pipeline, beer: &str) -> String {
    let left: Deferred<i64> = pipe.hincr("fridge", beer, -1);
    let beer = beer.to_owned();
    match *left {
        n if n < 0 => format!("no {beer} left, you owe the fridge {}", -n),
        0 => format!("that was the last {beer}"),
        n => format!("{n} {beer} left"),
    }
}

/// Fills the fridge.
#[pipelined]
fn stock(pipe: &Pipeline, beers: &[(&str, i64)]) {
    let _: Deferred<()> = pipe.del("fridge");
    let _: Deferred<()> = pipe.hset_multiple("fridge", beers);
}

#[tokio::main]
async fn main() -> redpipe::Result<()> {
    let (_server, connection) = redpipe_dev::example_connection().await;
    redpipe::connect(connection)?;
    stock(None, &[("lager", 6), ("stout", 2)]).await?;

    // Once: the call runs its own pipeline.
    println!("{}", take_beer(None, "stout").await?);

    // Twice: one parent, one round trip.
    let pipe = redpipe::pipeline();
    let a = take_beer(&pipe, "stout");
    let b = take_beer(&pipe, "stout");
    pipe.execute().await?;
    println!("{a}\n{b}");

    // A case of six: still one round trip.
    let pipe = redpipe::pipeline();
    let case: Vec<Deferred<String>> = (0..6).map(|_| take_beer(&pipe, "lager")).collect();
    pipe.execute().await?;
    for line in &case {
        println!("{line}");
    }
    Ok(())
}
