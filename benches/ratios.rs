//! redpipe against raw redis-rs, every figure a ratio measured in this run, against one
//! `redis-server` this benchmark starts itself. See BENCHMARKS.md.
//!
//! The variants of each comparison run in interleaved rounds (A B, then B A, ...), so load
//! from other processes on a shared machine hits both sides alike; each figure is the
//! median over rounds. Prints a Markdown table; with `REDPIPE_BENCH_OUT=dir` it also writes
//! `dir/ratios.md` and the round-trip plot `dir/rtt.svg`.
//!
//! `cargo bench --bench ratios` (add `-- --quick` for a fast smoke run; `-- --only
//! concurrent --workers 1` for the concurrency comparison on one worker thread).

mod workloads;

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redpipe::{Connection, Registry};
use redpipe_dev::{Counting, DelayProxy, RedisServer};

use workloads::{incr_one, incr_sum, nest, raw_incr_all, raw_incr_pair, set_get};

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
/// returns each variant's times.
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

fn median(times: &[Duration]) -> Duration {
    percentile(times, 50.0)
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

/// One line of the result table.
struct Row {
    name: String,
    redis_rs: String,
    redpipe: String,
    ratio: String,
    goal: String,
}

impl Row {
    fn new(name: &str, redis_rs: String, redpipe: String, ratio: String, goal: &str) -> Self {
        Row {
            name: name.to_owned(),
            redis_rs,
            redpipe,
            ratio,
            goal: goal.to_owned(),
        }
    }
}

/// A throughput row: same work on both sides, ratio = redis-rs time / redpipe time
/// (above 1: redpipe is faster).
fn throughput(name: &str, redis_rs: Duration, redpipe: Duration, goal: Option<f64>) -> Row {
    let ratio = redis_rs.as_secs_f64() / redpipe.as_secs_f64();
    let goal = match goal {
        Some(min) => format!(
            "≥ {min:.2}x: {}",
            if ratio >= min { "met" } else { "missed" }
        ),
        None => String::from("(context)"),
    };
    Row::new(
        name,
        format!("{:.0} µs", us(redis_rs)),
        format!("{:.0} µs", us(redpipe)),
        format!("{ratio:.3}x"),
        &goal,
    )
}

struct Bench {
    rounds: usize,
    conn: MultiplexedConnection,
    registry: Registry,
    rows: Vec<Row>,
    notes: Vec<String>,
    /// Commands/s of the raw 1,000-command pipe, to compare with the server's ceiling.
    raw_rate: f64,
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
        let (plain, raw, ours) = (median(&times[0]), median(&times[1]), median(&times[2]));
        let mode = if transaction {
            "MULTI/EXEC"
        } else {
            "no transaction"
        };
        self.rows.push(throughput(
            &format!("Python shape, 100 chunks x 10 SET+GET, {mode}: raw pipe per chunk vs redpipe per chunk"),
            raw,
            ours,
            None,
        ));
        self.rows.push(throughput(
            &format!("Python shape, {mode}: 2,000 plain calls vs redpipe per chunk"),
            plain,
            ours,
            None,
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
        let (raw, ours) = (median(&times[0]), median(&times[1]));
        self.raw_rate = 1000.0 / raw.as_secs_f64();
        self.notes.push(format!(
            "1,000 INCR in one raw pipe: {:.0} commands/s on one connection, one batch at a time; through redpipe: {:.0} commands/s.",
            self.raw_rate,
            1000.0 / ours.as_secs_f64()
        ));
        self.rows.push(throughput(
            "1,000 INCR: 100 nested pipelined calls of 10 vs one raw `redis::pipe()`",
            raw,
            ours,
            Some(0.95),
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
        let raw = median(&times[0]);
        let d1 = median(&times[1]);
        for (i, depth) in [(1, 1), (2, 5), (3, 50)] {
            let row = throughput(
                &format!("100 INCR at nesting depth {depth} vs one raw pipe"),
                raw,
                median(&times[i]),
                None,
            );
            self.rows.push(row);
        }
        // SPEC 5's first goal, checked here too: one batch per execute at every depth.
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
            "Depth 50 against depth 1 (same 100 INCR): {:.3}x the time. Batches sent for one execute at depth 1, 5 and 50: {} in all (one each).",
            median(&times[3]).as_secs_f64() / d1.as_secs_f64(),
            counting.batches()
        ));
    }

    /// A standalone one-command pipelined call against a raw `query_async`, p50 and p99.
    async fn standalone(&mut self) {
        let samples = self.rounds * 500;
        let mut conn = self.conn.clone();
        let mut raw = Vec::with_capacity(samples);
        let mut ours = Vec::with_capacity(samples);
        let registry = self.registry.clone();
        registry
            .scope(async {
                for i in 0..samples + 200 {
                    let raw_first = i % 2 == 0;
                    let (a, b) = if raw_first {
                        let a = one_raw(&mut conn).await;
                        (a, one_ours().await)
                    } else {
                        let b = one_ours().await;
                        (one_raw(&mut conn).await, b)
                    };
                    if i >= 200 {
                        raw.push(a);
                        ours.push(b);
                    }
                }
            })
            .await;
        for (p, goal) in [(50.0, "≤ +5 µs"), (99.0, "")] {
            let (a, b) = (percentile(&raw, p), percentile(&ours, p));
            let diff = us(b) - us(a);
            let goal = if goal.is_empty() {
                String::from("(context)")
            } else {
                format!("{goal}: {}", if diff <= 5.0 { "met" } else { "missed" })
            };
            self.rows.push(Row::new(
                &format!("standalone one-command call vs raw `query_async`, p{p:.0}"),
                format!("{:.1} µs", us(a)),
                format!("{:.1} µs", us(b)),
                format!("{diff:+.1} µs"),
                &goal,
            ));
        }
    }
}

async fn one_raw(conn: &mut MultiplexedConnection) -> Duration {
    let start = Instant::now();
    let n: i64 = redis::cmd("INCR")
        .arg("one:raw")
        .query_async(conn)
        .await
        .expect("INCR");
    assert!(n > 0);
    start.elapsed()
}

async fn one_ours() -> Duration {
    let start = Instant::now();
    let n = incr_one(None, "one:redpipe").await.expect("incr_one");
    assert!(n > 0);
    start.elapsed()
}

impl Bench {
    /// N concurrent tasks each running a small pipelined function (2 INCR and a sum)
    /// against the same 2 INCR as a raw pipe per task, all on one `MultiplexedConnection`
    /// (redis-rs's implicit multiplexing).
    async fn concurrent(&mut self, tasks: usize) {
        let keys: Arc<Vec<String>> = Arc::new(keys("conc", 2 * tasks));
        let (conn, keys_ref) = (&self.conn, &keys);
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
                    // Standalone calls resolve the global registry's default connection.
                    tokio::spawn(async move {
                        incr_sum(None, &keys[2 * t..2 * t + 2]).await.expect("call")
                    })
                })
                .collect();
            for handle in handles {
                assert!(handle.await.expect("task") > 0);
            }
        });
        let times = measure(self.rounds * 2, &mut [raw, ours]).await;
        self.rows.push(throughput(
            &format!("{tasks} concurrent tasks x (2 INCR + sum): redis-rs multiplexing vs redpipe"),
            median(&times[0]),
            median(&times[1]),
            Some(1.0),
        ));
    }

    /// Round-trip hiding through a proxy that adds 1 ms each way: `calls` pipelined
    /// functions under one parent against the same calls each awaited on its own.
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
            .connect(Connection::multiplexed(conn))
            .expect("bind");
        let keys = keys("rtt", 200);
        let mut points = Vec::new();
        for calls in [1usize, 10, 50, 100] {
            let (keys, registry) = (&keys, &registry);
            let pipelined = run(move || async move {
                let root = registry.pipeline();
                let sums: Vec<_> = (0..calls)
                    .map(|i| incr_sum(&root, &keys[2 * i..2 * i + 2]))
                    .collect();
                root.execute().await.expect("execute");
                assert_eq!(sums.len(), calls);
            });
            let unpipelined = run(move || async move {
                registry
                    .scope(async {
                        for i in 0..calls {
                            incr_sum(None, &keys[2 * i..2 * i + 2]).await.expect("call");
                        }
                    })
                    .await
            });
            let times = measure(self.rounds.min(5), &mut [pipelined, unpipelined]).await;
            points.push((calls, median(&times[0]), median(&times[1])));
        }
        if let Some(&(calls, pipelined, unpipelined)) = points.last() {
            self.rows.push(Row::new(
                &format!("{calls} calls, proxy +1 ms each way: unpipelined vs under one parent"),
                format!("{:.1} ms", unpipelined.as_secs_f64() * 1e3),
                format!("{:.1} ms", pipelined.as_secs_f64() * 1e3),
                format!(
                    "{:.1}x faster",
                    unpipelined.as_secs_f64() / pipelined.as_secs_f64()
                ),
                "(≈ 1 round trip vs ≈ 100)",
            ));
        }
        points
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

/// Calls, pipelined wall time, unpipelined wall time.
type Point = (usize, Duration, Duration);

/// A line of the plot: label, colour, which time of a point it shows.
type Series = (&'static str, &'static str, fn(&Point) -> Duration);

/// The plot: wall time against number of calls, pipelined and unpipelined.
fn svg(points: &[Point]) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 400.0, 70.0, 50.0, 40.0, 20.0);
    let max_calls = points.iter().map(|p| p.0).max().unwrap_or(1) as f64;
    let max_ms = points
        .iter()
        .map(|p| p.2.as_secs_f64().max(p.1.as_secs_f64()) * 1e3)
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
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">Wall time vs calls, proxy adds 1 ms each way</text>"#,
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
    for &(calls, _, _) in points {
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
    let series: [Series; 2] = [
        ("unpipelined (each call awaited)", "#d62728", |p| p.2),
        ("pipelined (one parent)", "#1f77b4", |p| p.1),
    ];
    for (i, (label, color, pick)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.0 as f64), y(pick(p).as_secs_f64() * 1e3)))
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
                x(p.0 as f64),
                y(pick(p).as_secs_f64() * 1e3)
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

fn table(rows: &[Row], notes: &[String]) -> String {
    let mut out = String::from(
        "| benchmark | redis-rs | redpipe | ratio | SPEC 5 goal |\n| --- | --- | --- | --- | --- |\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            r.name, r.redis_rs, r.redpipe, r.ratio, r.goal
        );
    }
    out.push('\n');
    for note in notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; without it (`cargo test --all-targets`, as in
    // scripts/test.sh) this is a smoke run.
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    // `--only concurrent` runs only the concurrency comparison; `--workers N` sets the
    // runtime's worker threads (2 by default), to tell contention from CPU cost.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let workers = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|i| args.get(i + 1)?.parse().ok())
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
        let connection = Connection::multiplexed(conn.clone());
        registry.connect(connection.clone()).expect("bind");
        // Standalone calls in spawned tasks use the global registry.
        redpipe::Registry::global()
            .connect(connection)
            .expect("bind global");
        let mut bench = Bench {
            rounds: if quick { 2 } else { 20 },
            conn,
            registry,
            rows: Vec::new(),
            notes: Vec::new(),
            raw_rate: 0.0,
        };
        if only.as_deref() == Some("concurrent") {
            for tasks in [16, 100, 1000] {
                bench.concurrent(tasks).await;
            }
            println!("{}", table(&bench.rows, &bench.notes));
            return;
        }
        eprintln!("python shape...");
        bench.python_shape(false).await;
        bench.python_shape(true).await;
        eprintln!("nested 1000...");
        bench.nested_1000().await;
        eprintln!("standalone latency...");
        bench.standalone().await;
        eprintln!("depth...");
        bench.depth().await;
        for tasks in [16, 100, 1000] {
            eprintln!("{tasks} concurrent tasks...");
            bench.concurrent(tasks).await;
        }
        eprintln!("round trips through the delay proxy...");
        let points = bench.round_trips(&server).await;
        match server_ceiling(&server) {
            Some(rps) => bench.notes.push(format!(
                "Server ceiling, `redis-benchmark -P 1000 -t incr -n 1000000` (50 clients) on the same server: {rps:.0} commands/s; the raw 1,000-command pipe above reaches {:.0}% of it from one connection.",
                100.0 * bench.raw_rate / rps
            )),
            None => bench
                .notes
                .push(String::from("redis-benchmark not found: no server ceiling measured.")),
        }
        let mut plot = String::from("| calls | pipelined | unpipelined |\n| --- | --- | --- |\n");
        for (calls, p, u) in &points {
            let _ = writeln!(
                plot,
                "| {calls} | {:.2} ms | {:.2} ms |",
                p.as_secs_f64() * 1e3,
                u.as_secs_f64() * 1e3
            );
        }
        let report = format!("{}\n{plot}", table(&bench.rows, &bench.notes));
        println!("{report}");
        if let Some(dir) = std::env::var_os("REDPIPE_BENCH_OUT") {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir).expect("output directory");
            std::fs::write(dir.join("ratios.md"), &report).expect("write ratios.md");
            std::fs::write(dir.join("rtt.svg"), svg(&points)).expect("write rtt.svg");
        }
    });
}
