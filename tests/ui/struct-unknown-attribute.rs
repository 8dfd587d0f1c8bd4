#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(text)]
    name: String,
}

fn main() {}
