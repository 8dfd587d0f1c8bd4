// The Python docs' gotcha ("Bad programmer. No cookie."): a network call inside the
// callback cannot be pipelined with anything. In Rust the combine step cannot even try.
use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_if_gt(pipe: &Pipeline, key: &str, threshold: i64) -> i64 {
    let value: Deferred<i64> = pipe.get(key);
    let key = key.to_owned();
    if *value > threshold {
        let p = redpipe::pipeline();
        let incremented: Deferred<i64> = p.incr(&key, 1);
        let _ = p.execute();
        *incremented
    } else {
        *value
    }
}

fn main() {
    let _ = incr_if_gt(None, "k", 5);
}
