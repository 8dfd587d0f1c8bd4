//! The throughput comparisons of BENCHMARKS.md under criterion's statistics (confidence
//! intervals, outliers), one group per comparison, against a `redis-server` this benchmark
//! starts itself. The ratio table comes from `benches/ratios.rs`, which interleaves the
//! variants so that load from other processes hits both alike; this file is the second
//! opinion. `cargo bench --bench throughput`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod workloads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, BenchmarkId, Criterion};
use redis::aio::MultiplexedConnection;
use redpipe::{Connection, Registry};
use redpipe_dev::RedisServer;
use tokio::runtime::Runtime;

use workloads::{incr_sum, nest, raw_incr_all, raw_incr_pair, set_get};

/// A server, a runtime, one multiplexed connection shared by both sides, and a registry
/// over it (standalone calls run in its scope, as in `benches/ratios.rs`).
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
    registry.connect(connection).expect("bind");
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
                let counts = raw_incr_all(&s.conn, &keys).await;
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
                            let conn = s.conn.clone();
                            let keys = Arc::clone(&keys);
                            tokio::spawn(async move {
                                raw_incr_pair(conn, &keys[2 * t], &keys[2 * t + 1]).await
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
                            let registry = s.registry.clone();
                            tokio::spawn(async move {
                                registry
                                    .scope(async {
                                        incr_sum(None, &keys[2 * t..2 * t + 2]).await.expect("call")
                                    })
                                    .await
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

/// What `criterion_main!` generates, then the ratios of this run's medians.
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Only `cargo bench` (which passes `--bench`) saves estimates.
    if std::env::args().any(|a| a == "--bench") {
        summary();
    }
}

/// The median of one benchmark of this run, from criterion's `estimates.json`.
fn median_ns(root: &Path, id: &str) -> Option<f64> {
    let text = std::fs::read_to_string(root.join(id).join("new/estimates.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// Prints (and with `REDPIPE_BENCH_OUT=dir`, writes `dir/criterion.md`) the ratios of the
/// medians: redis-rs time / redpipe time, as in the main table.
fn summary() {
    let root = match (
        std::env::var_os("CRITERION_HOME"),
        std::env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(home), _) => PathBuf::from(home),
        (None, Some(target)) => PathBuf::from(target).join("criterion"),
        (None, None) => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"),
    };
    let pairs = [
        (
            "Python shape: raw pipe per chunk / redpipe per chunk",
            "python_shape_100x10_set_get/raw_pipe_per_chunk",
            "python_shape_100x10_set_get/redpipe_per_chunk",
        ),
        (
            "Python shape: 2,000 plain calls / redpipe per chunk",
            "python_shape_100x10_set_get/plain_calls",
            "python_shape_100x10_set_get/redpipe_per_chunk",
        ),
        (
            "1,000 INCR: raw pipe / 100 nested calls",
            "incr_1000/raw_pipe",
            "incr_1000/redpipe_100_nested_calls",
        ),
        (
            "100 INCR: depth 1 / depth 5",
            "incr_100_by_depth/1",
            "incr_100_by_depth/5",
        ),
        (
            "100 INCR: depth 1 / depth 50",
            "incr_100_by_depth/1",
            "incr_100_by_depth/50",
        ),
        (
            "16 tasks: redis-rs / redpipe",
            "concurrent_tasks_2_incr/redis_rs/16",
            "concurrent_tasks_2_incr/redpipe/16",
        ),
        (
            "100 tasks: redis-rs / redpipe",
            "concurrent_tasks_2_incr/redis_rs/100",
            "concurrent_tasks_2_incr/redpipe/100",
        ),
        (
            "1000 tasks: redis-rs / redpipe",
            "concurrent_tasks_2_incr/redis_rs/1000",
            "concurrent_tasks_2_incr/redpipe/1000",
        ),
    ];
    let mut out = String::from("| criterion medians | ratio |\n| --- | --- |\n");
    for (name, a, b) in pairs {
        if let (Some(a), Some(b)) = (median_ns(&root, a), median_ns(&root, b)) {
            out.push_str(&format!("| {name} | {:.3}x |\n", a / b));
        }
    }
    println!("{out}");
    if let Some(dir) = std::env::var_os("REDPIPE_BENCH_OUT") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("output directory");
        std::fs::write(dir.join("criterion.md"), out).expect("write criterion.md");
    }
}
