#[derive(Clone, redpipe::Struct)]
enum User {
    Admin { id: String },
}

fn main() {}
