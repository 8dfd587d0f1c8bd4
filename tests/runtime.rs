//! The runtime core against real redis-server processes: batching, nesting, order,
//! callbacks, errors and connections. Each test starts its own server and uses its own
//! registry, so tests run in parallel without interfering.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redpipe::{Connection, Deferred, Error, Nested, Parent, Pipeline, Registry};
use redpipe_dev::{counted_server, Counting, RedisServer};

/// The seed's `incr_sum`, written by hand with a nested pipeline (no macro).
fn incr_sum<'a>(parent: impl Into<Parent<'a>>, keys: &[String]) -> Deferred<i64> {
    let pipe = Nested::new(parent);
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    pipe.resolve(move || counts.iter().map(|c| **c).sum())
}

fn keys(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("key{i}")).collect()
}

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, entry: &str) -> impl FnOnce() + Send + 'static {
    let log = Arc::clone(log);
    let entry = entry.to_owned();
    move || log.lock().unwrap().push(entry)
}

#[tokio::test]
async fn standalone_call_is_one_round_trip() {
    let (server, registry, counting) = counted_server().await;
    // The call happens inside the scope, so its root uses this registry.
    let total = registry
        .scope(async { incr_sum(None, &keys(0..100)).await })
        .await;
    assert_eq!(total.unwrap(), 100);
    assert_eq!(counting.batches(), 1);
    assert_eq!(server.calls("incrby"), 100);
}

#[tokio::test]
async fn calls_with_a_parent_join_its_batch() {
    let (server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let first = incr_sum(&pipe, &keys(0..100));
    let second = incr_sum(Some(&pipe), &keys(100..200));
    assert!(!first.is_ready());
    pipe.execute().await.unwrap();
    assert_eq!(first, 100);
    assert_eq!(second, 100);
    assert_eq!(counting.batches(), 1);
    assert_eq!(server.calls("incrby"), 200);
}

#[tokio::test]
async fn a_hundred_calls_on_one_root_send_one_batch() {
    let (server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let sums: Vec<_> = (0..100).map(|i| incr_sum(&pipe, &keys(i..i + 1))).collect();
    pipe.execute().await.unwrap();
    assert!(sums.iter().all(|s| *s == 1));
    assert_eq!(counting.batches(), 1);
    assert_eq!(counting.commands(), 100);
    assert_eq!(server.calls("incrby"), 100);
}

/// A pipeline is `Sync`: threads queueing on one root at once (nested calls and plain
/// commands) lose nothing and mix no replies, and it all goes in one batch.
#[tokio::test]
async fn threads_queueing_on_one_root_at_once_lose_nothing() {
    let (server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    type Queued = (Vec<Deferred<i64>>, Vec<(String, Deferred<i64>)>);
    let (sums, counts): Queued = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let pipe = &pipe;
                scope.spawn(move || {
                    let mut sums = Vec::new();
                    let mut counts = Vec::new();
                    for i in 0..50 {
                        let base = 1000 * t + 20 * i;
                        sums.push(incr_sum(pipe, &keys(base..base + 10)));
                        let key = format!("own{t}:{i}");
                        counts.push((key.clone(), pipe.incr(&key, (t * 100 + i) as i64)));
                    }
                    (sums, counts)
                })
            })
            .collect();
        let mut all = (Vec::new(), Vec::new());
        for thread in threads {
            let (sums, counts) = thread.join().expect("a queueing thread");
            all.0.extend(sums);
            all.1.extend(counts);
        }
        all
    });
    pipe.execute().await.unwrap();
    assert_eq!(sums.len(), 200);
    assert!(sums.iter().all(|sum| **sum == 10));
    for (key, count) in &counts {
        let (t, i) = key[3..].split_once(':').expect("own{t}:{i}");
        let expected = t.parse::<i64>().unwrap() * 100 + i.parse::<i64>().unwrap();
        assert_eq!(**count, expected, "{key}");
    }
    assert_eq!(counting.batches(), 1);
    assert_eq!(server.calls("incrby"), 200 * 10 + 200);
}

#[tokio::test]
async fn depth_three_and_siblings_run_callbacks_in_program_order() {
    let (_server, registry, counting) = counted_server().await;
    let log: Log = Log::default();
    let root = registry.pipeline();
    root.on_execute(note(&log, "R1"));
    {
        let n1 = root.nested();
        n1.on_execute(note(&log, "N1a"));
        {
            let n2 = n1.nested();
            let _: Deferred<i64> = n2.incr("n2", 1);
            n2.on_execute(note(&log, "N2"));
            {
                let n3 = n2.nested();
                let _: Deferred<i64> = n3.incr("n3", 1);
                n3.on_execute(note(&log, "N3"));
                let _ = n3.finish();
            }
            let _ = n2.finish();
        }
        n1.on_execute(note(&log, "N1b"));
        let _ = n1.finish();
    }
    {
        let s2 = root.nested();
        s2.on_execute(note(&log, "S2"));
        let _ = s2.finish();
    }
    root.on_execute(note(&log, "R2"));
    root.execute().await.unwrap();
    // Python ran S2, N3, N2, N1a, N1b, R1, R2; we run them in program order.
    assert_eq!(
        *log.lock().unwrap(),
        ["R1", "N1a", "N2", "N3", "N1b", "S2", "R2"]
    );
    assert_eq!(counting.batches(), 1);
}

#[tokio::test]
async fn a_later_sibling_reads_an_earlier_siblings_result() {
    let (_server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    let first = incr_sum(&pipe, &keys(0..3));
    let later = {
        let sibling = pipe.nested();
        let own: Deferred<i64> = sibling.incr("own", 10);
        let first = first.clone();
        sibling.resolve(move || *first + *own)
    };
    pipe.execute().await.unwrap();
    assert_eq!(later, 13);
}

#[tokio::test]
async fn an_outer_set_queued_before_an_inner_get_is_seen() {
    let (_server, registry, _counting) = counted_server().await;
    let outer = registry.pipeline();
    let _: Deferred<()> = outer.set("k", "outer");
    let seen = {
        let inner = outer.nested();
        let seen: Deferred<Option<String>> = inner.get("k");
        inner.forward(seen)
    };
    outer.execute().await.unwrap();
    assert_eq!(seen, Some("outer".to_owned()));
}

#[tokio::test]
async fn a_child_splices_where_it_finishes() {
    let (_server, registry, _counting) = counted_server().await;
    let root = registry.pipeline();
    let child = root.nested();
    let read: Deferred<Option<String>> = child.get("k");
    // The parent queues while the child is still open: the child's GET lands after it.
    let _: Deferred<()> = root.set("k", "v");
    let read = child.forward(read);
    root.execute().await.unwrap();
    assert_eq!(read, Some("v".to_owned()));
}

#[tokio::test]
async fn two_connections_are_sent_concurrently() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let (ca, cb) = (
        Counting::wrap(&a.connection().await),
        Counting::wrap(&b.connection().await),
    );
    let registry = Registry::new();
    registry.connect_named("a", ca.connection()).unwrap();
    registry.connect_named("b", cb.connection()).unwrap();
    let pipe = registry.pipeline_on("a");
    let on_a: Deferred<Option<(String, String)>> = pipe.blpop("empty", 1.0);
    let on_b = {
        let nested = pipe.nested_on("b");
        let d: Deferred<Option<(String, String)>> = nested.blpop("empty", 1.0);
        nested.forward(d)
    };
    let started = Instant::now();
    pipe.execute().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(on_a, None);
    assert_eq!(on_b, None);
    assert_eq!((ca.batches(), cb.batches()), (1, 1));
    assert!(
        elapsed < Duration::from_millis(1800),
        "two 1 s BLPOPs took {elapsed:?}: the batches were not sent concurrently"
    );
}

#[tokio::test]
async fn a_nested_pipeline_inherits_its_parents_connection() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let registry = Registry::new();
    registry.connect(a.connection().await).unwrap();
    registry
        .connect_named("other", b.connection().await)
        .unwrap();
    let root = registry.pipeline_on("other");
    let _ = incr_sum(&root, &keys(0..5));
    root.execute().await.unwrap();
    assert_eq!(b.calls("incrby"), 5);
    assert_eq!(a.calls("incrby"), 0);
}

#[tokio::test]
async fn a_command_error_mid_batch_fails_only_that_command() {
    let (_server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let before: Deferred<()> = pipe.set("s", "text");
    let bad: Deferred<i64> = pipe.lpush("s", "x");
    let after: Deferred<i64> = pipe.incr("n", 5);
    let _also_bad: Deferred<i64> = pipe.incr("s", 1);
    let ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&ran);
    pipe.on_execute(move || *flag.lock().unwrap() = true);
    let combined = {
        let child = pipe.nested();
        let n = after.clone();
        child.resolve(move || *n * 2)
    };

    let error = pipe.execute().await.unwrap_err();
    assert_eq!(error.failures().len(), 2, "{error}");
    let text = error.to_string();
    assert!(
        text.contains("#1 (LPUSH)") && text.contains("WRONGTYPE"),
        "{text}"
    );
    assert!(text.contains("#3 (INCRBY)"), "{text}");
    assert!(before.try_get().is_ok());
    assert!(matches!(
        bad.try_get(),
        Err(Error::Command { index: 1, .. })
    ));
    assert_eq!(after, 5);
    assert!(
        !*ran.lock().unwrap(),
        "the root's callback is skipped: its scope holds the failed commands"
    );
    // The child's scope (no commands of its own) succeeded, so its combine step runs and
    // reads a deferred that succeeded.
    assert_eq!(combined, 10);

    // The connection is still healthy.
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute().await.unwrap();
    assert_eq!(n, 6);
    assert_eq!(counting.batches(), 2);
}

/// A batch of one command goes to redis-rs as a single request, not a pipeline of one: its
/// error reply is still that command's error, and the connection stays usable.
#[tokio::test]
async fn a_lone_commands_error_reply_fails_that_command_only() {
    let (_server, registry, _) = counted_server().await;
    let pipe = registry.pipeline();
    let _: Deferred<()> = pipe.set("lone", "text");
    pipe.execute().await.unwrap();

    let pipe = registry.pipeline();
    let bad: Deferred<i64> = pipe.lpush("lone", "x");
    let error = pipe.execute().await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("#0 (LPUSH)") && text.contains("WRONGTYPE"),
        "{text}"
    );
    assert!(
        matches!(bad.try_get(), Err(Error::Command { index: 0, .. })),
        "{:?}",
        bad.try_get()
    );

    let pipe = registry.pipeline();
    let read: Deferred<Option<String>> = pipe.get("lone");
    pipe.execute().await.unwrap();
    assert_eq!(read.as_deref(), Some("text"));
}

#[tokio::test]
async fn an_unreachable_backend_is_named_and_the_other_resolves() {
    let (good, mut bad) = (RedisServer::start(), RedisServer::start());
    let registry = Registry::new();
    registry.connect(good.connection().await).unwrap();
    registry
        .connect_named("flaky", bad.connection().await)
        .unwrap();
    bad.stop();

    let pipe = registry.pipeline();
    let ok: Deferred<i64> = pipe.incr("n", 1);
    let lost = {
        let nested = pipe.nested_on("flaky");
        let lost: Deferred<i64> = nested.incr("n", 1);
        nested.forward(lost)
    };
    let sum = {
        let child = pipe.nested();
        let ok = ok.clone();
        child.resolve(move || *ok + 1)
    };
    let error = pipe.execute().await.unwrap_err();
    assert_eq!(error.failures().len(), 1, "{error}");
    assert!(
        matches!(&error.failures()[0], Error::Connection { connection, .. } if &**connection == "flaky"),
        "{error}"
    );
    assert_eq!(ok, 1);
    assert!(matches!(lost.try_get(), Err(Error::Connection { .. })));
    // `sum`'s scope holds no failed command: it runs, reading a deferred that succeeded.
    assert_eq!(sum, 2);

    let pipe = registry.pipeline();
    let again: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute().await.unwrap();
    assert_eq!(again, 2);
}

fn queue_then_return_early<'a>(parent: impl Into<Parent<'a>>, bail: bool) -> Deferred<i64> {
    let pipe = Nested::new(parent);
    let n: Deferred<i64> = pipe.incr("early", 1);
    if bail {
        return Deferred::failed(Error::invalid_operation("bailed out"));
    }
    pipe.forward(n)
}

fn queue_then_fail<'a>(parent: impl Into<Parent<'a>>) -> Result<Deferred<i64>, Error> {
    let pipe = Nested::new(parent);
    let _: Deferred<i64> = pipe.incr("question", 1);
    let parsed: i64 = "not a number"
        .parse()
        .map_err(|_| Error::invalid_value("amount", "not an integer"))?;
    let n = pipe.incr("question", parsed);
    Ok(pipe.forward(n))
}

#[tokio::test]
async fn a_dropped_child_sends_nothing() {
    let (server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let early = queue_then_return_early(&pipe, true);
    assert!(queue_then_fail(&pipe).is_err());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let child = pipe.nested();
        let _: Deferred<i64> = child.incr("panic", 1);
        panic!("boom");
    }));
    assert!(panicked.is_err());
    let kept = queue_then_return_early(&pipe, false);
    assert_eq!(pipe.len(), 1);
    pipe.execute().await.unwrap();
    assert!(early.try_get().is_err());
    assert_eq!(kept, 1);
    assert_eq!(counting.commands(), 1);
    assert_eq!(server.calls("incrby"), 1);
}

#[tokio::test]
async fn reads_before_execution_are_not_ready() {
    let (_server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    assert!(matches!(n.try_get(), Err(Error::NotReady)));
    assert!(!n.is_ready());
    assert_eq!(format!("{n:?}"), "Deferred(<not ready>)");
    assert_eq!(n.to_string(), "<not ready>");
    assert!(n != 1);
    let deref = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *n.clone()));
    assert!(
        deref.is_err(),
        "Deref of a deferred that is not ready panics"
    );
    // Awaiting a deferred that waits on a parent answers at once.
    assert!(matches!(n.clone().await, Err(Error::NotReady)));
    pipe.execute().await.unwrap();
    assert_eq!(n.clone().await.unwrap(), 1);
    assert_eq!(format!("{n:?}"), "Deferred(1)");
    assert_eq!(n.to_string(), "1");
    assert_eq!(serde_json::to_string(&n).unwrap(), "1");
}

#[tokio::test]
async fn connection_names_rebinds_aliases_and_unknown_names() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let registry = Registry::new();
    let conn_a = a.connection().await;
    registry.connect(conn_a.clone()).unwrap();
    registry.connect(conn_a.clone()).unwrap(); // same backend: fine
    registry.connect_named("alias", conn_a.clone()).unwrap();
    let conflict = registry.connect(b.connection().await).unwrap_err();
    assert!(
        matches!(&conflict, Error::AlreadyConnected { connection } if &**connection == "default")
    );

    let pipe = registry.pipeline_on("alias");
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute().await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(a.calls("incrby"), 1);

    // Opened twice from the same URL: equal settings bind again, as in Python.
    registry
        .connect_named("url", Connection::open(&a.url()).await.unwrap())
        .unwrap();
    registry
        .connect_named("url", Connection::open(&a.url()).await.unwrap())
        .unwrap();
    let other_db = Connection::open(&format!("{}/1", a.url())).await.unwrap();
    assert!(registry.connect_named("url", other_db).is_err());
    let timed = Connection::open(&a.url())
        .await
        .unwrap()
        .with_response_timeout(Duration::from_secs(1));
    assert!(
        registry.connect_named("url", timed).is_err(),
        "other options make another connection"
    );

    let pipe = registry.pipeline_on("nowhere");
    let lost: Deferred<i64> = pipe.incr("n", 1);
    let error = pipe.execute().await.unwrap_err();
    assert!(matches!(&error, Error::NotConfigured { connection } if &**connection == "nowhere"));
    assert!(matches!(lost.try_get(), Err(Error::NotConfigured { .. })));

    assert!(registry.replace("default", b.connection().await).is_some());
    assert!(registry.disconnect("alias"));
    assert!(!registry.disconnect("alias"));
    registry.reset();
    assert!(registry.get("default").is_none());
}

#[tokio::test]
async fn the_transaction_option_wraps_each_batch_in_multi_exec() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry
        .connect(server.connection().await.with_transaction(true))
        .unwrap();
    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr("a", 1);
    let b: Deferred<i64> = pipe.incr("a", 2);
    pipe.execute().await.unwrap();
    assert_eq!((*a, *b), (1, 3));
    assert_eq!(server.calls("multi"), 1);
    assert_eq!(server.calls("exec"), 1);
}

#[tokio::test]
async fn batches_around_a_transaction_on_the_same_thread_stay_plain() {
    // Batches reuse their thread's emptied redis-rs pipelines (those of more than 14
    // commands): a transaction's must never serve a plain batch after it.
    let server = RedisServer::start();
    let (plain, atomic) = (Registry::new(), Registry::new());
    plain.connect(server.connection().await).unwrap();
    atomic
        .connect(server.connection().await.with_transaction(true))
        .unwrap();
    let keys = keys(0..32);
    for (round, registry) in [&plain, &atomic, &plain, &plain, &atomic, &plain]
        .into_iter()
        .enumerate()
    {
        let pipe = registry.pipeline();
        let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
        pipe.execute().await.unwrap();
        assert!(counts.iter().all(|c| **c == round as i64 + 1));
    }
    assert_eq!(server.calls("multi"), 2, "only the two transactions");
    assert_eq!(server.calls("exec"), 2);
    assert_eq!(server.calls("incrby"), 6 * 32);
}

#[tokio::test]
async fn pipelines_created_or_executed_in_callbacks_are_errors() {
    let (_server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let inner_outcome = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&inner_outcome);
    let reg = registry.clone();
    pipe.on_execute(move || {
        let inner = reg.pipeline();
        let _: Deferred<i64> = inner.incr("n", 1);
        // Drive the execute future by hand: it must fail at once, without I/O.
        let outcome = futures_poll_once(inner.execute());
        *slot.lock().unwrap() = Some(outcome);
    });
    pipe.execute().await.unwrap();
    let outcome = inner_outcome.lock().unwrap().take().unwrap();
    let error = outcome
        .expect("the execute future finished at once")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("inside a combine step or on_execute callback"),
        "{error}"
    );
    assert_eq!(counting.batches(), 0, "an empty root sends nothing");
}

/// Polls a future once with a no-op waker.
fn futures_poll_once<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[tokio::test]
async fn a_response_timeout_stops_a_blocking_command() {
    let server = RedisServer::start();
    let registry = Registry::new();
    let conn = server
        .connection()
        .await
        .with_response_timeout(Duration::from_millis(200));
    registry.connect(conn).unwrap();
    let pipe = registry.pipeline();
    let forever: Deferred<Option<(String, String)>> = pipe.blpop("empty", 0.0);
    let error = pipe.execute().await.unwrap_err();
    assert!(
        matches!(&error.failures()[0], Error::Connection { .. }),
        "{error}"
    );
    assert!(forever.try_get().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_are_send() {
    let (_server, registry, _counting) = counted_server().await;
    let handle = tokio::spawn(async move {
        let pipe = registry.pipeline();
        let total = incr_sum(&pipe, &keys(0..10));
        pipe.execute().await.map(|()| *total)
    });
    assert_eq!(handle.await.unwrap().unwrap(), 10);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Deferred<String>>();
    fn assert_send<T: Send>() {}
    assert_send::<Pipeline>();
}

#[tokio::test]
async fn generic_commands_and_scripts() {
    let (_server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    let _: Deferred<()> = pipe.query(redis::cmd("SET").arg("g").arg("hello"));
    let len: Deferred<usize> = pipe.query(redis::cmd("STRLEN").arg("g"));
    let script = redpipe::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let via_lua: Deferred<i64> = pipe.invoke_script(&script, &["counter"], &[7]);
    let hash: Deferred<Option<String>> = {
        let child = pipe.nested();
        let _: Deferred<i64> = child.hset("h", "f", "v");
        let got = child.hget("h", "f");
        child.forward(got)
    };
    pipe.execute().await.unwrap();
    assert_eq!(len, 5);
    assert_eq!(via_lua, 7);
    assert_eq!(hash, Some("v".to_owned()));
}

#[tokio::test]
async fn credentials_never_appear_in_errors_or_debug() {
    let server = RedisServer::start_with(&["--requirepass", "s3cr3t-pw"]);
    let url = format!("redis://:s3cr3t-pw@127.0.0.1:{}", server.port());
    let conn = Connection::open(&url).await.unwrap();
    let shown = format!("{conn:?}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
    let registry = Registry::new();
    registry.connect(conn).unwrap();
    assert!(!format!("{registry:?}").contains("s3cr3t-pw"));
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute().await.unwrap();
    assert_eq!(n, 1);

    let wrong = format!("redis://:wrong-pw@127.0.0.1:{}", server.port());
    let error = Connection::open(&wrong).await.unwrap_err();
    assert!(
        !format!("{error} {error:?}").contains("wrong-pw"),
        "{error:?}"
    );
    let unparsable = Connection::open("redis://:pw-in-bad-url@[::1")
        .await
        .unwrap_err();
    assert!(!format!("{unparsable} {unparsable:?}").contains("pw-in-bad-url"));
}

#[tokio::test]
async fn commands_that_break_reply_pairing_are_refused_and_nothing_is_sent() {
    // Pub/Sub, MONITOR, replication and CLIENT REPLY change how a connection answers: a
    // reply per command no longer holds, and every later reply on the shared connection
    // would go to the wrong command. They are refused where they are queued, and refuse
    // their execute.
    let (server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    let before: Deferred<i64> = pipe.incr("before", 1);
    let refused: Vec<Deferred<redis::Value>> = [
        redis::cmd("SUBSCRIBE").arg("news").clone(),
        redis::cmd("psubscribe").arg("n*").clone(),
        redis::cmd("MONITOR"),
        redis::cmd("CLIENT").arg("reply").arg("off").clone(),
    ]
    .iter()
    .map(|cmd| pipe.query(cmd))
    .collect();
    let after: Deferred<i64> = pipe.incr("after", 1);
    let error = pipe.execute().await.unwrap_err().to_string();
    for name in ["SUBSCRIBE", "PSUBSCRIBE", "MONITOR", "CLIENT REPLY"] {
        assert!(error.contains(name), "the error names {name}: {error}");
    }
    for deferred in &refused {
        match deferred.try_get() {
            Err(Error::InvalidOperation(message)) => {
                assert!(message.contains("pair"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(before.try_get().is_err() && after.try_get().is_err());
    let calls = server.command_calls();
    for never in [
        "incrby",
        "subscribe",
        "psubscribe",
        "monitor",
        "client|reply",
    ] {
        assert_eq!(calls.get(never), None, "{never} was sent");
    }
    // The connection is in step.
    let pipe = registry.pipeline();
    let again: Deferred<i64> = pipe.incr("before", 1);
    pipe.execute().await.unwrap();
    assert_eq!(again, 1);
}

#[tokio::test]
async fn a_refused_command_of_a_discarded_function_does_not_refuse_the_execute() {
    let (_server, registry, _counting) = counted_server().await;
    // A function of one INCR.
    let incr_f = |pipe: &Pipeline| {
        let child = pipe.nested();
        let n: Deferred<i64> = child.incr("f", 1);
        Nested::resolve(child, move || *n)
    };
    let pipe = registry.pipeline();
    let fine = incr_f(&pipe);
    // A function that queues a refused command and then stops (an early return, `?`):
    // its commands are discarded, its refusal with them.
    let refused = {
        let child = pipe.nested();
        let refused: Deferred<()> = child.query(redis::cmd("MONITOR"));
        drop(child);
        refused
    };
    pipe.execute().await.unwrap();
    assert_eq!(fine, 1);
    assert!(matches!(refused.try_get(), Err(Error::InvalidOperation(_))));

    // Not discarded, the same refusal refuses the execute, and every deferred says so.
    let pipe = registry.pipeline();
    let sibling = incr_f(&pipe);
    let monitoring = {
        let child = pipe.nested();
        let _: Deferred<()> = child.query(redis::cmd("MONITOR"));
        Nested::resolve(child, || 1)
    };
    let error = pipe.execute().await.unwrap_err().to_string();
    assert!(error.contains("MONITOR"), "{error}");
    assert!(sibling.try_get().is_err() && monitoring.try_get().is_err());
}

#[tokio::test]
async fn commands_that_change_a_shared_connections_state_are_refused() {
    // SELECT would move every later command on the shared connection to another
    // database; an unbalanced MULTI or a WATCH would change what other executes get.
    let (server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    for cmd in [
        redis::cmd("SELECT").arg(1).clone(),
        redis::cmd("multi"),
        redis::cmd("WATCH").arg("k").clone(),
        redis::cmd("RESET"),
    ] {
        let _: Deferred<()> = pipe.query(cmd);
    }
    let error = pipe.execute().await.unwrap_err().to_string();
    for name in ["SELECT", "MULTI", "WATCH", "RESET"] {
        assert!(error.contains(&format!("{name} cannot be sent")), "{error}");
    }
    assert!(error.contains("with_transaction"), "{error}");
    // The connection still writes to database 0.
    let pipe = registry.pipeline();
    let _: Deferred<()> = pipe.set("k", "v");
    pipe.execute().await.unwrap();
    let read: Option<String> = redis::cmd("GET")
        .arg("k")
        .query(&mut server.sync())
        .unwrap();
    assert_eq!(read.as_deref(), Some("v"));
    let calls = server.command_calls();
    for never in ["select", "multi", "watch", "reset"] {
        assert_eq!(calls.get(never), None, "{never} was sent");
    }
}
