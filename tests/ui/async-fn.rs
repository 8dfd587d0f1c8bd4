use redpipe::{pipelined, Deferred, Pipeline};

#[pipelined]
async fn get_name(pipe: &Pipeline, id: &str) -> Deferred<Option<String>> {
    pipe.get(id)
}

fn main() {
    // No follow-on error here: the rewritten signature is still emitted.
    let _: Deferred<Option<String>> = get_name(None, "1");
}
