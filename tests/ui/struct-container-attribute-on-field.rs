#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key, ttl = 30)]
    id: String,
}

fn main() {}
