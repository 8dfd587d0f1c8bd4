use redpipe::Struct;

#[derive(Clone, redpipe::Struct)]
#[redpipe(ttl = 0)]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
}

fn main() {
    // Only the attribute is reported: the struct, its patch and its operations still
    // type-check (the derive emits them even when it reports an error).
    let patch = UserPatch {
        name: Some("bob".to_owned()),
    };
    let _ = User::update(None, "1", &patch);
}
