#[derive(Clone, redpipe::Struct)]
struct User {
    id: String,
    name: String,
}

fn main() {}
