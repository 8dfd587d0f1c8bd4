//! Every queued deferred resolves exactly once, whatever happens to its execute: dropped
//! futures, panicking combine steps, backends that answer with the wrong number of
//! replies, concurrent awaits, failures outside a callback's scope, network calls inside
//! combine steps; and concurrent executes on one connection coalesced into shared batches.
//! Against real redis-server processes (and small custom backends on top of them).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redpipe::{
    pipelined, Backend, Batch, BoxFuture, Connection, Deferred, Error, Pipeline, Registry, Replies,
    Struct,
};
use redpipe_dev::{counted_server, Counting, RedisServer};

#[pipelined]
fn incr_twice(pipe: &Pipeline, key: &str) -> i64 {
    let a: Deferred<i64> = pipe.incr(key, 1);
    let b: Deferred<i64> = pipe.incr(key, 1);
    *a + *b
}

fn is_cancelled<T: std::fmt::Debug>(d: &Deferred<T>) -> bool {
    matches!(d.try_get(), Err(Error::Cancelled(_)))
}

#[tokio::test]
async fn a_dropped_execute_cancels_every_deferred() {
    let (_server, registry) = served().await;
    let pipe = registry.pipeline();
    let _: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(0.3));
    let n: Deferred<i64> = pipe.incr("n", 1);
    let sum = incr_twice(&pipe, "m");
    let timed_out = tokio::time::timeout(Duration::from_millis(50), pipe.execute()).await;
    assert!(timed_out.is_err(), "the execute should still be waiting");
    assert!(is_cancelled(&n), "{:?}", n.try_get());
    assert!(is_cancelled(&sum), "{:?}", sum.try_get());
    let message = n.try_get().unwrap_err().to_string();
    assert!(message.contains("dropped"), "{message}");

    // The connection keeps working, and the late replies are never taken for others'.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let pipe = registry.pipeline();
    let again: Deferred<i64> = pipe.incr("other", 7);
    pipe.execute().await.unwrap();
    assert_eq!(again, 7);
}

#[tokio::test]
async fn a_dropped_standalone_call_is_cancelled_and_a_clone_says_so() {
    let (server, registry) = served().await;
    let _: () = redis::cmd("SET")
        .arg("m")
        .arg(0)
        .query(&mut server.sync())
        .unwrap();
    let sleeping = registry
        .scope(async {
            // A standalone call: its root executes on the first await.
            let slow = slow_incr(0.3, "n");
            let clone = slow.clone();
            let timed_out = tokio::time::timeout(Duration::from_millis(50), slow).await;
            assert!(timed_out.is_err());
            clone
        })
        .await;
    assert!(is_cancelled(&sleeping), "{:?}", sleeping.try_get());
}

/// A standalone call that waits `seconds` on the server (BLPOP of an empty list), then
/// increments `key`: its value is 1 on a fresh server.
fn slow_incr(seconds: f64, key: &str) -> Deferred<i64> {
    let pipe = redpipe::Nested::new(None);
    let _: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(seconds));
    let n: Deferred<i64> = pipe.incr(key, 1);
    pipe.resolve(move || *n)
}

/// Polls `future` once from the current task (so the task's waker is the one registered):
/// true when it is still pending.
async fn polled_once<F: std::future::Future + Unpin>(future: &mut F) -> bool {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::pin::Pin::new(&mut *future).poll(cx).is_pending())
    })
    .await
}

#[tokio::test]
async fn a_dropped_await_leaves_a_standalone_call_to_a_clone_awaited_elsewhere() {
    let (server, registry) = served().await;
    // Whether the dropped await started the execute, or polled after the other one (then
    // the execute holds only the dropped await's waker), the other one gets the value.
    for dropped_polls_last in [false, true] {
        let key = format!("n-{dropped_polls_last}");
        let slow = registry.scope(async { slow_incr(0.3, &key) }).await;
        let clone = slow.clone();
        let mut dropped = Box::pin(tokio::time::timeout(Duration::from_secs(60), slow));
        if !dropped_polls_last {
            assert!(polled_once(&mut dropped).await);
        }
        let (polled, other_polled) = tokio::sync::oneshot::channel();
        let elsewhere = tokio::spawn(async move {
            let mut call = std::future::IntoFuture::into_future(clone);
            assert!(polled_once(&mut call).await);
            polled.send(()).unwrap();
            call.await
        });
        other_polled.await.unwrap();
        if dropped_polls_last {
            assert!(polled_once(&mut dropped).await);
        }
        drop(dropped);
        let value = tokio::time::timeout(Duration::from_secs(5), elsewhere)
            .await
            .expect("the other await is woken and drives the execute to its end")
            .unwrap();
        assert_eq!(
            value.unwrap(),
            1,
            "dropped await polled last: {dropped_polls_last}"
        );
    }
    assert_eq!(server.calls("incrby"), 2);
}

/// A standalone call whose combine step holds its execute (it runs inside a poll) until
/// the returned sender signals, or gives up after 5 s and says `blocked`; and the flag it
/// sets when it starts waiting. Its reply takes 200 ms (a BLPOP), so a poll made right
/// after the call cannot be the one that finds it.
async fn held_in_its_combine_step(
    registry: &Registry,
    blocked: &'static str,
) -> (
    Deferred<&'static str>,
    Arc<std::sync::atomic::AtomicBool>,
    std::sync::mpsc::Sender<()>,
) {
    let entered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (signal, signalled) = std::sync::mpsc::channel::<()>();
    let step_entered = Arc::clone(&entered);
    let call = registry
        .scope(async move {
            let pipe = redpipe::Nested::new(None);
            let _: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(0.2));
            pipe.resolve(move || {
                step_entered.store(true, Ordering::SeqCst);
                match signalled.recv_timeout(Duration::from_secs(5)) {
                    Ok(()) => "signalled",
                    Err(_) => blocked,
                }
            })
        })
        .await;
    (call, entered, signal)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_await_that_finds_a_clone_polling_the_execute_does_not_block_its_thread() {
    let (_server, registry) = served().await;
    let (call, entered, signal) =
        held_in_its_combine_step(&registry, "the other await blocked its worker thread").await;
    let holder = tokio::spawn(std::future::IntoFuture::into_future(call.clone()));
    // The test's own thread is not one of the runtime's workers: it is free whatever the
    // workers do.
    while !entered.load(Ordering::SeqCst) {
        tokio::task::yield_now().await;
    }
    // This poll must return at once (not wait for the lock the combine step's poll holds),
    // so that this thread is free to send the signal.
    let mut call = std::future::IntoFuture::into_future(call);
    assert!(polled_once(&mut call).await);
    signal.send(()).unwrap();
    assert_eq!(call.await.unwrap(), "signalled");
    assert_eq!(holder.await.unwrap().unwrap(), "signalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_await_while_a_clone_polls_the_execute_does_not_block_the_thread() {
    let (_server, registry) = served().await;
    let (call, entered, signal) =
        held_in_its_combine_step(&registry, "the dropped await blocked its thread").await;
    // This await starts the execute (and joins it); it is not polled again, so the other
    // await, on a worker, polls last and is the one that runs the combine step.
    let mut mine = std::future::IntoFuture::into_future(call.clone());
    assert!(polled_once(&mut mine).await);
    let holder = tokio::spawn(std::future::IntoFuture::into_future(call));
    while !entered.load(Ordering::SeqCst) {
        tokio::task::yield_now().await;
    }
    // Dropped while the other await holds the execute: it must not wait for it.
    drop(mine);
    signal.send(()).unwrap();
    assert_eq!(holder.await.unwrap().unwrap(), "signalled");
}

#[tokio::test]
async fn a_standalone_combine_step_that_panics_cancels_a_clone_awaited_elsewhere() {
    let (_server, registry) = served().await;
    let call: Deferred<i64> = registry
        .scope(async {
            let pipe = redpipe::Nested::new(None);
            let _: Deferred<redis::Value> = pipe.query(redis::cmd("BLPOP").arg("empty").arg(0.1));
            let n: Deferred<i64> = pipe.incr("n", 1);
            pipe.resolve(move || -> i64 { panic!("combine step bug, n = {}", *n) })
        })
        .await;
    let first = tokio::spawn(std::future::IntoFuture::into_future(call.clone()));
    let second = tokio::spawn(std::future::IntoFuture::into_future(call.clone()));
    let (first, second) = tokio::join!(first, second);
    // One of the two awaits polled the execute when the step panicked: the panic reached
    // its task. The other is woken and reads the cancelled outcome.
    let (panicked, resolved): (Vec<_>, Vec<_>) =
        [first, second].into_iter().partition(Result::is_err);
    assert_eq!(panicked.len(), 1, "{resolved:?}");
    assert!(panicked[0].as_ref().unwrap_err().is_panic());
    let outcome = resolved.into_iter().next().unwrap().unwrap();
    assert!(matches!(outcome, Err(Error::Cancelled(_))), "{outcome:?}");
    assert!(is_cancelled(&call), "{:?}", call.try_get());
}

#[tokio::test]
async fn a_panicking_combine_step_cancels_its_deferred_and_later_ones() {
    let (_server, registry, _) = counted_server().await;
    let pipe = registry.pipeline();
    let before = incr_twice(&pipe, "a");
    let panicking: Deferred<i64> = {
        let child = redpipe::Nested::new(&pipe);
        let n: Deferred<i64> = child.incr("b", 1);
        child.resolve(move || {
            if *n == 1 {
                panic!("combine step bug");
            }
            *n
        })
    };
    let after = incr_twice(&pipe, "c");
    let command: Deferred<i64> = pipe.incr("d", 1);

    let task = tokio::spawn(pipe.execute());
    let joined = task.await;
    assert!(
        joined.unwrap_err().is_panic(),
        "the panic reaches the caller"
    );
    assert_eq!(before, 3);
    assert!(is_cancelled(&panicking), "{:?}", panicking.try_get());
    assert!(is_cancelled(&after), "{:?}", after.try_get());
    assert_eq!(
        command, 1,
        "command deferreds were filled before callbacks ran"
    );
}

/// A reply that counts how many of its kind are alive.
struct Tracked(i64);

static TRACKED: AtomicUsize = AtomicUsize::new(0);

impl redis::FromRedisValue for Tracked {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        let n = i64::from_redis_value(value)?;
        TRACKED.fetch_add(1, Ordering::SeqCst);
        Ok(Tracked(n))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        TRACKED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A nested function whose combine step reads two tracked replies; `fail` makes it panic
/// after reading them.
fn read_two_tracked(pipe: &Pipeline, key: &str, fail: bool) -> Deferred<i64> {
    let child = redpipe::Nested::new(pipe);
    let a: Deferred<Tracked> = child.query(redis::cmd("INCRBY").arg(key).arg(1));
    let b: Deferred<Tracked> = child.query(redis::cmd("INCRBY").arg(key).arg(1));
    child.resolve(move || {
        let sum = a.0 + b.0;
        if fail {
            panic!("combine step bug after reading {sum}");
        }
        sum
    })
}

#[tokio::test]
async fn replies_read_by_combine_steps_are_freed_when_the_callbacks_end_even_after_a_panic() {
    let (_server, registry, _) = counted_server().await;
    // Deferreds dropped while callbacks run give their handles back in batches: nothing
    // may be left held once the callbacks are over.
    let pipe = registry.pipeline();
    let sums: Vec<Deferred<i64>> = (0..3)
        .map(|i| read_two_tracked(&pipe, &format!("t{i}"), false))
        .collect();
    // The last callback drops a tracked reply of its own: nothing after it gives the
    // batch's handles back but the end of the callbacks.
    let last: Deferred<Tracked> = pipe.query(redis::cmd("INCRBY").arg("t9").arg(1));
    pipe.on_execute(move || assert_eq!(last.0, 1));
    pipe.execute().await.unwrap();
    assert_eq!(sums, [3, 3, 3]);
    assert_eq!(
        TRACKED.load(Ordering::SeqCst),
        0,
        "every reply read by a combine step is dropped with it"
    );

    // Unwinding from a combine step gives back what its drops left pending too.
    let pipe = registry.pipeline();
    let fine = read_two_tracked(&pipe, "u", false);
    let panicking = read_two_tracked(&pipe, "v", true);
    let after = read_two_tracked(&pipe, "w", false);
    let last: Deferred<Tracked> = pipe.query(redis::cmd("INCRBY").arg("x").arg(1));
    pipe.on_execute(move || assert_eq!(last.0, 1));
    let joined = tokio::spawn(pipe.execute()).await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(fine, 3);
    assert!(is_cancelled(&panicking) && is_cancelled(&after));
    assert_eq!(
        TRACKED.load(Ordering::SeqCst),
        0,
        "the replies read before the panic, and those of the skipped steps, are dropped"
    );
}

/// A backend that drops the last reply, or adds one, to every batch.
struct WrongCount {
    inner: Arc<dyn Backend>,
    extra: bool,
}

impl Backend for WrongCount {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            match self.inner.send(batch).await {
                Replies::Values(mut values) => {
                    if self.extra {
                        values.push(redis::Value::Okay);
                    } else {
                        values.pop();
                    }
                    Replies::Values(values)
                }
                other => other,
            }
        })
    }
}

#[tokio::test]
async fn a_wrong_reply_count_fails_the_batch_naming_both_counts() {
    for extra in [false, true] {
        let server = RedisServer::start();
        let registry = Registry::new();
        let backend = WrongCount {
            inner: Arc::clone(server.connection().await.backend()),
            extra,
        };
        registry
            .connect_named("odd", Connection::new(backend))
            .unwrap();
        let pipe = registry.pipeline_on("odd");
        let deferreds: Vec<Deferred<i64>> = (0..3).map(|i| pipe.incr(format!("k{i}"), 1)).collect();
        let sum = incr_twice(&pipe, "s");
        let error = pipe.execute().await.unwrap_err();
        let text = error.to_string();
        let expected = if extra {
            "6 replies for 5 commands"
        } else {
            "4 replies for 5 commands"
        };
        assert!(text.contains("`odd`") && text.contains(expected), "{text}");
        for d in &deferreds {
            assert!(
                matches!(d.try_get(), Err(Error::Connection { .. })),
                "{:?}",
                d.try_get()
            );
        }
        assert!(matches!(sum.try_get(), Err(Error::Aborted(_))));
    }
}

#[tokio::test]
async fn concurrent_awaits_of_clones_of_a_standalone_deferred_all_get_the_value() {
    let (server, registry) = served().await;
    let values = registry
        .scope(async {
            let d = incr_twice(None, "k");
            let (a, b, c) = (d.clone(), d.clone(), d.clone());
            let (a, b, c, d) = tokio::join!(a, b, c, d);
            [a, b, c, d]
        })
        .await;
    for value in values {
        assert_eq!(value.unwrap(), 3);
    }
    assert_eq!(server.calls("incrby"), 2, "executed once");
}

#[derive(Debug, Clone, PartialEq, Struct)]
#[redpipe(keyspace = "P")]
struct Profile {
    #[redpipe(key)]
    id: String,
    name: String,
}

#[tokio::test]
async fn a_failed_command_aborts_only_the_callbacks_whose_scope_holds_it() {
    let (server, registry, _) = counted_server().await;
    let _: () = redis::cmd("SET")
        .arg("text")
        .arg("x")
        .query(&mut server.sync())
        .unwrap();
    for i in 0..5 {
        let _: () = redis::cmd("HSET")
            .arg(format!("P{{{i}}}"))
            .arg("name")
            .arg(format!("n{i}"))
            .query(&mut server.sync())
            .unwrap();
    }
    let pipe = registry.pipeline();
    let loads: Vec<_> = (0..5).map(|i| Profile::load(&pipe, i)).collect();
    let failing = incr_twice(&pipe, "text");
    let root_ran = Arc::new(Mutex::new(false));
    let flag = Arc::clone(&root_ran);
    pipe.on_execute(move || *flag.lock().unwrap() = true);
    let error = pipe.execute().await.unwrap_err();
    assert_eq!(error.failures().len(), 2, "{error}");
    for (i, load) in loads.iter().enumerate() {
        let profile = load.try_get().unwrap().as_ref().unwrap();
        assert_eq!(profile.name, format!("n{i}"));
    }
    assert!(matches!(failing.try_get(), Err(Error::Aborted(_))));
    assert!(
        !*root_ran.lock().unwrap(),
        "the root's scope holds every command"
    );
}

#[tokio::test]
async fn a_standalone_call_in_a_combine_step_is_an_error_not_not_ready() {
    let (_server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let inner = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&inner);
    let outer: Deferred<i64> = {
        let child = redpipe::Nested::new(&pipe);
        let n: Deferred<i64> = child.incr("n", 1);
        child.resolve(move || {
            let standalone = incr_twice(None, "elsewhere");
            *slot.lock().unwrap() = Some(standalone);
            *n
        })
    };
    pipe.execute().await.unwrap();
    assert_eq!(outer, 1);
    let standalone = inner.lock().unwrap().take().unwrap();
    let message = standalone.try_get().unwrap_err().to_string();
    assert!(
        message.contains("network call") && message.contains("combine step"),
        "{message}"
    );
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *standalone)).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("network call"), "{text}");
    assert_eq!(counting.batches(), 1, "nothing else was sent");
}

#[test]
fn not_ready_says_not_executed_yet_and_where_to_read() {
    let registry = Registry::new();
    let pipe = registry.pipeline();
    let n: Deferred<i64> = pipe.incr("n", 1);
    let message = n.try_get().unwrap_err().to_string();
    assert!(
        message.contains("not executed yet") && message.contains("tail"),
        "{message}"
    );
}

#[tokio::test]
async fn siblings_finished_out_of_order_keep_program_order() {
    let (_server, registry, _) = counted_server().await;
    let log = Arc::new(Mutex::new(Vec::new()));
    let pipe = registry.pipeline();
    let first = redpipe::Nested::new(&pipe);
    let second = redpipe::Nested::new(&pipe);
    let a: Deferred<i64> = first.incr("k", 1);
    let b: Deferred<i64> = second.incr("k", 10);
    let (l1, l2) = (Arc::clone(&log), Arc::clone(&log));
    let b_seen = second.resolve(move || {
        l2.lock().unwrap().push("second");
        *b
    });
    let a_seen = first.resolve(move || {
        l1.lock().unwrap().push("first");
        *a
    });
    pipe.execute().await.unwrap();
    // A nested pipeline's commands and callbacks join its parent when it finishes (as a
    // Python `with` block flushes on exit), so the one finished first runs first.
    assert_eq!((*a_seen, *b_seen), (11, 10));
    assert_eq!(*log.lock().unwrap(), ["second", "first"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_executes_on_one_connection_are_coalesced() {
    let (_server, registry, counting) = counted_server().await;
    let tasks = 500;
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let registry = registry.clone();
            tokio::spawn(async move {
                let pipe = registry.pipeline();
                let key = format!("key{i}");
                let set: Deferred<()> = pipe.set(&key, i);
                let got: Deferred<i64> = pipe.get(&key);
                let sum = incr_twice(&pipe, &format!("counter{i}"));
                pipe.execute().await.unwrap();
                set.try_get().unwrap();
                (i, *got, *sum)
            })
        })
        .collect();
    for handle in handles {
        let (i, got, sum) = handle.await.unwrap();
        assert_eq!(got, i as i64, "each execute gets its own replies");
        assert_eq!(sum, 3);
    }
    assert_eq!(counting.commands(), tasks * 4);
    assert!(
        counting.batches() < tasks,
        "{} batches for {tasks} executes",
        counting.batches()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalescing_can_be_turned_off_and_transactions_are_never_merged() {
    for (coalescing, transaction) in [(false, false), (true, true)] {
        let server = RedisServer::start();
        let counting = Counting::wrap(&server.connection().await);
        let registry = Registry::new();
        let connection = counting
            .connection()
            .with_coalescing(coalescing)
            .with_transaction(transaction);
        registry.connect(connection).unwrap();
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let registry = registry.clone();
                tokio::spawn(async move {
                    let pipe = registry.pipeline();
                    let n: Deferred<i64> = pipe.incr(format!("k{i}"), i);
                    pipe.execute().await.unwrap();
                    assert_eq!(n, i);
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        assert_eq!(counting.batches(), 50);
        if transaction {
            assert_eq!(server.calls("exec"), 50);
        }
    }
}

/// A backend that holds every batch until released, to make executes overlap for sure.
struct Gate {
    inner: Arc<dyn Backend>,
    sent: AtomicUsize,
    open: tokio::sync::Semaphore,
}

impl Gate {
    /// A gate on `server`, closed: every batch waits until permits are added.
    async fn closed(server: &RedisServer) -> Arc<Gate> {
        Arc::new(Gate {
            inner: Arc::clone(server.connection().await.backend()),
            sent: AtomicUsize::new(0),
            open: tokio::sync::Semaphore::new(0),
        })
    }

    /// A fresh server, and a registry whose default connection goes through a closed gate
    /// to it.
    async fn closed_default() -> (RedisServer, Arc<Gate>, Registry) {
        let server = RedisServer::start();
        let gate = Gate::closed(&server).await;
        let registry = Registry::new();
        registry
            .connect(Connection::from_arc(Arc::clone(&gate) as Arc<dyn Backend>))
            .unwrap();
        (server, gate, registry)
    }
}

impl Backend for Gate {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            self.sent.fetch_add(1, Ordering::SeqCst);
            if let Ok(permit) = self.open.acquire().await {
                permit.forget();
            }
            self.inner.send(batch).await
        })
    }
}

/// Spawns an execute of INCR `a` that finds the connection idle and is held at `gate`;
/// returns it once its batch reached the gate (the async twin of [`held_at_gate`]).
async fn first_held(
    registry: &Registry,
    gate: &Gate,
) -> (tokio::task::JoinHandle<Result<(), Error>>, Deferred<i64>) {
    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr("a", 1);
    let execute = tokio::spawn(pipe.execute());
    while gate.sent.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    (execute, a)
}

#[tokio::test]
async fn overlapping_executes_share_one_batch_and_a_dropped_one_is_cancelled() {
    let (server, gate, registry) = Gate::closed_default().await;

    // The first execute finds the connection idle and is held at the gate.
    let first = first_held(&registry, &gate).await;
    // Three more queue behind it; one of them is dropped before it is written.
    let mut queued = Vec::new();
    for key in ["b", "c", "d"] {
        let pipe = registry.pipeline();
        let n: Deferred<i64> = pipe.incr(key, 1);
        let mut execute = Box::pin(pipe.execute());
        assert!(pending(execute.as_mut()));
        queued.push((execute, n));
    }
    let (dropped, dropped_n) = queued.remove(1);
    drop(dropped);
    assert!(is_cancelled(&dropped_n));

    gate.open.add_permits(10);
    first.0.await.unwrap().unwrap();
    assert_eq!(first.1, 1);
    for (execute, n) in queued {
        execute.await.unwrap();
        assert_eq!(n, 1);
    }
    assert_eq!(
        gate.sent.load(Ordering::SeqCst),
        2,
        "one batch for the queued ones"
    );
    assert_eq!(
        server.calls("incrby"),
        3,
        "the dropped execute sent nothing"
    );
}

#[tokio::test]
async fn an_execute_dropped_while_its_coalesced_batch_is_in_flight_leaves_the_others_their_replies()
{
    let (server, gate, registry) = Gate::closed_default().await;
    let (first, a) = first_held(&registry, &gate).await;
    // Three executes queue behind it, each adding its own amount to its own key.
    let mut queued = Vec::new();
    for (key, by) in [("b", 2), ("c", 3), ("d", 4)] {
        let pipe = registry.pipeline();
        let ns: Vec<Deferred<i64>> = (0..2).map(|_| pipe.incr(key, by)).collect();
        let mut execute = Box::pin(pipe.execute());
        assert!(pending(execute.as_mut()));
        queued.push((execute, ns));
    }
    // The first batch goes through; the flusher's batch of the three is held at the gate.
    gate.open.add_permits(1);
    first.await.unwrap().unwrap();
    while gate.sent.load(Ordering::SeqCst) < 2 {
        tokio::task::yield_now().await;
    }
    let (dropped, dropped_ns) = queued.remove(1);
    drop(dropped);
    assert!(dropped_ns.iter().all(is_cancelled));
    gate.open.add_permits(1);
    for ((execute, ns), by) in queued.into_iter().zip([2, 4]) {
        execute.await.unwrap();
        let values: Vec<i64> = ns.iter().map(|n| **n).collect();
        assert_eq!(values, [by, 2 * by]);
    }
    assert_eq!(a, 1);
    assert_eq!(gate.sent.load(Ordering::SeqCst), 2);
    assert_eq!(
        server.calls("incrby"),
        7,
        "the dropped execute was already written"
    );
}

#[tokio::test]
async fn an_execute_dropped_after_its_coalesced_batch_was_answered_keeps_its_values() {
    let (server, gate, registry) = Gate::closed_default().await;
    let (first, a) = first_held(&registry, &gate).await;
    // Queued behind the first, then never polled again: the flusher answers it, and it is
    // dropped before it picks its outcome up.
    let pipe = registry.pipeline();
    let ns: Vec<Deferred<i64>> = (0..3).map(|_| pipe.incr("b", 5)).collect();
    let mut execute = Box::pin(pipe.execute());
    assert!(pending(execute.as_mut()));
    gate.open.add_permits(10);
    first.await.unwrap().unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while !ns.iter().all(Deferred::is_ready) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the coalesced batch was answered");
    drop(execute);
    let values: Vec<i64> = ns.iter().map(|n| **n).collect();
    assert_eq!(values, [5, 10, 15], "answered values are not cancelled");
    assert_eq!(a, 1);
    assert_eq!(gate.sent.load(Ordering::SeqCst), 2);
    assert_eq!(server.calls("incrby"), 4);
    assert_idle(&registry).await;
}

#[tokio::test]
async fn an_execute_on_two_names_of_one_connection_dropped_mid_flight_leaves_it_usable() {
    let server = RedisServer::start();
    let gate = Gate::closed(&server).await;
    let registry = Registry::new();
    let connection = Connection::from_arc(Arc::clone(&gate) as Arc<dyn Backend>);
    registry.connect(connection.clone()).unwrap();
    registry.connect_named("alias", connection).unwrap();

    // One execute, two names of one connection: one batch is sent (and held at the
    // gate), the other queues behind it on the same connection.
    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr("a", 1);
    let aliased = redpipe::Nested::on(&pipe, "alias");
    let b: Deferred<i64> = aliased.incr("b", 1);
    let _ = aliased.finish();
    let mut execute = Box::pin(pipe.execute());
    assert!(pending(execute.as_mut()));
    assert_eq!(gate.sent.load(Ordering::SeqCst), 1);
    drop(execute);
    assert!(is_cancelled(&a) && is_cancelled(&b));

    gate.open.add_permits(10);
    assert_idle(&registry).await;
    assert_eq!(
        server.calls("incrby"),
        1,
        "nothing of the dropped execute was sent"
    );
}

/// Waits (blocking the thread, outside any runtime) until `gate` has seen `sends` batches.
fn wait_for_sends(gate: &Gate, sends: usize) {
    let start = std::time::Instant::now();
    while gate.sent.load(Ordering::SeqCst) < sends {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "batch {sends} was never sent"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spawns on `runtime` an execute of INCR `a` that finds the connection idle and is held
/// at `gate`; returns it once its batch reached the gate.
fn held_at_gate(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    gate: &Gate,
) -> (tokio::task::JoinHandle<Result<(), Error>>, Deferred<i64>) {
    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr("a", 1);
    let execute = runtime.spawn(pipe.execute());
    wait_for_sends(gate, 1);
    (execute, a)
}

#[test]
fn a_coalesced_write_dropped_with_its_runtime_resolves_its_executes_and_frees_the_connection() {
    let runtime = one_worker_runtime;
    // The connection (and its redis-rs driver) lives on `main`; `other` is the runtime
    // that shuts down with a coalesced write in flight.
    let main = runtime();
    let other = runtime();
    let (_server, gate, registry) = main.block_on(Gate::closed_default());
    let (first, a) = held_at_gate(&main, &registry, &gate);
    // One on `other` queues behind it and starts the flusher there, whose first write is
    // held at the gate too.
    let queued = registry.pipeline();
    let x: Deferred<i64> = queued.incr("x", 1);
    let queued = other.spawn(queued.execute());
    wait_for_sends(&gate, 2);
    // A third queues for the flusher's next write.
    let second = registry.pipeline();
    let b: Deferred<i64> = second.incr("b", 1);
    let mut second = Box::pin(second.execute());
    assert!(pending(second.as_mut()));
    // The first two writes go through; the flusher's next one, with the third execute's
    // command, is held at the gate; then the flusher's runtime shuts down, dropping it.
    gate.open.add_permits(2);
    main.block_on(first).unwrap().unwrap();
    assert_eq!(a, 1);
    wait_for_sends(&gate, 3);
    assert_eq!(x, 1);
    drop(queued);
    drop(other);

    main.block_on(async {
        let outcome = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the queued execute was left waiting for a write that was dropped");
        assert!(outcome.is_err());
        match b.try_get() {
            Err(Error::Connection { source, .. }) => assert!(
                source.to_string().contains("dropped"),
                "the error says what happened: {source}"
            ),
            other => panic!("expected a connection error, got {other:?}"),
        }
        gate.open.add_permits(10);
        assert_idle(&registry).await;
    });
}

#[test]
fn a_flusher_on_a_runtime_that_stops_being_driven_hands_the_queue_on() {
    flusher_left_on_a_job_runtime(true);
}

#[test]
fn a_flusher_on_a_runtime_that_stops_being_driven_lets_executes_queued_outside_a_runtime_go() {
    flusher_left_on_a_job_runtime(false);
}

/// A flusher started on a job thread's current-thread runtime, which runs only inside its
/// `block_on`, while an execute queues for its next write: first polled on the service's
/// multi-thread runtime (`queued_in_main`), or outside any runtime. That execute must not
/// wait for the job's runtime to run again.
fn flusher_left_on_a_job_runtime(queued_in_main: bool) {
    let main = one_worker_runtime();
    let job = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_server, gate, registry) = main.block_on(Gate::closed_default());
    let (first, a) = held_at_gate(&main, &registry, &gate);
    // The job's execute queues behind it and starts the flusher on the job's runtime,
    // whose write is held at the gate too.
    let job_pipe = registry.pipeline();
    let x: Deferred<i64> = job_pipe.incr("x", 1);
    let job_thread = std::thread::spawn(move || {
        let outcome = job.block_on(job_pipe.execute());
        (job, outcome)
    });
    wait_for_sends(&gate, 2);
    // A second execute on `main` queues for the flusher's next write.
    let second = registry.pipeline();
    let b: Deferred<i64> = second.incr("b", 1);
    let mut second = Box::pin(second.execute());
    {
        let _in_main = queued_in_main.then(|| main.enter());
        assert!(pending(second.as_mut()));
    }
    let second = main.spawn(second);
    // Both writes go through; the job's `block_on` returns with its reply, and its runtime
    // is not driven again.
    gate.open.add_permits(2);
    main.block_on(first).unwrap().unwrap();
    let (_job, outcome) = job_thread.join().unwrap();
    outcome.unwrap();
    assert_eq!((*a, *x), (1, 1));
    gate.open.add_permits(10);
    main.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the queued execute waited for a flusher whose runtime is not driven")
            .unwrap()
            .unwrap();
        assert_eq!(b, 1);
        assert_idle(&registry).await;
    });
}

/// An execute first polled outside any runtime while another execute's send is in
/// flight: no flusher can be started there, so it sends its own batch alongside, at once,
/// and the connection is idle once both are answered.
#[test]
fn an_execute_outside_any_runtime_while_a_send_is_in_flight_goes_alongside_it() {
    let main = one_worker_runtime();
    let (_server, gate, registry) = main.block_on(Gate::closed_default());
    let (first, a) = held_at_gate(&main, &registry, &gate);
    let second = registry.pipeline();
    let b: Deferred<i64> = second.incr("b", 1);
    let outside = std::thread::spawn(move || park_on(second.execute()));
    // Its batch reaches the backend while the first one is still held there.
    wait_for_sends(&gate, 2);
    gate.open.add_permits(2);
    outside.join().unwrap().unwrap();
    main.block_on(first).unwrap().unwrap();
    assert_eq!((*a, *b), (1, 1));
    gate.open.add_permits(10);
    main.block_on(assert_idle(&registry));
}

/// A multi-thread runtime of one worker, with its drivers.
fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `future` on this thread, outside any runtime, parking it between polls.
fn park_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// A backend whose second batch panics; the first waits until released.
struct PanicsOnSecond {
    gate: Arc<Gate>,
}

impl Backend for PanicsOnSecond {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        if self.gate.sent.load(Ordering::SeqCst) == 1 {
            self.gate.sent.fetch_add(1, Ordering::SeqCst);
            panic!("a backend bug");
        }
        self.gate.send(batch)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_panicking_in_a_coalesced_write_fails_its_executes_and_frees_the_connection() {
    let server = RedisServer::start();
    let gate = Gate::closed(&server).await;
    let registry = Registry::new();
    registry
        .connect(Connection::new(PanicsOnSecond {
            gate: Arc::clone(&gate),
        }))
        .unwrap();
    let (first, a) = first_held(&registry, &gate).await;
    let second = registry.pipeline();
    let b: Deferred<i64> = second.incr("b", 1);
    let mut second = Box::pin(second.execute());
    assert!(pending(second.as_mut()));
    // The first goes through; the write of the queued one panics in the backend.
    gate.open.add_permits(10);
    first.await.unwrap().unwrap();
    assert_eq!(a, 1);
    let outcome = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the queued execute was left waiting for a write that panicked");
    assert!(outcome.is_err());
    assert!(
        matches!(b.try_get(), Err(Error::Connection { .. })),
        "{:?}",
        b.try_get()
    );
    assert_idle(&registry).await;
    assert_eq!(
        server.calls("incrby"),
        2,
        "the panicking write sent nothing"
    );
}

/// Checks that the default connection is idle: an execute on key `c` (new) is sent at
/// once and answered.
async fn assert_idle(registry: &Registry) {
    let pipe = registry.pipeline();
    let c: Deferred<i64> = pipe.incr("c", 1);
    tokio::time::timeout(Duration::from_secs(10), pipe.execute())
        .await
        .expect("the connection was left busy")
        .unwrap();
    assert_eq!(c, 1);
}

/// A fresh server, and a registry whose default connection is opened to it.
async fn served() -> (RedisServer, Registry) {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    (server, registry)
}

/// Polls a future once; true when it is still pending.
fn pending<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    future.poll(&mut cx).is_pending()
}

#[tokio::test]
async fn a_discarded_nested_pipeline_cancels_its_deferreds() {
    let (_server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let (queued, combined) = {
        let child = redpipe::Nested::new(&pipe);
        let n: Deferred<i64> = child.incr("n", 1);
        let combined = {
            let grandchild = redpipe::Nested::new(&child);
            let m: Deferred<i64> = grandchild.incr("m", 1);
            grandchild.resolve(move || *m)
        };
        (n, combined)
        // `child` is dropped here without finishing (as on an early return).
    };
    let kept: Deferred<i64> = pipe.incr("k", 1);
    pipe.execute().await.unwrap();
    assert_eq!(kept, 1);
    for d in [&queued, &combined] {
        let message = d.try_get().unwrap_err().to_string();
        assert!(
            matches!(d.try_get(), Err(Error::Cancelled(_))) && message.contains("discarded"),
            "{message}"
        );
    }
    assert_eq!(counting.commands(), 1);
}

/// Wakes counted, from a waker whose clones do not `will_wake` the original (their vtable
/// is another one), as the wakers of some executors (`block_on`'s among them) behave.
mod unequal_waker {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    pub(super) struct Wakes(pub(super) AtomicUsize);

    static ORIGINAL: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);
    static CLONED: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

    /// The original waker; every clone of it has the other vtable.
    pub(super) fn original(wakes: &Arc<Wakes>) -> Waker {
        let data = Arc::into_raw(Arc::clone(wakes)).cast::<()>();
        // SAFETY: the vtable's functions treat `data` as the `Arc<Wakes>` it came from.
        unsafe { Waker::from_raw(RawWaker::new(data, &ORIGINAL)) }
    }

    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is an `Arc<Wakes>` this waker holds a count of.
        unsafe { Arc::increment_strong_count(data.cast::<Wakes>()) };
        RawWaker::new(data, &CLONED)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: as in `clone`; this consumes the waker's count.
        let wakes = unsafe { Arc::from_raw(data.cast::<Wakes>()) };
        wakes.0.fetch_add(1, Ordering::SeqCst);
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: as in `clone`.
        let wakes = unsafe { &*data.cast::<Wakes>() };
        wakes.0.fetch_add(1, Ordering::SeqCst);
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: as in `wake`.
        unsafe { Arc::decrement_strong_count(data.cast::<Wakes>()) };
    }
}

#[test]
fn a_standalone_call_never_wakes_the_await_that_finishes_it() {
    use std::future::{Future, IntoFuture};
    use std::task::{Context, Poll};
    let server = RedisServer::start();
    // 5 ms each way: the replies can never be there by the end of the first poll.
    let upstream = format!("127.0.0.1:{}", server.port()).parse().unwrap();
    let proxy = redpipe_dev::DelayProxy::start(upstream, Duration::from_millis(5)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let registry = Registry::new();
    let connection = runtime.block_on(Connection::open(&proxy.url())).unwrap();
    registry.connect(connection).unwrap();
    let wakes = Arc::new(unequal_waker::Wakes(AtomicUsize::new(0)));
    let waker = unequal_waker::original(&wakes);
    let mut cx = Context::from_waker(&waker);
    let call = registry.scope_blocking(|| incr_twice(None, "woken"));
    let mut call = std::pin::pin!(call.into_future());
    let mut polls = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let sum = loop {
        // Polled only when woken (or first), as an executor does.
        polls += 1;
        if let Poll::Ready(sum) = call.as_mut().poll(&mut cx) {
            break sum;
        }
        while wakes.0.load(Ordering::SeqCst) < polls {
            assert!(std::time::Instant::now() < deadline, "never woken");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    assert_eq!(sum.unwrap(), 1 + 2);
    assert_eq!(polls, 2, "one poll to send, one when the replies arrived");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        1,
        "woken by the replies only, not again by its own finished execute"
    );
}

#[tokio::test]
async fn an_execute_created_but_not_yet_awaited_does_not_hold_up_the_others() {
    // Creating an execute future sends nothing until it is polled: another execute
    // awaited first on the same connection must not wait for it.
    let (_server, registry) = served().await;
    let first = registry.pipeline();
    let a: Deferred<i64> = first.incr("a", 1);
    let first = first.execute();
    let second = registry.pipeline();
    let b: Deferred<i64> = second.incr("b", 1);
    tokio::time::timeout(Duration::from_secs(10), second.execute())
        .await
        .expect("the second execute waited for one that was never polled")
        .unwrap();
    assert_eq!(b, 1);
    first.await.unwrap();
    assert_eq!(a, 1);
}

#[tokio::test]
async fn an_execute_polled_once_and_left_does_not_hold_up_the_others() {
    // A `select!` loop that keeps an execute and, between its polls, handles a message
    // with an execute of its own on the same connection: the handler's execute must not
    // wait for the kept one to be polled again.
    let (_server, registry) = served().await;
    let kept = registry.pipeline();
    let a: Deferred<i64> = kept.incr("a", 1);
    let mut kept = Box::pin(kept.execute());
    assert!(pending(kept.as_mut()), "its batch is on its way");
    let handler = registry.pipeline();
    let b: Deferred<i64> = handler.incr("b", 1);
    tokio::time::timeout(Duration::from_secs(10), handler.execute())
        .await
        .expect("the handler's execute waited for the kept one to be polled")
        .unwrap();
    assert_eq!(b, 1);
    kept.await.unwrap();
    assert_eq!(a, 1);
}
