#[derive(Clone, redpipe::Struct)]
struct User;

fn main() {}
