//! The blocking API against the wire's floor, on the Python library's benchmark shape,
//! and a standalone one-command blocking call against raw redis-rs `query`.
//!
//! - **Python shape**: 100 sequential chunks of 10 SET + 10 GET of a 16-byte value. The
//!   floor is a blocking `TcpStream` writing each chunk pre-encoded and reading exactly its
//!   replies' bytes; redpipe runs one standalone `set_get(None, ..).wait()` per chunk on a
//!   blocking connection; raw redis-rs runs one sync `redis::pipe()` per chunk; Python
//!   RedPipe (when `python3 -c "import redpipe"` works) runs the same shape through
//!   `benches/python_shape.py`, for context.
//! - **Standalone one command**: `incr_one(None, key).wait()` against
//!   `redis::cmd("INCRBY").query` on a sync connection, alternating, p50 and p99.
//!
//! - **Experiment: an async connection driven by the executing task itself.** The same
//!   Python shape through the async API, once over redis-rs's `MultiplexedConnection`
//!   (a driver task and channels between the caller and the socket) and once over
//!   [`SelfDriven`], a bench-only backend whose `send` writes the batch and reads the
//!   replies on the calling task, against the same floor.
//!
//! Variants run in interleaved rounds against one server; every ratio is the median of
//! per-round ratios, with the min-max over rounds. `cargo bench --bench blocking` prints a
//! Markdown table (`REDPIPE_BENCH_OUT=dir` also writes `dir/blocking.md`); without
//! `--bench` (a smoke run under `cargo test --all-targets`) it runs a few rounds.

mod workloads;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use redpipe::{Backend, Batch, BoxFuture, Connection, Registry, Replies};
use redpipe_dev::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use workloads::{incr_one, set_get};

const CHUNKS: usize = 100;
const PER_CHUNK: usize = 10;
const VALUE: &[u8] = b"0123456789abcdef";

/// Median and min-max of per-round ratios.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

fn spread(mut ratios: Vec<f64>) -> Spread {
    ratios.sort_by(f64::total_cmp);
    Spread {
        median: ratios[ratios.len() / 2],
        min: ratios[0],
        max: ratios[ratios.len() - 1],
    }
}

fn chunk_keys(chunk: usize) -> Vec<String> {
    (0..PER_CHUNK).map(|i| format!("py:{chunk}:{i}")).collect()
}

/// The floor: each chunk pre-encoded once, written on a blocking socket, and exactly its
/// replies' bytes read back (`+OK` per SET, a 16-byte bulk string per GET).
struct Floor {
    socket: TcpStream,
    chunks: Vec<Vec<u8>>,
    reply: Vec<u8>,
}

impl Floor {
    fn new(server: &RedisServer) -> Self {
        let socket = TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
        socket.set_nodelay(true).expect("nodelay");
        let chunks = (0..CHUNKS)
            .map(|c| {
                let mut pipe = redis::pipe();
                for key in chunk_keys(c) {
                    pipe.set(&key, VALUE).get(&key);
                }
                pipe.get_packed_pipeline()
            })
            .collect();
        let reply_len = PER_CHUNK * (5 + 5 + VALUE.len() + 2);
        Floor {
            socket,
            chunks,
            reply: vec![0; reply_len],
        }
    }

    fn run(&mut self) {
        for chunk in &self.chunks {
            self.socket.write_all(chunk).expect("write");
            self.socket.read_exact(&mut self.reply).expect("read");
        }
    }
}

fn redpipe_shape(keys: &[Vec<String>]) {
    for chunk in keys {
        let n = set_get(None, chunk, VALUE).wait().expect("set_get");
        assert_eq!(n, PER_CHUNK * VALUE.len());
    }
}

fn redis_rs_shape(conn: &mut redis::Connection, keys: &[Vec<String>]) {
    for chunk in keys {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.set(key, VALUE).ignore().get(key);
        }
        let values: Vec<Vec<u8>> = pipe.query(conn).expect("pipe");
        assert_eq!(values.len(), PER_CHUNK);
    }
}

/// Bench-only: one socket, locked per batch; the executing task writes the batch and reads
/// its replies itself (no driver task, no channel).
struct SelfDriven {
    socket: tokio::sync::Mutex<(tokio::net::TcpStream, Vec<u8>)>,
}

impl Backend for SelfDriven {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            let mut guard = self.socket.lock().await;
            let (socket, buf) = &mut *guard;
            let fail = |e: std::io::Error| Replies::Failed(redis::RedisError::from(e));
            if let Err(e) = socket.write_all(&batch.packed()).await {
                return fail(e);
            }
            buf.clear();
            let mut chunk = [0u8; 16 * 1024];
            while values_end(buf, batch.len()).is_none() {
                match socket.read(&mut chunk).await {
                    Ok(0) => return fail(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => return fail(e),
                }
            }
            let mut parser = redis::Parser::new();
            let mut reader = &buf[..];
            let values: Result<Vec<_>, _> = (0..batch.len())
                .map(|_| parser.parse_value(&mut reader))
                .collect();
            Replies::from(values)
        })
    }
}

/// Where `count` complete RESP2 values end in `buf`, if they are all there.
fn values_end(buf: &[u8], count: usize) -> Option<usize> {
    let mut at = 0;
    for _ in 0..count {
        at = value_end(buf, at)?;
    }
    Some(at)
}

fn value_end(buf: &[u8], at: usize) -> Option<usize> {
    let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(buf.get(at + 1..line_end)?).ok()?;
    let next = line_end + 2;
    match buf.get(at)? {
        b'$' => match header.parse::<i64>().ok()? {
            n if n < 0 => Some(next),
            n => (buf.len() >= next + n as usize + 2).then_some(next + n as usize + 2),
        },
        b'*' => {
            let n = header.parse::<i64>().ok()?;
            (0..n.max(0)).try_fold(next, |pos, _| value_end(buf, pos))
        }
        _ => Some(next),
    }
}

async fn async_shape(registry: &Registry, keys: &[Vec<String>]) {
    for chunk in keys {
        let n = registry
            .scope(async { set_get(None, chunk, VALUE).await })
            .await
            .expect("set_get");
        assert_eq!(n, PER_CHUNK * VALUE.len());
    }
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Python RedPipe on the same shape, in seconds per run, when it is installed.
fn python_seconds(server: &RedisServer, runs: usize) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_shape.py");
    let output = Command::new("python3")
        .args([script, &server.port().to_string(), &runs.to_string()])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (rounds, samples) = if full { (30, 10_000) } else { (3, 200) };
    let server = RedisServer::start();
    redpipe::connect(Connection::open_blocking(&server.url()).expect("blocking connection"))
        .expect("bind");
    let keys: Vec<Vec<String>> = (0..CHUNKS).map(chunk_keys).collect();
    let mut floor = Floor::new(&server);
    let mut sync = server.sync();

    // Warm-up, then interleaved rounds (the order alternates).
    floor.run();
    redpipe_shape(&keys);
    redis_rs_shape(&mut sync, &keys);
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    let mut floor_times = Vec::new();
    for round in 0..rounds {
        let (f, r, s) = if round % 2 == 0 {
            let f = timed(|| floor.run());
            let r = timed(|| redpipe_shape(&keys));
            let s = timed(|| redis_rs_shape(&mut sync, &keys));
            (f, r, s)
        } else {
            let s = timed(|| redis_rs_shape(&mut sync, &keys));
            let r = timed(|| redpipe_shape(&keys));
            let f = timed(|| floor.run());
            (f, r, s)
        };
        ours.push(r.as_secs_f64() / f.as_secs_f64());
        raw.push(s.as_secs_f64() / f.as_secs_f64());
        floor_times.push(f);
    }
    floor_times.sort();
    let floor_median = floor_times[floor_times.len() / 2];
    let python = python_seconds(&server, if full { 10 } else { 1 });

    // Standalone one command, alternating samples.
    let (mut redpipe_lat, mut raw_lat) = (Vec::new(), Vec::new());
    for i in 0..samples {
        let key = format!("lat:{}", i % 100);
        let one = || {
            timed(|| {
                incr_one(None, &key).wait().expect("incr");
            })
        };
        let mut two = || {
            timed(|| {
                let _: i64 = redis::cmd("INCRBY")
                    .arg(&key)
                    .arg(1)
                    .query(&mut sync)
                    .expect("incrby");
            })
        };
        if i % 2 == 0 {
            redpipe_lat.push(one());
            raw_lat.push(two());
        } else {
            raw_lat.push(two());
            redpipe_lat.push(one());
        }
    }
    redpipe_lat.sort();
    raw_lat.sort();

    // The experiment: the async path over a multiplexed connection and over a connection
    // driven by the executing task, each against the floor, interleaved.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (multiplexed, driven) = runtime.block_on(async {
        let multiplexed = Registry::new();
        multiplexed
            .connect(server.connection().await)
            .expect("bind");
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let driven = Registry::new();
        driven
            .connect(Connection::new(SelfDriven {
                socket: tokio::sync::Mutex::new((stream, Vec::new())),
            }))
            .expect("bind");
        (multiplexed, driven)
    });
    let (mut via_multiplexed, mut via_driven) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let f = timed(|| floor.run());
        let (m, d) = if round % 2 == 0 {
            let m = timed(|| runtime.block_on(async_shape(&multiplexed, &keys)));
            let d = timed(|| runtime.block_on(async_shape(&driven, &keys)));
            (m, d)
        } else {
            let d = timed(|| runtime.block_on(async_shape(&driven, &keys)));
            let m = timed(|| runtime.block_on(async_shape(&multiplexed, &keys)));
            (m, d)
        };
        if round > 0 {
            via_multiplexed.push(m.as_secs_f64() / f.as_secs_f64());
            via_driven.push(d.as_secs_f64() / f.as_secs_f64());
        }
    }
    let via_multiplexed = spread(via_multiplexed);
    let via_driven = spread(via_driven);

    let ours = spread(ours);
    let raw = spread(raw);
    let per_chunk = micros(floor_median) / CHUNKS as f64;
    let mut out = String::new();
    out.push_str(&format!(
        "Python shape ({CHUNKS} chunks of {PER_CHUNK} SET + {PER_CHUNK} GET, 16-byte values), \
         {rounds} interleaved rounds; floor: {per_chunk:.1} us per chunk (median)\n\n"
    ));
    out.push_str("| variant | time / floor, median (min-max) | goal | met |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    out.push_str(&format!(
        "| redpipe blocking, one standalone `set_get(None, ..).wait()` per chunk | {:.2}x ({:.2}-{:.2}) | <= 1.5x | {} |\n",
        ours.median,
        ours.min,
        ours.max,
        if ours.median <= 1.5 { "met" } else { "missed" }
    ));
    out.push_str(&format!(
        "| raw redis-rs sync, one `redis::pipe()` per chunk | {:.2}x ({:.2}-{:.2}) | | |\n",
        raw.median, raw.min, raw.max
    ));
    match python {
        Some(seconds) => out.push_str(&format!(
            "| Python RedPipe, one `redpipe.autoexec()` per chunk (context: median of its own runs, not paired) | {:.1}x | | |\n",
            seconds / floor_median.as_secs_f64()
        )),
        None => out.push_str(
            "| Python RedPipe | not installed (`pip install redpipe redis`) | | |\n",
        ),
    }
    for (name, ratio) in [
        (
            "redpipe async over `MultiplexedConnection` (driver task), `set_get(None, ..).await`",
            &via_multiplexed,
        ),
        (
            "redpipe async over a connection driven by the executing task (experiment, bench-only)",
            &via_driven,
        ),
    ] {
        out.push_str(&format!(
            "| {name} | {:.2}x ({:.2}-{:.2}) | | |\n",
            ratio.median, ratio.min, ratio.max
        ));
    }
    let (p50, p99) = (
        micros(percentile(&redpipe_lat, 0.5)) - micros(percentile(&raw_lat, 0.5)),
        micros(percentile(&redpipe_lat, 0.99)) - micros(percentile(&raw_lat, 0.99)),
    );
    out.push_str(&format!(
        "\nStandalone one-command blocking call, {samples} alternating samples each: \
         redis-rs sync `query` p50 {:.1} us / p99 {:.1} us; redpipe `incr_one(None, key).wait()` \
         p50 {:+.1} us / p99 {:+.1} us against it.\n",
        micros(percentile(&raw_lat, 0.5)),
        micros(percentile(&raw_lat, 0.99)),
        p50,
        p99
    ));
    print!("{out}");
    if let Ok(dir) = std::env::var("REDPIPE_BENCH_OUT") {
        let path = std::path::Path::new(&dir).join("blocking.md");
        std::fs::write(&path, &out).expect("write blocking.md");
    }
}
