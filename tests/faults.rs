//! Faults injected against real redis-server processes and a fake RESP server on
//! loopback: timeouts, replies that never come, servers killed before and during a batch
//! (one large one, and a write of coalesced executes), coalesced writes that time out,
//! cancelled executes, hostile replies, failed connects, credentials in every URL form,
//! huge errors, and tasks spawned inside a registry scope. Every deferred resolves, every
//! value is checked against its key, and nothing shows a password.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redpipe::{
    Backend, Batch, BoxFuture, Connection, Deferred, Error, Pipeline, Registry, Replies,
};
use redpipe_dev::{Answer, Counting, FakeRedis, RedisServer};

async fn opened(url: &str, timeout: Option<Duration>) -> Registry {
    let mut connection = Connection::open(url).await.unwrap();
    if let Some(limit) = timeout {
        connection = connection.with_response_timeout(limit);
    }
    let registry = Registry::new();
    registry.connect(connection).unwrap();
    registry
}

fn resolved<T: std::fmt::Debug>(d: &Deferred<T>) -> bool {
    !matches!(d.try_get(), Err(Error::NotReady))
}

/// Spawns `count` tasks, each queueing with `queue` (given its number) on a root of
/// `registry` and executing it: their outcomes, with what they queued.
fn spawn_executes<T: Send + 'static>(
    registry: &Registry,
    count: usize,
    queue: fn(&Pipeline, usize) -> T,
) -> Vec<tokio::task::JoinHandle<(Result<(), Error>, T)>> {
    (0..count)
        .map(|t| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let pipe = registry.pipeline();
                let queued = queue(&pipe, t);
                (pipe.execute().await, queued)
            })
        })
        .collect()
}

/// Asserts that an execute that failed failed only for connection errors.
fn assert_connection_failures(outcome: &Result<(), Error>) {
    if let Err(error) = outcome {
        assert!(
            error
                .failures()
                .iter()
                .all(|e| matches!(e, Error::Connection { .. })),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_timeout_closes_the_socket_and_the_next_execute_reconnects() {
    let server = RedisServer::start();
    let registry = opened(&server.url(), Some(Duration::from_millis(200))).await;
    let pipe = registry.pipeline();
    let blocked: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(5));
    let error = pipe.execute().await.unwrap_err();
    assert!(
        error.to_string().contains("no complete response"),
        "{error}"
    );
    assert!(matches!(blocked.try_get(), Err(Error::Connection { .. })));

    // On the old socket this INCR would queue behind the BLPOP and time out as well.
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute().await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_reply_that_never_comes_is_never_taken_for_a_later_one() {
    // The first connection never answers GET; later ones echo the key.
    let fake = FakeRedis::start(|request| match request.command.as_str() {
        "GET" if request.connection == 0 => Answer::Silence,
        "GET" => Answer::bulk(&request.args[0]),
        _ => Answer::simple("OK"),
    });
    let registry = opened(&fake.url(), Some(Duration::from_millis(150))).await;
    let pipe = registry.pipeline();
    let lost: Deferred<String> = pipe.get("a");
    assert!(pipe.execute().await.is_err());
    assert!(matches!(lost.try_get(), Err(Error::Connection { .. })));
    for key in ["b", "c"] {
        let pipe = registry.pipeline();
        let got: Deferred<String> = pipe.get(key);
        pipe.execute().await.unwrap();
        assert_eq!(*got, key);
    }
    assert_eq!(fake.accepted(), 2, "one reconnect after the timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coalesced_write_that_gets_no_reply_times_out_for_the_executes_in_it() {
    // The first connection answers nothing; later ones echo the key.
    let fake = FakeRedis::start(|request| match request.command.as_str() {
        "GET" if request.connection == 0 => Answer::Silence,
        "GET" => Answer::bulk(&request.args[0]),
        _ => Answer::simple("OK"),
    });
    let counting = Counting::wrap(&Connection::open(&fake.url()).await.unwrap());
    let registry = Registry::new();
    registry
        .connect(
            counting
                .connection()
                .with_response_timeout(Duration::from_millis(500)),
        )
        .unwrap();
    let tasks = spawn_executes(&registry, 20, |pipe, t| {
        let got: Deferred<String> = pipe.get(format!("lost{t}"));
        got
    });
    let outcomes = tokio::time::timeout(Duration::from_secs(10), async {
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    })
    .await
    .expect("every execute ends within its response timeout");
    // The execute that found the connection idle sends alone; the others wait for the
    // flusher, whose first write goes on the same silent socket (later rounds may go on
    // the next connection, once the timeout closed it, and get their replies).
    let mut failed = 0;
    for (t, (outcome, got)) in outcomes.into_iter().enumerate() {
        assert_connection_failures(&outcome);
        if outcome.is_ok() {
            assert_eq!(*got, format!("lost{t}"));
        } else {
            failed += 1;
            assert!(matches!(got.try_get(), Err(Error::Connection { .. })));
        }
    }
    assert!(
        failed >= 2,
        "the lone send and the coalesced write timed out"
    );
    assert_eq!(counting.commands(), 20);
    assert!(counting.batches() < 20, "some executes were coalesced");
    // The connection heals: the next execute reconnects.
    let pipe = registry.pipeline();
    let got: Deferred<String> = pipe.get("found");
    pipe.execute().await.unwrap();
    assert_eq!(*got, "found");
}

#[tokio::test]
async fn a_refused_port_fails_at_once_with_the_cause_and_address() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = Connection::open(&format!("redis://:secret@127.0.0.1:{port}"))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("connection refused") && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

#[tokio::test]
async fn a_wrong_password_fails_on_the_first_attempt() {
    let fake = FakeRedis::start(|request| match request.command.as_str() {
        "AUTH" => Answer::Bytes(b"-WRONGPASS invalid username-password pair\r\n".to_vec()),
        _ => Answer::simple("OK"),
    });
    let url = fake.url().replace("redis://", "redis://bob:hunter2@");
    let error = Connection::open(&url).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(fake.accepted(), 1, "no retries for what cannot heal");

    // The same against a real server with a password.
    let server = RedisServer::start_with(&["--requirepass", "right"]);
    let url = server.url().replace("redis://", "redis://:wrong@");
    let text = Connection::open(&url).await.unwrap_err().to_string();
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("wrong@"), "{text}");
}

#[test]
fn a_tls_url_without_the_feature_says_how_to_enable_it() {
    if cfg!(feature = "tls") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let error = runtime
        .block_on(Connection::open("rediss://127.0.0.1:6380"))
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("TLS is not enabled") && text.contains("`tls`"),
        "{text}"
    );
}

/// Captures the fields of every span and event, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<String>>);

impl tracing::field::Visit for Captured {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let line = format!("{}={value:?}\n", field.name());
        self.0.lock().unwrap().push_str(&line);
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut self.clone());
        static NEXT: AtomicU64 = AtomicU64::new(1);
        tracing::span::Id::from_u64(NEXT.fetch_add(1, Ordering::SeqCst))
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut self.clone());
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        event.record(&mut self.clone());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn credentials_never_show_in_debug_errors_or_tracing() {
    let socket = tempfile_socket();
    let server = RedisServer::start_with(&[
        "--requirepass",
        "s3cret",
        "--unixsocket",
        socket.to_str().unwrap(),
        "--user",
        "bob",
        "on",
        ">s3cret",
        "~*",
        "&*",
        "+@all",
    ]);
    let port = server.port();
    let path = socket.display();
    let forms = [
        (
            format!("redis://:s3cret@127.0.0.1:{port}/0"),
            format!("127.0.0.1:{port}"),
        ),
        (
            format!("redis://bob:s3cret@127.0.0.1:{port}/1"),
            "bob@".to_owned(),
        ),
        (format!("redis+unix://{path}?pass=s3cret"), path.to_string()),
        (
            format!("redis+unix://{path}?user=bob&pass=s3cret"),
            "user=bob".to_owned(),
        ),
        (format!("unix://{path}?pass=s3cret"), path.to_string()),
    ];
    let captured = Captured::default();
    let _guard = redpipe_dev::trace::capture(captured.clone());
    for (url, shown) in &forms {
        let connection = Connection::open(url).await.unwrap();
        let registry = Registry::new();
        registry.connect_named("main", connection.clone()).unwrap();
        let debug = format!("{connection:?} {registry:?}");
        assert!(debug.contains(shown.as_str()), "{url}: {debug}");
        assert!(!debug.contains("s3cret"), "{url}: {debug}");

        let pipe = registry.pipeline_on("main");
        let _: Deferred<i64> = pipe.query(redis::cmd("INCRBY").arg("k").arg("x"));
        let error = pipe.execute().await.unwrap_err();
        assert!(
            !format!("{error} {error:?}").contains("s3cret"),
            "{error:?}"
        );
    }
    // A question mark and an at sign in the query do not cut the host off.
    let odd = Connection::open(&format!("redis://:s3cret@127.0.0.1:{port}/?x=a@b"))
        .await
        .unwrap();
    let debug = format!("{odd:?}");
    assert!(debug.contains(&format!("127.0.0.1:{port}")), "{debug}");
    let traced = captured.0.lock().unwrap().clone();
    assert!(
        traced.contains("backend="),
        "tracing saw the batches: {traced}"
    );
    assert!(!traced.contains("s3cret"), "{traced}");
}

fn tempfile_socket() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("redpipe-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("redis.sock")
}

#[tokio::test]
async fn a_hundred_thousand_failures_make_a_short_error() {
    let server = RedisServer::start();
    let registry = opened(&server.url(), None).await;
    let _: () = redis::cmd("SET")
        .arg("text")
        .arg("x")
        .query(&mut server.sync())
        .unwrap();
    let pipe = registry.pipeline();
    let all: Vec<Deferred<i64>> = (0..100_000).map(|_| pipe.incr("text", 1)).collect();
    let error = pipe.execute().await.unwrap_err();
    assert_eq!(error.failures().len(), 100_000);
    let text = error.to_string();
    assert!(text.len() < 4_000, "{} bytes", text.len());
    assert!(text.contains("and 99990 more"), "{text}");
    assert!(all.iter().all(|d| d.try_get().is_err()));
}

/// Fills `pipe` with SET/GET pairs of distinct keys; returns the GETs and their values.
fn pairs(pipe: &Pipeline, prefix: &str, count: usize) -> Vec<(Deferred<String>, String)> {
    (0..count)
        .map(|i| {
            let key = format!("{prefix}:{i}");
            let value = format!("value-of-{key}");
            let _: Deferred<()> = pipe.set(&key, &value);
            (pipe.get(&key), value)
        })
        .collect()
}

#[tokio::test]
async fn a_server_killed_before_or_during_a_large_batch_resolves_everything() {
    for during in [false, true] {
        for opened_by_url in [false, true] {
            let mut server = RedisServer::start();
            let registry = Registry::new();
            let connection = if opened_by_url {
                Connection::open(&server.url()).await.unwrap()
            } else {
                server.connection().await
            };
            registry.connect(connection).unwrap();
            let pipe = registry.pipeline();
            let gets = pairs(&pipe, "big", 100_000);
            let outcome = if during {
                let running = tokio::spawn(pipe.execute());
                tokio::time::sleep(Duration::from_millis(20)).await;
                server.stop();
                running.await.unwrap()
            } else {
                server.stop();
                pipe.execute().await
            };
            // Killed mid-way, the batch may also have been answered in full first.
            assert_connection_failures(&outcome);
            for (got, value) in &gets {
                assert!(resolved(got), "every deferred resolves");
                if let Ok(got) = got.try_get() {
                    assert_eq!(got, value);
                }
            }
        }
    }
}

/// A backend that kills its server when the first coalesced batch (more commands than one
/// execute queues) reaches it: before passing it on, or once it was passed on.
struct KillOnCoalesced {
    inner: Arc<dyn Backend>,
    server: Mutex<Option<RedisServer>>,
    one_execute: usize,
    during: bool,
    coalesced: AtomicU64,
}

impl Backend for KillOnCoalesced {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            if batch.len() <= self.one_execute {
                return self.inner.send(batch).await;
            }
            self.coalesced.fetch_add(1, Ordering::SeqCst);
            let kill = || drop(self.server.lock().unwrap().take());
            if !self.during {
                kill();
                return self.inner.send(batch).await;
            }
            // The server runs no command until it is killed: the write is in flight then,
            // however fast it would have been answered.
            self.pause_server().await;
            let (replies, ()) = tokio::join!(self.inner.send(batch), async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                kill();
            });
            replies
        })
    }
}

impl KillOnCoalesced {
    /// Makes the server hold every client's commands for longer than the test runs.
    async fn pause_server(&self) {
        let url = self.server.lock().unwrap().as_ref().map(RedisServer::url);
        let Some(url) = url else { return };
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(60_000)
            .arg("ALL")
            .exec_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_coalesced_executes_resolves_every_one_of_them() {
    const PAIRS: usize = 200;
    for during in [false, true] {
        let server = RedisServer::start();
        let backend = Arc::new(KillOnCoalesced {
            inner: Arc::clone(server.connection().await.backend()),
            server: Mutex::new(Some(server)),
            one_execute: 2 * PAIRS,
            during,
            coalesced: AtomicU64::new(0),
        });
        let registry = Registry::new();
        registry
            .connect(Connection::from_arc(
                Arc::clone(&backend) as Arc<dyn Backend>
            ))
            .unwrap();
        let tasks = spawn_executes(&registry, 50, |pipe, t| {
            pairs(pipe, &format!("coalesced{t}"), PAIRS)
        });
        let mut failed = 0;
        for task in tasks {
            let (outcome, gets) = task.await.unwrap();
            failed += usize::from(outcome.is_err());
            assert_connection_failures(&outcome);
            for (got, value) in &gets {
                assert!(resolved(got), "every deferred resolves");
                match got.try_get() {
                    Ok(got) => assert_eq!(got, value),
                    Err(error) => {
                        assert!(outcome.is_err());
                        assert!(matches!(error, Error::Connection { .. }), "{error}");
                    }
                }
            }
        }
        assert!(
            backend.coalesced.load(Ordering::SeqCst) >= 1,
            "the executes overlapped and were coalesced"
        );
        assert!(failed >= 1, "the executes of the killed write failed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_executes_then_reuse_every_value_matches_its_key() {
    let server = RedisServer::start();
    let registry = opened(&server.url(), None).await;
    // Executes cut off at random points by short timeouts.
    for round in 0..20u64 {
        let pipe = registry.pipeline();
        let gets = pairs(&pipe, &format!("cut{round}"), 2_000);
        let cut = tokio::time::timeout(Duration::from_micros(200 * round), pipe.execute()).await;
        for (got, value) in &gets {
            assert!(resolved(got));
            if let Ok(got) = got.try_get() {
                assert_eq!(got, value);
            }
        }
        if cut.is_err() {
            assert!(gets.iter().all(|(got, _)| got.try_get().is_ok()
                || matches!(got.try_get(), Err(Error::Cancelled(_)))));
        }
    }
    // Then many concurrent executes, each checked against its own keys.
    let tasks: Vec<_> = (0..50)
        .map(|t| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let pipe = registry.pipeline();
                let gets = pairs(&pipe, &format!("after{t}"), 100);
                pipe.execute().await.unwrap();
                for (got, value) in gets {
                    assert_eq!(*got, value);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn hostile_replies_fail_their_commands_or_batch_and_the_connection_heals() {
    // Connection 0: GET answers an array where a string is expected, then a truncated
    // reply after which the socket closes. Later connections answer properly.
    let fake = FakeRedis::start(
        |request| match (request.connection, request.command.as_str()) {
            (0, "GET") if request.args[0] == b"array" => Answer::Bytes(b"*1\r\n:1\r\n".to_vec()),
            (0, "GET") => Answer::Close(b"$10\r\nabc".to_vec()),
            (_, "GET") => Answer::bulk(&request.args[0]),
            (_, "INCRBY") => Answer::int(1),
            _ => Answer::simple("OK"),
        },
    );
    let registry = opened(&fake.url(), Some(Duration::from_secs(5))).await;

    let pipe = registry.pipeline();
    let wrong: Deferred<String> = pipe.get("array");
    let fine: Deferred<i64> = pipe.incr("n", 1);
    let error = pipe.execute().await.unwrap_err();
    assert_eq!(error.failures().len(), 1, "{error}");
    assert!(matches!(wrong.try_get(), Err(Error::Command { .. })));
    assert_eq!(fine, 1);

    let pipe = registry.pipeline();
    let cut: Deferred<String> = pipe.get("truncated");
    assert!(pipe.execute().await.is_err());
    assert!(matches!(cut.try_get(), Err(Error::Connection { .. })));

    let pipe = registry.pipeline();
    let healed: Deferred<String> = pipe.get("healed");
    pipe.execute().await.unwrap();
    assert_eq!(*healed, "healed");
}

#[tokio::test]
async fn missing_replies_time_out_and_extra_ones_are_never_misread() {
    // Connection 0 answers only the first GET of a batch and then nothing; connection 1
    // answers each GET twice (an extra reply); later ones answer properly.
    let answered = Arc::new(Mutex::new(0));
    let count = Arc::clone(&answered);
    let fake =
        FakeRedis::start(
            move |request| match (request.connection, request.command.as_str()) {
                (0, "GET") => {
                    let mut n = count.lock().unwrap();
                    *n += 1;
                    if *n == 1 {
                        Answer::bulk(&request.args[0])
                    } else {
                        Answer::Silence
                    }
                }
                (1, "GET") => {
                    let Answer::Bytes(once) = Answer::bulk(&request.args[0]) else {
                        unreachable!()
                    };
                    Answer::Bytes(once.repeat(2))
                }
                (_, "GET") => Answer::bulk(&request.args[0]),
                _ => Answer::simple("OK"),
            },
        );
    let registry = opened(&fake.url(), Some(Duration::from_millis(200))).await;
    let pipe = registry.pipeline();
    let gets: Vec<Deferred<String>> = ["a", "b", "c"].iter().map(|k| pipe.get(*k)).collect();
    assert!(pipe.execute().await.is_err());
    assert!(gets.iter().all(resolved));
    for key in ["x", "y", "z"] {
        let pipe = registry.pipeline();
        let got: Deferred<String> = pipe.get(key);
        pipe.execute().await.unwrap();
        assert_eq!(*got, key);
    }
}

#[tokio::test]
async fn spawn_keeps_a_task_in_the_registry_scope() {
    let (mine, other) = (RedisServer::start(), RedisServer::start());
    Registry::global().replace(redpipe::DEFAULT_CONNECTION, other.connection().await);
    let registry = Registry::new();
    registry.connect(mine.connection().await).unwrap();
    #[redpipe::pipelined]
    fn bump(pipe: &Pipeline) -> i64 {
        let n: Deferred<i64> = pipe.incr("spawned", 1);
        *n
    }
    let (scoped, plain) = registry
        .scope(async {
            let scoped = redpipe::spawn(async { bump(None).await }).unwrap();
            let plain = tokio::spawn(async { bump(None).await });
            (scoped.await.unwrap(), plain.await.unwrap())
        })
        .await;
    assert_eq!(scoped.unwrap(), 1);
    assert_eq!(plain.unwrap(), 1);
    assert_eq!(
        mine.calls("incrby"),
        1,
        "the scoped task used the scope's registry"
    );
    assert_eq!(
        other.calls("incrby"),
        1,
        "a plain tokio::spawn used the global one"
    );
    Registry::global().disconnect(redpipe::DEFAULT_CONNECTION);
}

#[tokio::test]
async fn a_reply_of_the_wrong_shape_fails_the_batch_and_reconnects() {
    // Connection 0 answers INCRBY with a bulk string, as a connection one reply out of
    // step would; later connections answer properly.
    let fake = FakeRedis::start(
        |request| match (request.connection, request.command.as_str()) {
            (0, "INCRBY") => Answer::bulk(b"stale"),
            (_, "INCRBY") => Answer::int(7),
            (_, "GET") => Answer::bulk(&request.args[0]),
            _ => Answer::simple("OK"),
        },
    );
    let registry = opened(&fake.url(), None).await;
    let pipe = registry.pipeline();
    let got: Deferred<String> = pipe.get("k");
    let n: Deferred<i64> = pipe.incr("n", 1);
    let error = pipe.execute().await.unwrap_err();
    assert!(error.to_string().contains("out of step"), "{error}");
    assert!(
        got.try_get().is_err(),
        "every reply of the batch is suspect"
    );
    assert!(n.try_get().is_err());

    let pipe = registry.pipeline();
    let got: Deferred<String> = pipe.get("k");
    let n: Deferred<i64> = pipe.incr("n", 1);
    let second = pipe.execute().await;
    assert!(second.is_ok(), "{second:?}, accepted {}", fake.accepted());
    assert_eq!((got.as_str(), *n), ("k", 7));
    assert_eq!(fake.accepted(), 2);
}

#[test]
fn a_connection_opened_on_an_idle_current_thread_runtime_serves_a_multi_thread_one() {
    // A connection opened by a job thread's current-thread runtime (its redis-rs driver
    // task runs there, only inside that runtime's `block_on`), then used by the service's
    // multi-thread runtime while the job runtime is alive but idle.
    let server = RedisServer::start();
    let job = current_thread();
    let registry = opened_on(&job, &server);

    let service = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let n = incr_n_on(&service, &registry)
        .expect("the execute waited for the idle job runtime to run the driver");
    assert_eq!(n, 2);
    // The job runtime still gets its replies.
    assert_eq!(incr_n_on(&job, &registry).unwrap(), 3);
}

#[test]
fn a_connection_whose_runtime_shut_down_reconnects_before_the_next_execute() {
    // A connection opened under one runtime (its redis-rs driver task runs there), used
    // after that runtime shut down from another: the first execute there must not fail.
    let server = RedisServer::start();
    let first = current_thread();
    let registry = opened_on(&first, &server);
    drop(first);

    let n = incr_n_on(&current_thread(), &registry)
        .expect("the connection of a runtime that shut down is opened again, not used");
    assert_eq!(n, 2);
    assert_eq!(server.calls("incrby"), 2);
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A registry whose default connection is opened to `server` on `runtime`, and used there
/// once (`n` incremented to 1).
fn opened_on(runtime: &tokio::runtime::Runtime, server: &RedisServer) -> Registry {
    let registry = runtime.block_on(opened(&server.url(), None));
    assert_eq!(incr_n_on(runtime, &registry).unwrap(), 1);
    registry
}

/// INCR `n` in an execute that `runtime` runs (given 10 seconds); the new value.
fn incr_n_on(runtime: &tokio::runtime::Runtime, registry: &Registry) -> Result<i64, String> {
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    runtime.block_on(async {
        match tokio::time::timeout(Duration::from_secs(10), pipe.execute()).await {
            Ok(Ok(())) => Ok(*n),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no outcome within 10 s".to_owned()),
        }
    })
}
