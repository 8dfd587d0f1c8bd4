#[derive(Clone, redpipe::Struct)]
#[redpipe(ttl = 0)]
struct User {
    #[redpipe(key)]
    id: String,
}

fn main() {}
