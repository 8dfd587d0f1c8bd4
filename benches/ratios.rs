//! redpipe against raw redis-rs, every figure a ratio measured in this run, against one
//! `redis-server` this benchmark starts itself, on the same connection. See BENCHMARKS.md.
//!
//! The variants of each comparison run in interleaved rounds (A B, then B A, ...), so load
//! from other processes on a shared machine hits both sides alike. Each ratio is the median
//! of the per-round paired ratios (redis-rs against redpipe in the same round), shown with
//! its min–max over rounds. Prints Markdown tables; with `REDPIPE_BENCH_OUT=dir` it also
//! writes `dir/ratios.md` and the round-trip plot `dir/rtt.svg`.
//!
//! `cargo bench --bench ratios` (add `-- --quick` for a fast run of every comparison with 2
//! rounds; `-- --only NAME` for one comparison: `python`, `nested`, `standalone`, `depth`,
//! `sweep`, `concurrent`, `rtt`; `--workers N` for N runtime worker threads, 2 by default).
//! Without `--bench` (as `cargo test --all-targets` runs it) it is a smoke run: 2 rounds,
//! and the size sweep stops at 1,000 commands.

mod workloads;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redpipe::{Connection, Deferred, Registry};
use redpipe_dev::allocator::{self, CountingAllocator};
use redpipe_dev::{Counting, DelayProxy, RedisServer};

use workloads::{incr_one, incr_sum, nest, raw_incr_all, raw_incr_pair, set_get};

/// Counts heap bytes only while a size-sweep run is measured for memory; timed runs pay
/// one relaxed load per allocation, on both sides.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// One variant of a comparison: a closure that returns the future doing one run.
type Run<'a> = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

fn run<'a, F, Fut>(mut f: F) -> Run<'a>
where
    F: FnMut() -> Fut + 'a,
    Fut: Future<Output = ()> + 'a,
{
    Box::new(move || Box::pin(f()))
}

/// Runs every variant once per round, rotating which goes first, after one warm-up round;
/// returns each variant's time in each round.
async fn measure(rounds: usize, runs: &mut [Run<'_>]) -> Vec<Vec<Duration>> {
    let n = runs.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..=rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let start = Instant::now();
            (runs[i])().await;
            if round > 0 {
                times[i].push(start.elapsed());
            }
        }
    }
    times
}

/// As [`measure`], but returns each variant's peak heap bytes in each round (the
/// allocator tracks only while a run is measured, so the timed rounds are not slowed).
async fn measure_peaks(rounds: usize, runs: &mut [Run<'_>]) -> Vec<Vec<usize>> {
    let n = runs.len();
    let mut peaks = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            allocator::start_tracking();
            (runs[i])().await;
            peaks[i].push(allocator::stop_tracking().peak_bytes);
        }
    }
    peaks
}

/// The median of some measurements and their range.
#[derive(Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Self {
        assert!(!values.is_empty(), "at least one round");
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Spread {
            median,
            min: values[0],
            max: values[n - 1],
        }
    }

    /// Per-round throughput ratios, redis-rs time / redpipe time (above 1: redpipe is
    /// faster).
    fn throughput(redis_rs: &[Duration], redpipe: &[Duration]) -> Self {
        Spread::of(
            redis_rs
                .iter()
                .zip(redpipe)
                .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                .collect(),
        )
    }

    /// Per-round ratios of peak heap bytes, redpipe / redis-rs (above 1: redpipe uses more).
    fn memory(redis_rs: &[usize], redpipe: &[usize]) -> Self {
        Spread::of(
            redis_rs
                .iter()
                .zip(redpipe)
                .map(|(&a, &b)| b as f64 / a.max(1) as f64)
                .collect(),
        )
    }

    /// As a ratio: `0.97x (0.91–1.03)`.
    fn times(self) -> String {
        let digits = if self.median >= 10.0 { 1 } else { 2 };
        format!(
            "{:.d$}x ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = digits
        )
    }

    /// As a difference in µs: `+1.2 µs (+0.4 to +2.5)`.
    /// Two decimals for the median, so that a verdict against a goal of whole
    /// microseconds can be read off it.
    fn micros(self) -> String {
        format!(
            "{:+.2} µs ({:+.1} to {:+.1})",
            self.median, self.min, self.max
        )
    }
}

fn median_of(times: &[Duration]) -> Duration {
    Duration::from_secs_f64(Spread::of(times.iter().map(Duration::as_secs_f64).collect()).median)
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A time for the table: µs below 10 ms, else ms.
fn time(d: Duration) -> String {
    if d < Duration::from_millis(10) {
        format!("{:.0} µs", us(d))
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

/// Heap bytes for the table.
fn bytes(n: f64) -> String {
    if n < 1024.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{:.2} MiB", n / (1024.0 * 1024.0))
    }
}

/// What a row is held to, judged on the median of its rounds.
#[derive(Clone, Copy)]
enum Goal {
    /// No goal: context for the other rows.
    Context,
    /// Throughput ratio (redis-rs time / redpipe time) at least this.
    AtLeast(f64),
    /// Ratio (redpipe / redis-rs) at most this.
    AtMost(f64),
    /// redpipe at most this many µs slower.
    WithinMicros(f64),
}

impl Goal {
    fn describe(self) -> String {
        match self {
            Goal::Context => String::from("(context)"),
            Goal::AtLeast(g) => format!("≥ {g:.2}x"),
            Goal::AtMost(g) => format!("≤ {g:.2}x"),
            Goal::WithinMicros(g) => format!("≤ +{g:.0} µs"),
        }
    }

    fn verdict(self, median: f64) -> &'static str {
        let met = match self {
            Goal::Context => return "",
            Goal::AtLeast(g) => median >= g,
            Goal::AtMost(g) | Goal::WithinMicros(g) => median <= g,
        };
        if met {
            "met"
        } else {
            "missed"
        }
    }
}

/// One line of a result table.
struct Row {
    name: String,
    redis_rs: String,
    redpipe: String,
    ratio: String,
    goal: String,
    verdict: &'static str,
}

impl Row {
    /// Same work on both sides; the ratio is redis-rs time / redpipe time per round.
    fn throughput(name: &str, redis_rs: &[Duration], redpipe: &[Duration], goal: Goal) -> Self {
        let ratio = Spread::throughput(redis_rs, redpipe);
        Row {
            name: name.to_owned(),
            redis_rs: time(median_of(redis_rs)),
            redpipe: time(median_of(redpipe)),
            ratio: ratio.times(),
            goal: goal.describe(),
            verdict: goal.verdict(ratio.median),
        }
    }

    /// Peak heap bytes of the same work; the ratio is redpipe / redis-rs per round.
    fn memory(name: &str, redis_rs: &[usize], redpipe: &[usize], goal: Goal) -> Self {
        let ratio = Spread::memory(redis_rs, redpipe);
        let median = |v: &[usize]| Spread::of(v.iter().map(|&b| b as f64).collect()).median;
        Row {
            name: name.to_owned(),
            redis_rs: bytes(median(redis_rs)),
            redpipe: bytes(median(redpipe)),
            ratio: ratio.times(),
            goal: goal.describe(),
            verdict: goal.verdict(ratio.median),
        }
    }
}

fn table(title: &str, ratio: &str, rows: &[Row]) -> String {
    let mut out = format!(
        "{title}\n\n| benchmark | redis-rs | redpipe | {ratio} | goal | verdict |\n| --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.name, r.redis_rs, r.redpipe, r.ratio, r.goal, r.verdict
        );
    }
    out
}

struct Bench {
    rounds: usize,
    /// The sizes of the sweep (the largest are left out of smoke runs).
    sizes: Vec<usize>,
    conn: MultiplexedConnection,
    registry: Registry,
    rows: Vec<Row>,
    sweep: Vec<Row>,
    memory: Vec<Row>,
    notes: Vec<String>,
    /// Commands/s of the raw 1,000-command pipe, to compare with the server's ceiling.
    raw_rate: Option<f64>,
}

/// `100000` as `100,000`.
fn thousands(n: usize) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        format!("{},{:03}", thousands(n / 1000), n % 1000)
    }
}

fn keys(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}:{i}")).collect()
}

impl Bench {
    /// The Python library's benchmark: 100 chunks of 10 SET+GET pairs.
    async fn python_shape(&mut self, transaction: bool) {
        let keys = keys(if transaction { "py:tx" } else { "py" }, 1000);
        let value = b"0123456789abcdef".to_vec();
        let registry = Registry::new();
        let connection = Connection::multiplexed(self.conn.clone()).with_transaction(transaction);
        registry.connect(connection).expect("bind");
        let (keys, value, conn) = (&keys, &value, &self.conn);
        let plain = run(move || {
            let mut conn = conn.clone();
            async move {
                let mut read = 0;
                for key in keys {
                    let () = redis::cmd("SET")
                        .arg(key)
                        .arg(value)
                        .query_async(&mut conn)
                        .await
                        .expect("SET");
                    let got: Vec<u8> = redis::cmd("GET")
                        .arg(key)
                        .query_async(&mut conn)
                        .await
                        .expect("GET");
                    read += got.len();
                }
                assert_eq!(read, 16_000);
            }
        });
        let raw = run(move || {
            let mut conn = conn.clone();
            async move {
                let mut read = 0;
                for chunk in keys.chunks(10) {
                    let mut pipe = redis::pipe();
                    if transaction {
                        pipe.atomic();
                    }
                    for key in chunk {
                        pipe.set(key, value).ignore().get(key);
                    }
                    let got: Vec<Vec<u8>> = pipe.query_async(&mut conn).await.expect("pipe");
                    read += got.iter().map(Vec::len).sum::<usize>();
                }
                assert_eq!(read, 16_000);
            }
        });
        let registry = &registry;
        let ours = run(move || async move {
            registry
                .scope(async {
                    let mut read = 0;
                    for chunk in keys.chunks(10) {
                        read += set_get(None, chunk, value).await.expect("set_get");
                    }
                    assert_eq!(read, 16_000);
                })
                .await
        });
        let times = measure(self.rounds, &mut [plain, raw, ours]).await;
        let mode = if transaction {
            "MULTI/EXEC"
        } else {
            "no transaction"
        };
        self.rows.push(Row::throughput(
            &format!("Python shape, 100 chunks x 10 SET+GET, {mode}: raw pipe per chunk vs redpipe per chunk"),
            &times[1],
            &times[2],
            Goal::Context,
        ));
        self.rows.push(Row::throughput(
            &format!("Python shape, {mode}: 2,000 plain calls vs redpipe per chunk"),
            &times[0],
            &times[2],
            Goal::Context,
        ));
    }

    /// 100 nested pipelined calls of 10 INCR each (1,000 commands) against one raw pipe.
    async fn nested_1000(&mut self) {
        let keys = keys("n1000", 1000);
        let (keys, conn, registry) = (&keys, &self.conn, &self.registry);
        let raw = run(move || async move {
            let counts = raw_incr_all(conn, keys).await;
            let sums: Vec<i64> = counts.chunks(10).map(|c| c.iter().sum()).collect();
            assert_eq!(sums.len(), 100);
        });
        let ours = run(move || async move {
            let root = registry.pipeline();
            let sums: Vec<_> = keys.chunks(10).map(|c| incr_sum(&root, c)).collect();
            root.execute().await.expect("execute");
            assert!(sums.iter().all(|s| *s.try_get().expect("sum") > 0));
        });
        let times = measure(self.rounds * 3, &mut [raw, ours]).await;
        let (raw, ours) = (median_of(&times[0]), median_of(&times[1]));
        self.raw_rate = Some(1000.0 / raw.as_secs_f64());
        self.notes.push(format!(
            "1,000 INCR in one raw pipe: {:.0} commands/s on one connection, one batch at a time (median round); through redpipe: {:.0} commands/s.",
            1000.0 / raw.as_secs_f64(),
            1000.0 / ours.as_secs_f64()
        ));
        self.rows.push(Row::throughput(
            "1,000 INCR: 100 nested pipelined calls of 10 vs one raw `redis::pipe()`",
            &times[0],
            &times[1],
            Goal::AtLeast(0.95),
        ));
    }

    /// The same 100 INCR queued at nesting depth 1, 5 and 50, against one raw pipe.
    async fn depth(&mut self) {
        let keys = keys("depth", 100);
        let (keys, conn, registry) = (&keys, &self.conn, &self.registry);
        let raw = run(move || async move {
            let counts = raw_incr_all(conn, keys).await;
            assert!(counts.iter().sum::<i64>() > 0);
        });
        let at = |depth: usize| {
            run(move || async move {
                let root = registry.pipeline();
                let sum = nest(&root, depth, keys);
                root.execute().await.expect("execute");
                assert!(*sum.try_get().expect("sum") > 0);
            })
        };
        let times = measure(self.rounds * 3, &mut [raw, at(1), at(5), at(50)]).await;
        for (i, depth) in [(1, 1), (2, 5), (3, 50)] {
            self.rows.push(Row::throughput(
                &format!("100 INCR at nesting depth {depth} vs one raw pipe"),
                &times[0],
                &times[i],
                Goal::Context,
            ));
        }
        // One batch per execute at every depth, checked here too.
        let counting = Counting::wrap(&Connection::multiplexed(self.conn.clone()));
        let counted = Registry::new();
        counted.connect(counting.connection()).expect("bind");
        for depth in [1, 5, 50] {
            let root = counted.pipeline();
            let sum = nest(&root, depth, keys);
            root.execute().await.expect("execute");
            assert!(sum.try_get().is_ok());
        }
        assert_eq!(
            counting.batches(),
            3,
            "one batch per execute at every depth"
        );
        self.notes.push(format!(
            "Depth 50 against depth 1 (same 100 INCR): {} the time (per-round ratio). Batches sent for one execute at depth 1, 5 and 50: {} in all (one each).",
            Spread::throughput(&times[3], &times[1]).times(),
            counting.batches()
        ));
    }

    /// N INCR queued on one root, and by nested functions of 10, against one raw pipe of
    /// the same N INCR: time and peak heap bytes, for each N of the sweep.
    async fn sweep(&mut self) {
        let largest = self.sizes.iter().copied().max().unwrap_or(0);
        let all = keys("sweep", largest);
        for n in self.sizes.clone() {
            let (keys, conn, registry) = (&all[..n], &self.conn, &self.registry);
            let raw = run(move || async move {
                let counts = raw_incr_all(conn, keys).await;
                let sum: i64 = counts.chunks(10).map(|c| c.iter().sum::<i64>()).sum();
                assert!(sum > 0);
            });
            let root = run(move || async move {
                let root = registry.pipeline();
                let counts: Vec<Deferred<i64>> = keys.iter().map(|k| root.incr(k, 1)).collect();
                root.execute().await.expect("execute");
                assert!(counts.iter().map(|c| **c).sum::<i64>() > 0);
            });
            let nested = run(move || async move {
                let root = registry.pipeline();
                let sums: Vec<_> = keys.chunks(10).map(|c| incr_sum(&root, c)).collect();
                root.execute().await.expect("execute");
                assert!(sums.iter().map(|s| **s).sum::<i64>() > 0);
            });
            let mut runs = [raw, root, nested];
            // Fewer rounds for the sizes that take tens of milliseconds a run.
            let rounds = match n {
                ..=1_000 => self.rounds * 3,
                1_001..=10_000 => self.rounds * 2,
                _ => self.rounds,
            };
            let times = measure(rounds, &mut runs).await;
            // Peak heap barely moves between rounds; a few rounds show that it does not.
            let peaks = measure_peaks(self.rounds.min(3), &mut runs).await;
            let (time_goal, memory_goal) = if n == 100_000 {
                (Goal::AtLeast(0.9), Goal::AtMost(1.2))
            } else {
                (Goal::Context, Goal::Context)
            };
            for (i, shape) in [(1, "root"), (2, "nested")] {
                let calls = n.div_ceil(10);
                let what = match shape {
                    "root" => format!("{} INCR on one root", thousands(n)),
                    _ => format!(
                        "{} INCR from {} nested call{} of 10",
                        thousands(n),
                        thousands(calls),
                        if calls == 1 { "" } else { "s" }
                    ),
                };
                self.sweep.push(Row::throughput(
                    &format!("{what} vs one raw pipe"),
                    &times[0],
                    &times[i],
                    time_goal,
                ));
                self.memory.push(Row::memory(
                    &format!("{what} vs one raw pipe"),
                    &peaks[0],
                    &peaks[i],
                    memory_goal,
                ));
            }
        }
    }

    /// A standalone one-command pipelined call against a raw `query_async` of the same
    /// command (INCRBY key 1, what `Pipeline::incr` sends), alternating, p50 and p99 in
    /// rounds of 500 pairs.
    async fn standalone(&mut self) {
        const PER_ROUND: usize = 500;
        const WARM_UP: usize = 200;
        let samples = self.rounds * PER_ROUND;
        let mut conn = self.conn.clone();
        let mut raw = Vec::with_capacity(samples);
        let mut ours = Vec::with_capacity(samples);
        let registry = self.registry.clone();
        registry
            .scope(async {
                for i in 0..samples + WARM_UP {
                    let raw_first = i % 2 == 0;
                    let (a, b) = if raw_first {
                        let a = one_raw(&mut conn).await;
                        (a, one_ours().await)
                    } else {
                        let b = one_ours().await;
                        (one_raw(&mut conn).await, b)
                    };
                    if i >= WARM_UP {
                        raw.push(a);
                        ours.push(b);
                    }
                }
            })
            .await;
        for (p, goal) in [(50.0, Goal::WithinMicros(2.0)), (99.0, Goal::Context)] {
            let per_round = |side: &[Duration]| -> Vec<f64> {
                side.chunks(PER_ROUND)
                    .map(|r| us(percentile(r, p)))
                    .collect()
            };
            let (a, b) = (per_round(&raw), per_round(&ours));
            let diff = Spread::of(a.iter().zip(&b).map(|(a, b)| b - a).collect());
            self.rows.push(Row {
                name: format!(
                    "standalone one-command call (INCRBY) vs raw `query_async` (INCRBY), p{p:.0}"
                ),
                redis_rs: format!("{:.1} µs", Spread::of(a).median),
                redpipe: format!("{:.1} µs", Spread::of(b).median),
                ratio: diff.micros(),
                goal: goal.describe(),
                verdict: goal.verdict(diff.median),
            });
        }
    }

    /// N concurrent tasks each running a small pipelined function (2 INCR and a sum)
    /// standalone in the registry's scope, against the same 2 INCR as a raw pipe per task
    /// on a clone of the same `MultiplexedConnection` (redis-rs's implicit multiplexing).
    async fn concurrent(&mut self, tasks: usize) {
        let keys: Arc<Vec<String>> = Arc::new(keys("conc", 2 * tasks));
        let minimal = Arc::new(Minimal::new(self.conn.clone()));
        let (conn, keys_ref, registry, minimal_ref) = (&self.conn, &keys, &self.registry, &minimal);
        let raw = run(move || async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let conn = conn.clone();
                    let keys = Arc::clone(keys_ref);
                    tokio::spawn(async move {
                        raw_incr_pair(conn, &keys[2 * t], &keys[2 * t + 1]).await
                    })
                })
                .collect();
            for handle in handles {
                assert!(handle.await.expect("task") > 0);
            }
        });
        let ours = run(move || async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let keys = Arc::clone(keys_ref);
                    let registry = registry.clone();
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
                assert!(handle.await.expect("task") > 0);
            }
        });
        let sketch = run(move || async move {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let minimal = Arc::clone(minimal_ref);
                    let keys = Arc::clone(keys_ref);
                    tokio::spawn(
                        async move { minimal.incr_pair(&keys[2 * t], &keys[2 * t + 1]).await },
                    )
                })
                .collect();
            for handle in handles {
                assert!(handle.await.expect("task") > 0);
            }
        });
        let times = measure(self.rounds * 2, &mut [raw, ours, sketch]).await;
        if tasks == 1000 {
            let (us, sketch) = (
                Spread::throughput(&times[0], &times[1]),
                Spread::throughput(&times[0], &times[2]),
            );
            self.notes.push(format!(
                "For scale, at 1,000 tasks: a minimal coalescer (`Minimal` in benches/ratios.rs: a queue per connection and a oneshot per call, the call that finds it idle writes everything queued; no deferreds, no combine step, no error handling) reaches {} the throughput of a raw pipe per task in the same rounds, where redpipe reaches {}. The difference is redpipe's per-call path.",
                sketch.times(),
                us.times()
            ));
        }
        let goal = if tasks == 1000 {
            Goal::AtLeast(1.5)
        } else {
            Goal::Context
        };
        self.rows.push(Row::throughput(
            &format!("{} concurrent tasks x (2 INCR + sum): raw pipe per task vs standalone redpipe call per task", thousands(tasks)),
            &times[0],
            &times[1],
            goal,
        ));
    }

    /// Round-trip hiding through a proxy that adds 1 ms each way: `calls` calls of a
    /// 2-INCR function under one redpipe parent, against redis-rs sending a raw pipe per
    /// call and awaiting each in turn; also the same calls each awaited on their own in
    /// redpipe, and all the INCR in one raw pipe.
    async fn round_trips(&mut self, server: &RedisServer) -> Vec<Point> {
        let upstream = format!("127.0.0.1:{}", server.port())
            .parse()
            .expect("address");
        let proxy = DelayProxy::start(upstream, Duration::from_millis(1)).expect("proxy");
        let client = redis::Client::open(proxy.url()).expect("proxy URL");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect through the proxy");
        let registry = Registry::new();
        registry
            .connect(Connection::multiplexed(conn.clone()))
            .expect("bind");
        let keys = keys("rtt", 200);
        let mut points = Vec::new();
        let mut last = None;
        for calls in [1usize, 10, 50, 100] {
            let (keys, registry, conn) = (&keys, &registry, &conn);
            let raw_each = run(move || async move {
                for i in 0..calls {
                    let sum = raw_incr_pair(conn.clone(), &keys[2 * i], &keys[2 * i + 1]).await;
                    assert!(sum > 0);
                }
            });
            let raw_one = run(move || async move {
                let counts = raw_incr_all(conn, &keys[..2 * calls]).await;
                let sums: Vec<i64> = counts.chunks(2).map(|c| c.iter().sum()).collect();
                assert_eq!(sums.len(), calls);
            });
            let ours_each = run(move || async move {
                registry
                    .scope(async {
                        for i in 0..calls {
                            incr_sum(None, &keys[2 * i..2 * i + 2]).await.expect("call");
                        }
                    })
                    .await
            });
            let ours_one = run(move || async move {
                let root = registry.pipeline();
                let sums: Vec<_> = (0..calls)
                    .map(|i| incr_sum(&root, &keys[2 * i..2 * i + 2]))
                    .collect();
                root.execute().await.expect("execute");
                assert_eq!(sums.len(), calls);
            });
            let times = measure(
                self.rounds.min(5),
                &mut [raw_each, raw_one, ours_each, ours_one],
            )
            .await;
            points.push(Point {
                calls,
                medians: [0, 1, 2, 3].map(|i| median_of(&times[i])),
            });
            last = Some((calls, times));
        }
        if let Some((calls, times)) = last {
            self.rows.push(Row::throughput(
                &format!("{calls} calls of a 2-INCR function, proxy +1 ms each way: raw pipe per call, awaited in turn, vs redpipe calls under one parent"),
                &times[0],
                &times[3],
                Goal::Context,
            ));
            self.rows.push(Row::throughput(
                &format!("the same {} INCR through the proxy: one raw pipe vs redpipe calls under one parent", 2 * calls),
                &times[1],
                &times[3],
                Goal::Context,
            ));
            self.rows.push(Row::throughput(
                &format!("{calls} calls through the proxy, each awaited in turn: raw pipe per call vs standalone redpipe call"),
                &times[0],
                &times[2],
                Goal::Context,
            ));
        }
        points
    }
}

async fn one_raw(conn: &mut MultiplexedConnection) -> Duration {
    let start = Instant::now();
    let n: i64 = redis::cmd("INCRBY")
        .arg("one:raw")
        .arg(1)
        .query_async(conn)
        .await
        .expect("INCRBY");
    assert!(n > 0);
    start.elapsed()
}

async fn one_ours() -> Duration {
    let start = Instant::now();
    let n = incr_one(None, "one:redpipe").await.expect("incr_one");
    assert!(n > 0);
    start.elapsed()
}

/// A minimal coalescer, for scale in the concurrent comparison: what coalescing alone
/// reaches over a `MultiplexedConnection`. A call queues its two INCR with a oneshot; the
/// call that finds no write in flight writes everything queued, hands each call its
/// replies, and repeats until the queue is empty. Nothing else redpipe does (deferreds,
/// combine steps, scopes, errors per command, cancellation) is there.
struct Minimal {
    conn: MultiplexedConnection,
    queue: std::sync::Mutex<(bool, Vec<Queued>)>,
}

/// A call's commands and where its replies go.
type Queued = (
    redis::Cmd,
    redis::Cmd,
    tokio::sync::oneshot::Sender<(i64, i64)>,
);

impl Minimal {
    fn new(conn: MultiplexedConnection) -> Self {
        Minimal {
            conn,
            queue: std::sync::Mutex::new((false, Vec::new())),
        }
    }

    /// INCR `a` and `b`, the sum of the new values.
    async fn incr_pair(&self, a: &str, b: &str) -> i64 {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let writing = {
            let mut queue = self.queue.lock().expect("queue");
            queue
                .1
                .push((redis::Cmd::incr(a, 1), redis::Cmd::incr(b, 1), tx));
            std::mem::replace(&mut queue.0, true)
        };
        if !writing {
            self.write_all().await;
        }
        let (a, b) = rx.await.expect("answered");
        a + b
    }

    /// Writes what is queued, in rounds, until the queue is empty.
    async fn write_all(&self) {
        let mut conn = self.conn.clone();
        loop {
            let calls = {
                let mut queue = self.queue.lock().expect("queue");
                if queue.1.is_empty() {
                    queue.0 = false;
                    return;
                }
                std::mem::take(&mut queue.1)
            };
            let mut pipe = redis::Pipeline::with_capacity(2 * calls.len());
            let mut answers = Vec::with_capacity(calls.len());
            for (a, b, tx) in calls {
                pipe.add_command(a).add_command(b);
                answers.push(tx);
            }
            let replies = conn
                .send_packed_commands(&pipe, 0, pipe.len())
                .await
                .expect("coalesced write");
            let int = |reply: &redis::Value| match reply {
                redis::Value::Int(n) => *n,
                other => panic!("INCR replied {other:?}"),
            };
            for (pair, tx) in replies.chunks(2).zip(answers) {
                let _ = tx.send((int(&pair[0]), int(&pair[1])));
            }
        }
    }
}

/// `redis-benchmark -P 1000` against the same server: the server's ceiling in commands/s.
fn server_ceiling(server: &RedisServer) -> Option<f64> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
        .args(["-P", "1000", "-n", "1000000", "-t", "incr", "-q"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    // "INCR: 1234567.00 requests per second, p50=..." (after carriage-return progress lines)
    let line = text.rsplit('\r').next()?.trim();
    let rps = line.split_once(':')?.1.split_whitespace().next()?;
    rps.parse().ok()
}

/// One point of the round-trip plot: the number of calls and the median wall time of
/// each variant, in the order of [`SERIES`].
struct Point {
    calls: usize,
    medians: [Duration; 4],
}

/// The variants of the round-trip comparison: label and colour of each line of the plot.
const SERIES: [(&str, &str); 4] = [
    ("redis-rs, raw pipe per call, awaited in turn", "#ff7f0e"),
    ("redis-rs, one raw pipe of all the INCR", "#2ca02c"),
    ("redpipe, each call awaited on its own", "#d62728"),
    ("redpipe, calls under one parent", "#1f77b4"),
];

/// The plot: wall time against number of calls, one line per variant of [`SERIES`].
fn svg(points: &[Point]) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 400.0, 70.0, 50.0, 40.0, 20.0);
    let max_calls = points.iter().map(|p| p.calls).max().unwrap_or(1) as f64;
    let max_ms = points
        .iter()
        .flat_map(|p| p.medians)
        .map(|d| d.as_secs_f64() * 1e3)
        .fold(1.0, f64::max);
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]
        .into_iter()
        .find(|s| max_ms / s <= 6.0)
        .unwrap_or(500.0);
    let y_max = (max_ms / step).ceil() * step;
    let x = |calls: f64| left + (w - left - right) * calls / max_calls;
    let y = |ms: f64| h - bottom - (h - bottom - top) * ms / y_max;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">Wall time vs calls of a 2-INCR function, proxy adds 1 ms each way</text>"#,
        w / 2.0
    );
    let mut tick = 0.0;
    while tick <= y_max + 1e-9 {
        let ty = y(tick);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{tick}</text>"##,
            w - right,
            left - 6.0,
            ty + 4.0
        );
        tick += step;
    }
    for point in points {
        let calls = point.calls;
        let tx = x(calls as f64);
        let _ = write!(
            s,
            r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{calls}</text>"#,
            h - bottom + 18.0
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#000"/><line x1="{left}" y1="{top}" x2="{left}" y2="{0:.1}" stroke="#000"/>"##,
        h - bottom,
        w - right
    );
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">pipelined function calls</text>"#,
        (w + left) / 2.0,
        h - 10.0
    );
    let _ = write!(
        s,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">wall time (ms)</text>"#,
        h / 2.0,
        h / 2.0
    );
    for (i, (label, color)) in SERIES.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    x(p.calls as f64),
                    y(p.medians[i].as_secs_f64() * 1e3)
                )
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for p in points {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                x(p.calls as f64),
                y(p.medians[i].as_secs_f64() * 1e3)
            );
        }
        let ly = top + 10.0 + 18.0 * i as f64;
        let _ = write!(
            s,
            r#"<line x1="{0:.1}" y1="{ly:.1}" x2="{1:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"/><text x="{2:.1}" y="{3:.1}">{label}</text>"#,
            left + 15.0,
            left + 40.0,
            left + 46.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`, as in
    // scripts/test.sh) this is a smoke run.
    let smoke = !args.iter().any(|a| a == "--bench");
    let quick = smoke || args.iter().any(|a| a == "--quick");
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    // `--only NAME` runs one comparison; `--workers N` sets the runtime's worker threads
    // (2 by default), to tell contention from CPU cost.
    let only = option("--only");
    let wants = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let workers = option("--workers")
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let server = RedisServer::start();
        let conn = server.multiplexed().await;
        let registry = Registry::new();
        registry
            .connect(Connection::multiplexed(conn.clone()))
            .expect("bind");
        let mut bench = Bench {
            rounds: if quick { 2 } else { 20 },
            sizes: if smoke {
                vec![10, 100, 1_000]
            } else {
                vec![10, 100, 1_000, 10_000, 100_000]
            },
            conn,
            registry,
            rows: Vec::new(),
            sweep: Vec::new(),
            memory: Vec::new(),
            notes: Vec::new(),
            raw_rate: None,
        };
        if wants("python") {
            eprintln!("python shape...");
            bench.python_shape(false).await;
            bench.python_shape(true).await;
        }
        if wants("nested") {
            eprintln!("nested 1000...");
            bench.nested_1000().await;
        }
        if wants("standalone") {
            eprintln!("standalone latency...");
            bench.standalone().await;
        }
        if wants("depth") {
            eprintln!("depth...");
            bench.depth().await;
        }
        if wants("concurrent") {
            for tasks in [16, 100, 1000] {
                eprintln!("{tasks} concurrent tasks...");
                bench.concurrent(tasks).await;
            }
        }
        let mut points = Vec::new();
        if wants("rtt") {
            eprintln!("round trips through the delay proxy...");
            points = bench.round_trips(&server).await;
        }
        if wants("sweep") {
            eprintln!("size sweep...");
            bench.sweep().await;
        }
        if let Some(raw_rate) = bench.raw_rate {
            match server_ceiling(&server) {
                Some(rps) => bench.notes.push(format!(
                    "Server ceiling, `redis-benchmark -P 1000 -t incr -n 1000000` (50 clients) on the same server: {rps:.0} commands/s; the raw 1,000-command pipe above reaches {:.0}% of it from one connection.",
                    100.0 * raw_rate / rps
                )),
                None => bench
                    .notes
                    .push(String::from("redis-benchmark not found: no server ceiling measured.")),
            }
        }
        let mut report = String::new();
        if !bench.rows.is_empty() {
            report += &table(
                "Comparisons (ratio: median of the per-round ratios redis-rs time / redpipe time, above 1 means redpipe is faster; min–max over rounds in brackets):",
                "ratio",
                &bench.rows,
            );
            report.push('\n');
        }
        for note in &bench.notes {
            let _ = writeln!(report, "- {note}");
        }
        if !bench.notes.is_empty() {
            report.push('\n');
        }
        if !bench.sweep.is_empty() {
            report += &table(
                "Size sweep, time (ratio: median of the per-round ratios redis-rs time / redpipe time):",
                "ratio",
                &bench.sweep,
            );
            report.push('\n');
            report += &table(
                "Size sweep, peak heap bytes of one run (ratio: median of the per-round ratios redpipe / redis-rs, below 1 means redpipe uses less):",
                "peak ratio",
                &bench.memory,
            );
            report.push('\n');
        }
        if !points.is_empty() {
            let mut plot = String::from("Through the delay proxy (median wall time):\n\n| calls |");
            for (label, _) in SERIES {
                let _ = write!(plot, " {label} |");
            }
            plot.push_str("\n| --- | --- | --- | --- | --- |\n");
            for point in &points {
                let _ = write!(plot, "| {} |", point.calls);
                for d in point.medians {
                    let _ = write!(plot, " {:.2} ms |", d.as_secs_f64() * 1e3);
                }
                plot.push('\n');
            }
            report += &plot;
        }
        println!("{report}");
        if let (Some(dir), None) = (std::env::var_os("REDPIPE_BENCH_OUT"), &only) {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("output directory");
            std::fs::write(dir.join("ratios.md"), &report).expect("write ratios.md");
            std::fs::write(dir.join("rtt.svg"), svg(&points)).expect("write rtt.svg");
        }
    });
}
