#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit and integration tests against real
# redis-server processes (and a local cluster), TLS (`tls` feature), the compile-fail
# suite, doctests, and a check that the benchmarks build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh
cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo clippy --locked --features tls --test tls -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --quiet
cargo test --locked --workspace --all-targets
cargo test --locked --features tls --test tls
cargo test --locked --workspace --doc
if [ -d benches ]; then cargo bench --locked --no-run --quiet; fi
