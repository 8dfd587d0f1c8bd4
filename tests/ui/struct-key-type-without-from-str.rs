#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: Vec<u8>,
}

fn main() {}
