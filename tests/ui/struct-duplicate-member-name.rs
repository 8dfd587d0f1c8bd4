#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    #[redpipe(rename = "name")]
    display_name: Option<String>,
}

fn main() {}
