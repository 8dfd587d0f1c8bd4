use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn copy(pipe: &Pipeline, other: &Pipeline, key: &str) -> Deferred<Option<String>> {
    let _: Deferred<i64> = other.incr(key, 1);
    pipe.get(key)
}

fn main() {}
