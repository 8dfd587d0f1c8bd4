#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(string_list)]
    tags: Option<String>,
}

fn main() {}
