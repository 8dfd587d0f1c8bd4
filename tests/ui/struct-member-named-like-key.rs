#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    #[redpipe(rename = "id")]
    legacy_id: Option<String>,
}

fn main() {}
