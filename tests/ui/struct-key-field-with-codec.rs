#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key, ascii)]
    id: String,
}

fn main() {}
