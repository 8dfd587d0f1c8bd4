use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_then_get(pipe: &Pipeline, key: &str) -> i64 {
    let count: Deferred<i64> = pipe.incr(key, 1);
    let again: Deferred<i64> = pipe.get(key);
    *count + *again + *pipe.incr::<_, _, i64>(key, 1)
}

fn main() {
    let _ = incr_then_get(None, "k");
}
