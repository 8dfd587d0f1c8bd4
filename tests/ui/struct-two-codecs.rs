#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(ascii, json)]
    name: String,
}

fn main() {}
