//! The blocking API against real redis-server processes, with no async runtime in the
//! test: nesting, callbacks in order, errors, named connections, transactions, keyspaces,
//! structs, standalone calls with `wait`, threads sharing one registry, response
//! timeouts, and the clear errors when blocking and async are mixed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redpipe::field::IntegerField;
use redpipe::keyspace::{Keyspace, Strings};
use redpipe::{pipelined, Connection, Deferred, Error, Nested, Pipeline, Registry, Struct};
use redpipe_dev::RedisServer;

#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

#[pipelined]
fn twice(pipe: &Pipeline, keys: &[String]) -> i64 {
    let a = incr_sum(pipe, keys);
    let b = incr_sum(pipe, keys);
    *a + *b
}

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("key{i}")).collect()
}

/// A registry whose default connection is a blocking one to `url`.
fn blocking_registry(url: &str) -> Registry {
    let registry = Registry::new();
    registry
        .connect(Connection::open_blocking(url).unwrap())
        .unwrap();
    registry
}

#[test]
fn nested_calls_execute_in_one_round_trip_without_a_runtime() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    let log = Arc::new(Mutex::new(Vec::new()));
    let pipe = registry.pipeline();
    let first = twice(&pipe, &keys(10));
    let l = Arc::clone(&log);
    pipe.on_execute(move || l.lock().unwrap().push("root"));
    let second = incr_sum(&pipe, &keys(3));
    pipe.execute_blocking().unwrap();
    assert_eq!(*first, 10 + 20);
    assert_eq!(*second, 3 + 3 + 3);
    assert_eq!(*log.lock().unwrap(), ["root"]);
    assert_eq!(server.calls("incrby"), 23);
}

#[test]
fn standalone_calls_wait_in_the_scope_of_a_registry() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    let total = registry.scope_blocking(|| incr_sum(None, &keys(5)).wait());
    assert_eq!(total.unwrap(), 5);
    // A deferred of an executed pipeline waits for nothing.
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 2);
    pipe.execute_blocking().unwrap();
    assert_eq!(n.wait().unwrap(), 2);
}

#[test]
fn errors_named_connections_and_transactions_work_the_same() {
    let (main, other) = (RedisServer::start(), RedisServer::start());
    let registry = blocking_registry(&main.url());
    registry
        .connect_named(
            "tx",
            Connection::open_blocking(&other.url())
                .unwrap()
                .with_transaction(true),
        )
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("text")
        .arg("x")
        .query(&mut main.sync())
        .unwrap();

    let pipe = registry.pipeline();
    let bad: Deferred<i64> = pipe.incr("text", 1);
    let good = incr_sum(&pipe, &keys(2));
    let elsewhere = {
        let nested = pipe.nested_on("tx");
        let a: Deferred<i64> = nested.incr("a", 1);
        let b: Deferred<i64> = nested.incr("a", 1);
        nested.resolve(move || *a + *b)
    };
    let error = pipe.execute_blocking().unwrap_err();
    assert_eq!(error.failures().len(), 1, "{error}");
    assert!(matches!(bad.try_get(), Err(Error::Command { .. })));
    assert_eq!(*good, 2, "its scope succeeded");
    assert_eq!(*elsewhere, 3);
    assert_eq!(other.calls("multi"), 1);
    assert_eq!(other.calls("exec"), 1);
}

const COUNTERS: Strings<IntegerField> = Strings::new(Keyspace::new("C"));

#[derive(Debug, Clone, PartialEq, Struct)]
#[redpipe(keyspace = "U")]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    visits: Option<i64>,
}

#[test]
fn keyspaces_and_structs_work_through_the_blocking_api() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    let pipe = registry.pipeline();
    let alice = User {
        id: "1".into(),
        name: "alice".into(),
        visits: Some(1),
    };
    let saved = alice.save(&pipe);
    let hits = COUNTERS.incr(&pipe, "hits", 5);
    pipe.execute_blocking().unwrap();
    assert_eq!(saved.try_get().unwrap().as_ref(), Some(&alice));
    assert_eq!(*hits, 5);

    let loaded = registry.scope_blocking(|| User::load(None, "1").wait());
    assert_eq!(loaded.unwrap(), Some(alice));
}

#[test]
fn threads_share_one_registry_and_every_value_matches_its_key() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    std::thread::scope(|threads| {
        for t in 0..8 {
            let registry = registry.clone();
            threads.spawn(move || {
                for round in 0..50 {
                    let pipe = registry.pipeline();
                    let key = format!("t{t}:{round}");
                    let _: Deferred<()> = pipe.set(&key, &key);
                    let got: Deferred<String> = pipe.get(&key);
                    pipe.execute_blocking().unwrap();
                    assert_eq!(*got, key);
                }
            });
        }
    });
    assert_eq!(server.calls("get"), 400);
}

#[test]
fn a_response_timeout_fails_the_batch_and_the_next_one_works() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry
        .connect(
            Connection::open_blocking(&server.url())
                .unwrap()
                .with_response_timeout(Duration::from_millis(100)),
        )
        .unwrap();
    let pipe = registry.pipeline();
    let blocked: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(2));
    let error = pipe.execute_blocking().unwrap_err().to_string();
    assert!(
        error.contains("no complete response within 100ms"),
        "the error says what happened: {error}"
    );
    assert!(matches!(blocked.try_get(), Err(Error::Connection { .. })));
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute_blocking().unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_response_timeout_also_bounds_a_write_the_server_stopped_reading() {
    // A server that reads the first SET and then stops reading (its script never returns
    // in time): a batch larger than the socket's buffers blocks in the write.
    let server = redpipe_dev::FakeRedis::start(|request| {
        if request.command == "SET" {
            std::thread::sleep(Duration::from_secs(60));
        }
        redpipe_dev::Answer::simple("OK")
    });
    let registry = Registry::new();
    registry
        .connect(
            Connection::open_blocking(&server.url())
                .unwrap()
                .with_response_timeout(Duration::from_millis(200)),
        )
        .unwrap();
    let value = vec![b'x'; 1 << 20];
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pipe = registry.pipeline();
        let sets: Vec<Deferred<()>> = (0..64)
            .map(|i| pipe.set(format!("big{i}"), &value[..]))
            .collect();
        let result = pipe.execute_blocking();
        let _ = done.send((result.err(), sets.iter().all(|s| s.try_get().is_err())));
    });
    let (error, every_set_failed) = outcome
        .recv_timeout(Duration::from_secs(20))
        .expect("the blocked write outlived the response timeout");
    let error = error.expect("the batch failed").to_string();
    assert!(
        error.contains("no complete response within 200ms"),
        "{error}"
    );
    assert!(every_set_failed);
}

#[test]
fn a_refused_port_fails_at_once() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = Connection::open_blocking(&format!("redis://127.0.0.1:{port}")).unwrap_err();
    assert!(error.to_string().contains("connection refused"), "{error}");
}

#[test]
fn an_async_connection_in_a_blocking_execute_is_refused_by_name() {
    let server = RedisServer::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = blocking_registry(&server.url());
    let asynchronous = runtime.block_on(Connection::open(&server.url())).unwrap();
    registry.connect_named("async", asynchronous).unwrap();
    let pipe = registry.pipeline();
    let mine: Deferred<i64> = pipe.incr("n", 1);
    let theirs = {
        let nested = pipe.nested_on("async");
        let n: Deferred<i64> = nested.incr("n", 1);
        nested.forward(n)
    };
    let error = pipe.execute_blocking().unwrap_err();
    assert!(error.to_string().contains("`async` is async"), "{error}");
    assert!(mine.try_get().is_err() && theirs.try_get().is_err());
    assert_eq!(server.calls("incrby"), 0, "nothing was sent");
}

#[test]
fn blocking_calls_inside_a_runtime_are_errors_not_deadlocks() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let pipe = registry.pipeline();
        let n: Deferred<i64> = pipe.incr("n", 1);
        let error = pipe.execute_blocking().unwrap_err();
        assert!(
            error.to_string().contains("inside an async runtime"),
            "{error}"
        );
        assert!(n.try_get().is_err(), "resolved, not left not ready");

        let standalone = registry.scope(async { incr_sum(None, &keys(1)) }).await;
        let error = standalone.wait().unwrap_err();
        assert!(
            error.to_string().contains("inside an async runtime"),
            "{error}"
        );

        // A blocking connection awaited from async code fails its batch the same way.
        let pipe = registry.pipeline();
        let n: Deferred<i64> = pipe.incr("n", 1);
        let error = pipe.execute().await.unwrap_err();
        assert!(
            error.to_string().contains("inside an async runtime"),
            "{error}"
        );
        assert!(n.try_get().is_err());
    });
    assert_eq!(server.calls("incrby"), 0);
}

#[test]
fn blocking_connections_send_from_threads_in_parallel() {
    let connection = Connection::open_blocking(&RedisServer::start().url()).unwrap();
    assert!(connection.is_blocking());
    assert!(
        !connection.is_coalescing(),
        "threads use sockets of their own"
    );
}

#[test]
fn a_combine_step_waiting_for_its_own_call_gets_an_error_not_a_deadlock() {
    let server = RedisServer::start();
    let registry = blocking_registry(&server.url());
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = registry.scope_blocking(|| {
            // The call's own deferred, handed to its combine step once it exists.
            let own: Arc<Mutex<Option<Deferred<i64>>>> = Arc::default();
            let seen = Arc::clone(&own);
            let call = Nested::new(None);
            let n: Deferred<i64> = call.incr("n", 1);
            let call = call.resolve_result(move || {
                let me = seen
                    .lock()
                    .unwrap()
                    .take()
                    .expect("the call's own deferred");
                me.wait().map(|v| v + *n)
            });
            *own.lock().unwrap() = Some(call.clone());
            // Another standalone call, made outside, waited for inside a combine step.
            let other = incr_sum(None, &keys(1));
            let pipe = registry.pipeline();
            let late = Arc::new(Mutex::new(None));
            let (l, o) = (Arc::clone(&late), other.clone());
            pipe.on_execute(move || *l.lock().unwrap() = Some(o.wait()));
            let _: Deferred<i64> = pipe.incr("m", 1);
            pipe.execute_blocking().unwrap();
            let late = late.lock().unwrap().take().expect("the callback ran");
            (call.wait(), late, other.wait())
        });
        done.send(result).unwrap();
    });
    let (own, late, other) = outcome
        .recv_timeout(Duration::from_secs(10))
        .expect("the call finished (no deadlock)");
    let error = own.unwrap_err();
    assert!(error.to_string().contains("not resolved yet"), "{error}");
    let error = late.unwrap_err();
    assert!(error.to_string().contains("not resolved yet"), "{error}");
    // Refused inside the callback, the other call was not spent: it executes when waited
    // for outside.
    assert_eq!(other.unwrap(), 1);
    assert_eq!(server.calls("incrby"), 3);
}

#[test]
fn a_reply_of_the_wrong_shape_fails_the_batch_and_its_socket_is_not_reused() {
    // Socket 0 (the one opened by open_blocking) answers INCRBY with a bulk string, as a
    // socket one reply out of step would; later sockets answer properly.
    let fake = redpipe_dev::FakeRedis::start(|request| {
        match (request.connection, request.command.as_str()) {
            (_, "ECHO") => redpipe_dev::Answer::bulk(&request.args[0]),
            (0, "INCRBY") => redpipe_dev::Answer::bulk(b"stale"),
            (_, "INCRBY") => redpipe_dev::Answer::int(7),
            (_, "GET") => redpipe_dev::Answer::bulk(&request.args[0]),
            _ => redpipe_dev::Answer::simple("OK"),
        }
    });
    let registry = blocking_registry(&fake.url());
    let pipe = registry.pipeline();
    let got: Deferred<String> = pipe.get("k");
    let n: Deferred<i64> = pipe.incr("n", 1);
    let error = pipe.execute_blocking().unwrap_err();
    assert!(error.to_string().contains("out of step"), "{error}");
    assert!(
        got.try_get().is_err(),
        "every reply of the batch is suspect"
    );
    assert!(n.try_get().is_err());

    let pipe = registry.pipeline();
    let got: Deferred<String> = pipe.get("k");
    let n: Deferred<i64> = pipe.incr("n", 1);
    pipe.execute_blocking().unwrap();
    assert_eq!((got.as_str(), *n), ("k", 7));
    assert_eq!(
        fake.accepted(),
        2,
        "the suspect socket was closed, not reused"
    );
}

#[test]
fn an_extra_reply_fails_its_batch_and_is_never_read_by_the_next() {
    // Socket 0 answers each GET twice (a server or proxy out of step): the extra reply
    // must not become the next batch's answer on that socket.
    let fake = redpipe_dev::FakeRedis::start(|request| {
        match (request.connection, request.command.as_str()) {
            (0, "GET") => {
                let redpipe_dev::Answer::Bytes(once) = redpipe_dev::Answer::bulk(&request.args[0])
                else {
                    unreachable!("a bulk reply is bytes")
                };
                redpipe_dev::Answer::Bytes(once.repeat(2))
            }
            (_, "GET") => redpipe_dev::Answer::bulk(&request.args[0]),
            (_, "ECHO") => redpipe_dev::Answer::bulk(&request.args[0]),
            _ => redpipe_dev::Answer::simple("OK"),
        }
    });
    let registry = blocking_registry(&fake.url());
    let pipe = registry.pipeline();
    let x: Deferred<String> = pipe.get("x");
    let error = pipe.execute_blocking().unwrap_err();
    assert!(error.to_string().contains("out of step"), "{error}");
    assert!(x.try_get().is_err());
    for key in ["y", "z"] {
        let pipe = registry.pipeline();
        let got: Deferred<String> = pipe.get(key);
        pipe.execute_blocking().unwrap();
        assert_eq!(*got, key, "no reply of another command is read");
    }
    assert_eq!(fake.accepted(), 2, "the socket out of step was closed");
}
