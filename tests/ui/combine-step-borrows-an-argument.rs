// The combine step runs after execute, so it cannot read the function's borrowed
// arguments; the compiler says so at the tail. Clone what it needs in the body instead.
use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn count_keys(pipe: &Pipeline, keys: &[String]) -> usize {
    let _: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    keys.len()
}

fn main() {
    let _ = count_keys(None, &[]);
}
