#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(key)]
    email: String,
}

fn main() {}
