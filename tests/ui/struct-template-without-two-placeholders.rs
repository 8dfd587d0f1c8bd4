#[derive(Clone, redpipe::Struct)]
#[redpipe(template = "user:%s")]
struct User {
    #[redpipe(key)]
    id: String,
}

fn main() {}
