#[derive(Clone, redpipe::Struct)]
struct User<T> {
    #[redpipe(key)]
    id: String,
    value: T,
}

fn main() {}
