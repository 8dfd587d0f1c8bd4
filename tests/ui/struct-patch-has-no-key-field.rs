use redpipe::Struct;

#[derive(Clone, redpipe::Struct)]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
}

fn main() {
    // The key lives in the key name: an update cannot change it.
    let patch = UserPatch {
        id: Some("2".to_owned()),
        ..UserPatch::default()
    };
    let _ = User::update(None, "1", &patch);
}
