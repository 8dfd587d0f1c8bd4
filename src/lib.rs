//! Test support for redpipe, shared by the integration tests, examples and benchmarks:
//! real `redis-server` processes on free loopback ports ([`RedisServer`]), a local Redis
//! Cluster ([`cluster::RedisCluster`]), a backend wrapper that counts batches
//! ([`Counting`]), a fake RESP server for fault tests ([`FakeRedis`]), a loopback proxy
//! that adds a fixed delay ([`DelayProxy`]), a way to capture tracing in a test that runs
//! beside others ([`trace::capture`]), and a global allocator that counts allocations and
//! peak heap bytes ([`allocator`]), for the benchmarks. Everything is cleaned up on drop.
//! Not published.

pub mod allocator;
pub mod cluster;
mod counting;
mod fake;
mod proxy;
mod server;
pub mod trace;

pub use counting::{counted_server, Counting};
pub use fake::{Answer, FakeRedis, Request};
pub use proxy::DelayProxy;
pub use server::{example_connection, redis_server_binary, RedisServer};
