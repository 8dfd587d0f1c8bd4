use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn incr_all(pipe: &Pipeline, keys: &[String]) -> i64 {
    if keys.is_empty() {
        return 0;
    }
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

fn main() {
    let _ = incr_all(None, &[]);
}
