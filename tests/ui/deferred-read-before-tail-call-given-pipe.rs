use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
fn name_of(pipe: &Pipeline, id: &str) -> Deferred<String> {
    pipe.get(format!("name:{id}"))
}

#[pipelined]
fn greeting(pipe: &Pipeline, id: &str) -> String {
    let name = name_of(pipe, id);
    let short = name.len() < 8;
    let visits: Deferred<i64> = pipe.incr(format!("visits:{id}"), 1);
    format!("hello {} ({short}, visit {})", *name, *visits)
}

fn main() {
    let _ = greeting(None, "1");
}
