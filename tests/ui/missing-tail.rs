use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum::<i64>();
}

fn main() {
    let _ = incr_sum(None, &[]);
}
