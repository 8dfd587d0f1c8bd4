use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn double(pipe: &Pipeline, key: &str) -> i64 {
    let value: Deferred<i64> = pipe.get(key);
    *value * 2
}

#[pipelined]
fn quadruple(pipe: &Pipeline, key: &str) -> i64 {
    let value: Deferred<i64> = pipe.get(key);
    let key = key.to_owned();
    *value + double(None, &key).await.unwrap_or(0) * 2
}

fn main() {
    let _ = quadruple(None, "k");
}
