use redpipe::pipelined;

#[pipelined]
struct Counter {
    key: String,
}

fn main() {}
