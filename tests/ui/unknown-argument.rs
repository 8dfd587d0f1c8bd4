use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined(conection = "users")]
fn get_user(pipe: &Pipeline, id: &str) -> Deferred<Option<String>> {
    pipe.get(id)
}

fn main() {
    let _ = get_user(None, "1");
}
