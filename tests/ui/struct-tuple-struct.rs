#[derive(Clone, redpipe::Struct)]
struct User(String, String);

fn main() {}
