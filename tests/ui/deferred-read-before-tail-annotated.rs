use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_twice(pipe: &Pipeline, key: &str) -> i64 {
    let first: Deferred<i64> = pipe.incr(key, 1);
    let amount = *first * 2;
    let second: Deferred<i64> = pipe.incr(key, amount);
    *second
}

fn main() {
    let _ = incr_twice(None, "k");
}
