#[derive(Clone, redpipe::Struct)]
#[redpipe(keyspace = "U", expire = 30)]
struct User {
    #[redpipe(key)]
    id: String,
}

fn main() {}
