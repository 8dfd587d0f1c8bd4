use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_next(pipe: &Pipeline, key: &str) -> i64 {
    let count = pipe.incr(key, 1);
    let next = count + 1;
    let _: Deferred<bool> = pipe.set(format!("{key}:next"), next);
    *count
}

fn main() {
    let _ = incr_next(None, "k");
}
