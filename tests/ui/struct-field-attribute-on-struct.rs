#[derive(Clone, redpipe::Struct)]
#[redpipe(key)]
struct User {
    id: String,
}

fn main() {}
