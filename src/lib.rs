//! Test support shared by redpipe's integration tests, examples and benchmarks: real
//! `redis-server` processes on free loopback ports, cleaned up on drop.

pub mod cluster;
