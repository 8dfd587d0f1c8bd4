use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined(connection = "users", connection = "admins")]
fn get_user(pipe: &Pipeline, id: &str) -> Deferred<Option<String>> {
    pipe.get(id)
}

fn main() {
    let _ = get_user(None, "1");
}
