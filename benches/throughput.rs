//! The throughput comparisons of BENCHMARKS.md under criterion's statistics (confidence
//! intervals, outliers), one group per comparison, against a `redis-server` this benchmark
//! starts itself. The ratio table comes from `benches/ratios.rs`, which interleaves the
//! variants so that load from other processes hits both alike; this file is the second
//! opinion. `cargo bench --bench throughput`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod pipelined;

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use redis::aio::MultiplexedConnection;
use redpipe::{Connection, Registry};
use redpipe_dev::RedisServer;
use tokio::runtime::Runtime;

use pipelined::{incr_sum, nest, set_get};

/// A server, a runtime, one multiplexed connection shared by both sides, and a registry
/// (also bound as the global one, for standalone calls in spawned tasks) over it.
struct Setup {
    runtime: Runtime,
    conn: MultiplexedConnection,
    registry: Registry,
    _server: RedisServer,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = RedisServer::start();
    let conn = runtime.block_on(server.multiplexed());
    let registry = Registry::new();
    let connection = Connection::multiplexed(conn.clone());
    registry.connect(connection.clone()).expect("bind");
    // Rebinding the same connection is fine; criterion runs every group in this process.
    let _ = Registry::global().replace(redpipe::DEFAULT_CONNECTION, connection);
    Setup {
        runtime,
        conn,
        registry,
        _server: server,
    }
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

fn python_shape(c: &mut Criterion) {
    let s = setup();
    let keys = keys("py", 1000);
    let value = b"0123456789abcdef".to_vec();
    let mut group = c.benchmark_group("python_shape_100x10_set_get");
    group.bench_function("plain_calls", |b| {
        b.iter(|| {
            s.runtime.block_on(async {
                let mut conn = s.conn.clone();
                for key in &keys {
                    let () = redis::cmd("SET")
                        .arg(key)
                        .arg(&value)
                        .query_async(&mut conn)
                        .await
                        .expect("SET");
                    let _: Vec<u8> = redis::cmd("GET")
                        .arg(key)
                        .query_async(&mut conn)
                        .await
                        .expect("GET");
                }
            })
        })
    });
    group.bench_function("raw_pipe_per_chunk", |b| {
        b.iter(|| {
            s.runtime.block_on(async {
                let mut conn = s.conn.clone();
                for chunk in keys.chunks(10) {
                    let mut pipe = redis::pipe();
                    for key in chunk {
                        pipe.set(key, &value).ignore().get(key);
                    }
                    let _: Vec<Vec<u8>> = pipe.query_async(&mut conn).await.expect("pipe");
                }
            })
        })
    });
    group.bench_function("redpipe_per_chunk", |b| {
        b.iter(|| {
            s.runtime.block_on(s.registry.scope(async {
                for chunk in keys.chunks(10) {
                    set_get(None, chunk, &value).await.expect("set_get");
                }
            }))
        })
    });
    group.finish();
}

fn nested_1000(c: &mut Criterion) {
    let s = setup();
    let keys = keys("n1000", 1000);
    let mut group = c.benchmark_group("incr_1000");
    group.bench_function("raw_pipe", |b| {
        b.iter(|| {
            s.runtime.block_on(async {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.incr(key, 1);
                }
                let counts: Vec<i64> = pipe.query_async(&mut s.conn.clone()).await.expect("pipe");
                counts.chunks(10).map(|c| c.iter().sum::<i64>()).max()
            })
        })
    });
    group.bench_function("redpipe_100_nested_calls", |b| {
        b.iter(|| {
            s.runtime.block_on(async {
                let root = s.registry.pipeline();
                let sums: Vec<_> = keys.chunks(10).map(|c| incr_sum(&root, c)).collect();
                root.execute().await.expect("execute");
                sums.iter().map(|s| **s).max()
            })
        })
    });
    group.finish();
}

fn depth(c: &mut Criterion) {
    let s = setup();
    let keys = keys("depth", 100);
    let mut group = c.benchmark_group("incr_100_by_depth");
    for depth in [1usize, 5, 50] {
        group.bench_with_input(BenchmarkId::from_parameter(depth), &depth, |b, &depth| {
            b.iter(|| {
                s.runtime.block_on(async {
                    let root = s.registry.pipeline();
                    let sum = nest(&root, depth, &keys);
                    root.execute().await.expect("execute");
                    *sum
                })
            })
        });
    }
    group.finish();
}

fn concurrent(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("concurrent_tasks_2_incr");
    for tasks in [16usize, 100, 1000] {
        let keys = Arc::new(keys("conc", 2 * tasks));
        group.bench_with_input(BenchmarkId::new("redis_rs", tasks), &tasks, |b, &tasks| {
            b.iter(|| {
                s.runtime.block_on(async {
                    let handles: Vec<_> = (0..tasks)
                        .map(|t| {
                            let mut conn = s.conn.clone();
                            let keys = Arc::clone(&keys);
                            tokio::spawn(async move {
                                let (a, b): (i64, i64) = redis::pipe()
                                    .incr(&keys[2 * t], 1)
                                    .incr(&keys[2 * t + 1], 1)
                                    .query_async(&mut conn)
                                    .await
                                    .expect("pipe");
                                a + b
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await.expect("task");
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("redpipe", tasks), &tasks, |b, &tasks| {
            b.iter(|| {
                s.runtime.block_on(async {
                    let handles: Vec<_> = (0..tasks)
                        .map(|t| {
                            let keys = Arc::clone(&keys);
                            tokio::spawn(async move {
                                incr_sum(None, &keys[2 * t..2 * t + 2]).await.expect("call")
                            })
                        })
                        .collect();
                    for handle in handles {
                        handle.await.expect("task");
                    }
                })
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = python_shape, nested_1000, depth, concurrent
}
criterion_main!(benches);
