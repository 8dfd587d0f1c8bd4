//! Test support for redpipe, shared by the integration tests, examples and benchmarks:
//! real `redis-server` processes on free loopback ports ([`RedisServer`]), and a backend
//! wrapper that counts batches ([`Counting`]). Not published.

mod counting;
mod server;

pub use counting::Counting;
pub use server::{redis_server_binary, RedisServer};
