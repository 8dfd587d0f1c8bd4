//! The no-I/O path: what redpipe costs in CPU and heap allocations per command, against
//! redis-rs's own build + encode + decode of the same commands. No server: redpipe runs on
//! a backend that encodes each batch (as the real connection does) and replays canned
//! replies. See BENCHMARKS.md and `scripts/bench-cpu.sh`.
//!
//! - `cpu` (what `cargo bench --bench cpu` runs): allocations per command of each variant,
//!   counted by the global allocator of `redpipe_dev::allocator`.
//! - `cpu run VARIANT ITERATIONS`: runs one variant, its measured loop in a function named
//!   `measured_VARIANT`, for `valgrind --tool=callgrind --toggle-collect=*measured_VARIANT*`
//!   (so set-up and warm-up are not counted). Variants: `redis_rs`, `redpipe_root`,
//!   `redpipe_nested` (one batch of 100 commands), `redis_rs_small`, `redpipe_small` (50
//!   requests of 2 commands).
//! - `cpu footprint`: prints the address of a marker, then makes single calls, each
//!   preceded by a store to the marker, for `valgrind --tool=lackey --trace-mem=yes`: the
//!   cache lines of code and data one call touches (see [`footprint`]).
//! - `cpu cold`: the median time of each of those calls made with the caches cold (see
//!   [`cold`]).

mod workloads;

use std::future::{Future, IntoFuture};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use redis::{Cmd, FromRedisValue, Value};
use redpipe::{Backend, Batch, BoxFuture, Connection, Deferred, Registry, Replies};
use redpipe_dev::allocator::{self, CountingAllocator};

use workloads::{incr_one, incr_sum, mix, mixed};

/// Commands per batch (per iteration of every variant).
const COMMANDS: usize = 100;

/// Goal: heap allocations per queued command beyond redis-rs's, for a root batch and for
/// nested functions.
const ALLOCATIONS_GOAL: f64 = 0.25;

/// Keys of the small standalone calls, whose replay replies are all integers.
static SMALL_KEYS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| (0..COMMANDS).map(|i| format!("bench:small:{i}")).collect());

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A backend that encodes the batch as a real connection would, then answers with canned
/// replies (one per command, already built), as a real connection's parser would.
struct Replay {
    replies: Vec<Value>,
}

impl Backend for Replay {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        black_box(batch.packed());
        let replies = self.replies[..batch.len()].to_vec();
        Box::pin(std::future::ready(Replies::Values(replies)))
    }
}

/// Polls a future that never waits (the replay backend is always ready) to completion.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the replay backend never waits"),
    }
}

struct Fixture {
    keys: Vec<String>,
    value: Vec<u8>,
    replies: Vec<Value>,
    registry: Registry,
}

impl Fixture {
    fn new() -> Self {
        let keys: Vec<String> = (0..COMMANDS).map(|i| format!("bench:key:{i}")).collect();
        let value = b"0123456789abcdef".to_vec();
        let replies: Vec<Value> = (0..COMMANDS)
            .map(|i| match mix(i) {
                0 => Value::Okay,
                1 => Value::BulkString(value.clone()),
                _ => Value::Int(i as i64),
            })
            .collect();
        let registry = Registry::new();
        let replay = Replay {
            replies: replies.clone(),
        };
        registry
            .connect(Connection::new(replay))
            .expect("bind the replay backend");
        // Standalone calls (no parent) use the global registry's default connection: the
        // small calls, all INCR.
        let integers = Replay {
            replies: (1..=COMMANDS as i64).map(Value::Int).collect(),
        };
        Registry::global()
            .connect(Connection::new(integers))
            .expect("bind the replay backend globally");
        Fixture {
            keys,
            value,
            replies,
            registry,
        }
    }
}

/// redis-rs alone: build the `Cmd`s into a pipeline, encode it, decode each reply.
#[inline(never)]
fn redis_rs_once(f: &Fixture) -> i64 {
    let mut pipe = redis::Pipeline::with_capacity(COMMANDS);
    for (i, key) in f.keys.iter().enumerate() {
        pipe.add_command(match mix(i) {
            0 => Cmd::set(key, &f.value[..]),
            1 => Cmd::get(key),
            _ => Cmd::incr(key, 1),
        });
    }
    black_box(pipe.get_packed_pipeline());
    let mut total = 0;
    for (i, reply) in f.replies.clone().into_iter().enumerate() {
        match mix(i) {
            0 => <()>::from_redis_value(reply).expect("SET reply"),
            1 => total += Vec::<u8>::from_redis_value(reply).expect("GET reply").len() as i64,
            _ => total += i64::from_redis_value(reply).expect("INCR reply"),
        }
    }
    total
}

/// redpipe, commands queued on a root: build, encode, decode, fill, read.
#[inline(never)]
fn redpipe_root_once(f: &Fixture) -> i64 {
    let root = f.registry.pipeline();
    let mut sets: Vec<Deferred<()>> = Vec::with_capacity(COMMANDS);
    let mut reads: Vec<Deferred<Vec<u8>>> = Vec::with_capacity(COMMANDS);
    let mut counts: Vec<Deferred<i64>> = Vec::with_capacity(COMMANDS);
    for (i, key) in f.keys.iter().enumerate() {
        match mix(i) {
            0 => sets.push(root.set(key, &f.value[..])),
            1 => reads.push(root.get(key)),
            _ => counts.push(root.incr(key, 1)),
        }
    }
    ready(root.execute()).expect("execute");
    black_box(&sets);
    reads.iter().map(|r| r.len() as i64).sum::<i64>() + counts.iter().map(|c| **c).sum::<i64>()
}

/// redpipe, the same commands queued by 10 nested pipelined functions of 10 commands.
#[inline(never)]
fn redpipe_nested_once(f: &Fixture) -> i64 {
    let root = f.registry.pipeline();
    let sums: Vec<Deferred<i64>> = f
        .keys
        .chunks(10)
        .map(|chunk| mixed(&root, chunk, &f.value))
        .collect();
    ready(root.execute()).expect("execute");
    sums.iter().map(|s| **s).sum()
}

/// redis-rs alone, small requests: 50 pipes of 2 INCR (as many commands as one batch of
/// the other variants), each built, encoded and decoded.
#[inline(never)]
fn redis_rs_small_once(f: &Fixture) -> i64 {
    redis_rs_pairs(&f.keys)
}

/// One redis-rs pipe of 2 INCR per pair of `keys`, each built, encoded and decoded; the
/// sum of the replies. (Inlined, so the measured loop is the one written here.)
#[inline(always)]
fn redis_rs_pairs(keys: &[String]) -> i64 {
    let mut total = 0;
    for pair in keys.chunks(2) {
        let mut pipe = redis::Pipeline::with_capacity(2);
        pipe.add_command(Cmd::incr(&pair[0], 1))
            .add_command(Cmd::incr(&pair[1], 1));
        black_box(pipe.get_packed_pipeline());
        let replies = vec![Value::Int(1), Value::Int(2)];
        let (a, b): (i64, i64) =
            FromRedisValue::from_redis_value(Value::Array(replies)).expect("INCR replies");
        total += a + b;
    }
    total
}

/// redpipe, small requests: 50 standalone calls of a pipelined function of 2 INCR and a
/// sum, each awaited (its own root and execute), as a request handler would.
#[inline(never)]
fn redpipe_small_once(_: &Fixture) -> i64 {
    let mut total = 0;
    for pair in SMALL_KEYS.chunks(2) {
        total += ready(incr_sum(None, pair).into_future()).expect("call");
    }
    total
}

#[inline(never)]
fn measured_redis_rs_small(f: &Fixture, iterations: usize) -> i64 {
    (0..iterations).map(|_| redis_rs_small_once(f)).sum()
}

#[inline(never)]
fn measured_redpipe_small(f: &Fixture, iterations: usize) -> i64 {
    (0..iterations).map(|_| redpipe_small_once(f)).sum()
}

#[inline(never)]
fn measured_redis_rs(f: &Fixture, iterations: usize) -> i64 {
    (0..iterations).map(|_| redis_rs_once(f)).sum()
}

#[inline(never)]
fn measured_redpipe_root(f: &Fixture, iterations: usize) -> i64 {
    (0..iterations).map(|_| redpipe_root_once(f)).sum()
}

#[inline(never)]
fn measured_redpipe_nested(f: &Fixture, iterations: usize) -> i64 {
    (0..iterations).map(|_| redpipe_nested_once(f)).sum()
}

type Variant = (
    &'static str,
    fn(&Fixture) -> i64,
    fn(&Fixture, usize) -> i64,
);

const VARIANTS: [Variant; 5] = [
    ("redis_rs", redis_rs_once, measured_redis_rs),
    ("redpipe_root", redpipe_root_once, measured_redpipe_root),
    (
        "redpipe_nested",
        redpipe_nested_once,
        measured_redpipe_nested,
    ),
    (
        "redis_rs_small",
        redis_rs_small_once,
        measured_redis_rs_small,
    ),
    ("redpipe_small", redpipe_small_once, measured_redpipe_small),
];

/// One INCR request, as `redis::cmd("INCRBY").arg(key).arg(1).query_async` makes it:
/// built, encoded, its reply decoded.
#[inline(never)]
fn redis_rs_one(_: &Fixture) -> i64 {
    let cmd = Cmd::incr(&SMALL_KEYS[0], 1);
    black_box(cmd.get_packed_command());
    i64::from_redis_value(Value::Int(1)).expect("INCR reply")
}

/// A standalone call of a pipelined function that queues one INCR and forwards its reply.
#[inline(never)]
fn redpipe_one(_: &Fixture) -> i64 {
    ready(incr_one(None, &SMALL_KEYS[0]).into_future()).expect("call")
}

/// A root pipeline of one INCR, executed, its reply read: a standalone call without the
/// pipelined function's own machinery (the owner its deferred awaits).
#[inline(never)]
fn redpipe_root_one(_: &Fixture) -> i64 {
    let pipe = redpipe::pipeline();
    let count: Deferred<i64> = pipe.incr(&SMALL_KEYS[0], 1);
    ready(pipe.execute()).expect("execute");
    *count
}

/// One pipe of 2 INCR, built, encoded and decoded (one request of `redis_rs_small`).
#[inline(never)]
fn redis_rs_pair(_: &Fixture) -> i64 {
    redis_rs_pairs(&SMALL_KEYS[..2])
}

/// One standalone call of a pipelined function of 2 INCR and a sum (one call of
/// `redpipe_small`).
#[inline(never)]
fn redpipe_pair(_: &Fixture) -> i64 {
    ready(incr_sum(None, &SMALL_KEYS[..2]).into_future()).expect("call")
}

/// A named single call.
type Call = (&'static str, fn(&Fixture) -> i64);

/// The calls whose footprint `cpu footprint` shows, in the order it makes them.
const FOOTPRINT: [Call; 5] = [
    ("redis_rs_one", redis_rs_one),
    ("redpipe_one", redpipe_one),
    ("redpipe_root_one", redpipe_root_one),
    ("redis_rs_pair", redis_rs_pair),
    ("redpipe_pair", redpipe_pair),
];

/// Stored to before each call of `cpu footprint` and after the last: the stores cut a
/// memory trace of the run into calls.
static MARKER: AtomicUsize = AtomicUsize::new(0);

#[inline(never)]
fn mark() {
    MARKER.fetch_add(1, Ordering::SeqCst);
}

/// A request's cost once the caches went cold (while it waited for the previous reply,
/// other code ran) follows the number of cache lines it touches, which the instruction
/// count does not show: prints the marker's address and the names of the calls, warms
/// every call up, then makes each call `ROUNDS` times in turn, marking each.
fn footprint(fixture: &Fixture) {
    const ROUNDS: usize = 3;
    let names: Vec<&str> = FOOTPRINT.iter().map(|(name, _)| *name).collect();
    println!(
        "{:x} {ROUNDS} {}",
        &MARKER as *const AtomicUsize as usize,
        names.join(" ")
    );
    for _ in 0..100 {
        for (_, call) in FOOTPRINT {
            black_box(call(fixture));
        }
    }
    for _ in 0..ROUNDS {
        for (_, call) in FOOTPRINT {
            mark();
            black_box(call(fixture));
        }
    }
    mark();
}

/// Times each footprint call made right after writing to 16 MiB of memory (four times
/// this machine's per-core cache), as a call finds the caches after waiting for its
/// reply; prints one Markdown row per call: the median of 2,000 calls, in turn with the
/// others, and its ratio to the redis-rs call before it.
fn cold(fixture: &Fixture) {
    const CALLS: usize = 2_000;
    let mut evict = vec![0u8; 16 << 20];
    let mut times = vec![Vec::with_capacity(CALLS); FOOTPRINT.len()];
    for _ in 0..CALLS {
        for ((_, call), times) in FOOTPRINT.iter().zip(&mut times) {
            for byte in evict.iter_mut().step_by(64) {
                *byte = byte.wrapping_add(1);
            }
            black_box(&mut evict);
            let start = std::time::Instant::now();
            black_box(call(fixture));
            times.push(start.elapsed());
        }
    }
    let mut base = 1.0;
    for ((name, _), mut times) in FOOTPRINT.iter().zip(times) {
        times.sort();
        let median = times[times.len() / 2].as_secs_f64() * 1e9;
        if name.starts_with("redis_rs") {
            base = median;
        }
        println!("| {name} | {median:.0} ns | {:.2}x |", median / base);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fixture = Fixture::new();
    if args.iter().any(|a| a == "footprint") {
        footprint(&fixture);
        return;
    }
    if args.iter().any(|a| a == "cold") {
        cold(&fixture);
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "run") {
        let name = args
            .get(pos + 1)
            .expect("usage: cpu run VARIANT ITERATIONS");
        let iterations: usize = args
            .get(pos + 2)
            .and_then(|n| n.parse().ok())
            .expect("usage: cpu run VARIANT ITERATIONS");
        let (_, once, measured) = VARIANTS
            .iter()
            .find(|v| v.0 == name)
            .expect("variant: one of the names in VARIANTS");
        // Warm-up outside the measured function: lazy statics, tracing call sites.
        black_box(once(&fixture));
        println!("{}", black_box(measured(&fixture, iterations)));
        return;
    }
    // A smoke run under `cargo test --all-targets` (which does not pass `--bench`).
    let iterations = if args.iter().any(|a| a == "--bench") {
        1000
    } else {
        10
    };
    println!("commands per batch: {COMMANDS}, iterations: {iterations}");
    println!("| variant | allocations per command | beyond redis-rs | goal | verdict |");
    println!("| --- | --- | --- | --- | --- |");
    let mut baseline: Option<f64> = None;
    for (name, once, measured) in VARIANTS {
        black_box(once(&fixture));
        allocator::start_tracking();
        black_box(measured(&fixture, iterations));
        let counted = allocator::stop_tracking();
        let per_command = counted.allocations as f64 / (iterations * COMMANDS) as f64;
        // Each redpipe variant is compared with the redis-rs variant listed before it.
        if name.starts_with("redis_rs") {
            baseline = Some(per_command);
        }
        let base = baseline.unwrap_or(per_command);
        let beyond = per_command - base;
        // The goal is per queued command of a batch; small standalone calls are context.
        let (goal, verdict) = match name {
            "redpipe_root" | "redpipe_nested" => (
                format!("≤ +{ALLOCATIONS_GOAL:.2}"),
                if beyond <= ALLOCATIONS_GOAL {
                    "met"
                } else {
                    "missed"
                },
            ),
            "redpipe_small" => (String::from("(context)"), ""),
            _ => (String::new(), ""),
        };
        println!("| {name} | {per_command:.2} | {beyond:+.2} | {goal} | {verdict} |");
    }
}
