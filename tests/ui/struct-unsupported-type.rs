use std::collections::HashMap;

#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    scores: Option<HashMap<String, u32>>,
}

fn main() {}
