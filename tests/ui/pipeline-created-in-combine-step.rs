use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn count_and_log(pipe: &Pipeline, key: &str) -> i64 {
    let count: Deferred<i64> = pipe.incr(key, 1);
    {
        let log = redpipe::pipeline();
        let _: Deferred<i64> = log.rpush("log", *count);
        drop(log.execute());
        *count
    }
}

fn main() {
    let _ = count_and_log(None, "k");
}
