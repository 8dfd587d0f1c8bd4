use redpipe::pipelined;

#[pipelined]
fn answer(key: &str) -> usize {
    key.len()
}

fn main() {}
