//! `#[pipelined]` against real redis-server processes: standalone calls, parents, nesting,
//! methods, generics, the `Result` and `Deferred` forms and named connections. Each test
//! starts its own server and uses its own registry.

use redis::FromRedisValue;
use redpipe::{pipelined, Deferred, Error, Pipeline};
use redpipe_dev::{counted_server, Counting, RedisServer};

fn keys(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("key{i}")).collect()
}

/// The seed's `incr_sum`.
#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

#[tokio::test]
async fn incr_sum_standalone_is_one_round_trip() {
    let (server, registry, counting) = counted_server().await;
    let total = registry
        .scope(async { incr_sum(None, &keys(0..100)).await })
        .await;
    assert_eq!(total.unwrap(), 100);
    assert_eq!(counting.batches(), 1);
    assert_eq!(server.calls("incrby"), 100);
}

#[tokio::test]
async fn incr_sum_twice_under_one_parent_is_one_round_trip() {
    let (_server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let first = incr_sum(&pipe, &keys(0..100));
    let second = incr_sum(Some(&pipe), &keys(100..200));
    assert!(!first.is_ready());
    pipe.execute().await.unwrap();
    assert_eq!(first, 100);
    assert_eq!(second, 100);
    assert_eq!(counting.batches(), 1);
}

/// Increments and sets a TTL: two commands, one result.
#[pipelined]
fn incr_and_expire(pipe: &Pipeline, key: &str, ttl: i64) -> i64 {
    let count: Deferred<i64> = pipe.incr(key, 1);
    let _: Deferred<bool> = pipe.expire(key, ttl);
    *count
}

#[tokio::test]
async fn hundred_increment_and_expire_calls_are_one_batch() {
    let (server, registry, counting) = counted_server().await;
    let pipe = registry.pipeline();
    let counts: Vec<Deferred<i64>> = (0..100)
        .map(|i| incr_and_expire(&pipe, &format!("hit{}", i % 10), 60))
        .collect();
    pipe.execute().await.unwrap();
    assert_eq!(counting.batches(), 1);
    assert_eq!(counting.commands(), 200);
    // Ten calls per key, in program order: the last call on each key sees 10.
    assert_eq!(counts[99], 10);
    assert_eq!(counts[0], 1);
    let ttl: i64 = redis::cmd("TTL")
        .arg("hit3")
        .query(&mut server.sync())
        .unwrap();
    assert!(ttl > 0 && ttl <= 60);
}

#[pipelined]
fn leaf(pipe: &Pipeline, key: &str) -> i64 {
    let count: Deferred<i64> = pipe.incr(key, 1);
    *count
}

#[pipelined]
fn middle(pipe: &Pipeline, key: &str) -> i64 {
    let a = leaf(pipe, key);
    let b = leaf(pipe, key);
    *a + *b
}

#[pipelined]
fn top(pipe: &Pipeline, key: &str) -> i64 {
    let parts: Vec<Deferred<i64>> = (0..3).map(|_| middle(pipe, key)).collect();
    parts.iter().map(|p| **p).sum()
}

#[tokio::test]
async fn depth_three_nesting_is_one_round_trip() {
    let (_server, registry, counting) = counted_server().await;
    // Six increments of one key in program order: 1+2+3+4+5+6.
    let total = registry.scope(async { top(None, "deep").await }).await;
    assert_eq!(total.unwrap(), 21);
    assert_eq!(counting.batches(), 1);
    let pipe = registry.pipeline();
    let again = top(&pipe, "deep");
    let alone = middle(&pipe, "deep");
    pipe.execute().await.unwrap();
    assert_eq!(again, 7 + 8 + 9 + 10 + 11 + 12);
    assert_eq!(alone, 13 + 14);
    assert_eq!(counting.batches(), 2);
}

/// A user type with pipelined methods.
struct Counter {
    prefix: String,
}

impl Counter {
    /// Increments `name` under the prefix.
    #[pipelined]
    fn bump(&self, pipe: &Pipeline, name: &str) -> i64 {
        let count: Deferred<i64> = pipe.incr(format!("{}:{name}", self.prefix), 1);
        *count
    }

    /// The current count, as is.
    #[pipelined]
    fn current(&self, name: &str, pipe: &Pipeline) -> Deferred<Option<i64>> {
        pipe.get(format!("{}:{name}", self.prefix))
    }
}

/// Reads `key` as any reply type.
#[pipelined]
fn get_as<T: FromRedisValue + Clone + Send + Sync + 'static>(
    pipe: &Pipeline,
    key: &str,
) -> Option<T> {
    let value: Deferred<Option<T>> = pipe.get(key);
    value.try_get().ok().cloned().flatten()
}

#[tokio::test]
async fn methods_and_generics() {
    let (_server, registry, counting) = counted_server().await;
    let counter = Counter { prefix: "c".into() };
    let pipe = registry.pipeline();
    let one = counter.bump(&pipe, "x");
    let two = counter.bump(&pipe, "x");
    let now = counter.current("x", &pipe);
    let text = get_as::<String>(&pipe, "c:x");
    let number = get_as::<i64>(&pipe, "c:x");
    let missing = get_as::<i64>(&pipe, "c:nothing");
    pipe.execute().await.unwrap();
    assert_eq!((*one, *two), (1, 2));
    assert_eq!(now, Some(2));
    assert_eq!(text, Some("2".to_owned()));
    assert_eq!(number, Some(2));
    assert_eq!(missing, None);
    assert_eq!(counting.batches(), 1);
}

/// Adds `amount` to `key`, refusing a negative amount before anything is queued, and
/// refusing a result over 100 in the combine step.
#[pipelined]
fn add_bounded(pipe: &Pipeline, key: &str, amount: i64) -> Result<i64, Error> {
    let before: Deferred<Option<i64>> = pipe.get(key);
    if amount < 0 {
        Err(Error::invalid_value(
            "amount",
            format!("{amount} is negative"),
        ))?;
    }
    let after: Deferred<i64> = pipe.incr(key, amount);
    drop(before);
    // The tail is the combine step: `?` here fills the deferred with the error.
    at_most_100(*after.try_get()?)
}

fn at_most_100(value: i64) -> Result<i64, Error> {
    if value > 100 {
        return Err(Error::invalid_operation(format!("{value} is over 100")));
    }
    Ok(value)
}

#[tokio::test]
async fn result_form_discards_everything_on_an_error_in_the_body() {
    let (server, registry, counting) = counted_server().await;
    // Standalone: the error comes back and nothing was sent.
    let refused = registry
        .scope(async { add_bounded(None, "bounded", -1).await })
        .await;
    match refused {
        Err(Error::InvalidValue { field, reason }) => {
            assert_eq!(&*field, "amount");
            assert!(reason.contains("negative"));
        }
        other => panic!("expected InvalidValue, got {other:?}"),
    }
    assert_eq!(counting.batches(), 0);

    // Under a parent: the failed call's GET is discarded, its siblings go through.
    let pipe = registry.pipeline();
    let ok = add_bounded(&pipe, "bounded", 60);
    let bad = add_bounded(&pipe, "bounded", -5);
    let over = add_bounded(&pipe, "bounded", 60);
    pipe.execute().await.unwrap();
    assert_eq!(ok, 60);
    assert!(matches!(bad.try_get(), Err(Error::InvalidValue { .. })));
    assert!(matches!(over.try_get(), Err(Error::InvalidOperation(_))));
    assert_eq!(server.calls("get"), 2);
    assert_eq!(server.calls("incrby"), 2);
}

#[pipelined]
fn sibling_reader(pipe: &Pipeline, key: &str) -> String {
    let first = incr_sum(pipe, &[key.to_owned()]);
    let doubled = {
        let first = first.clone();
        let _: Deferred<i64> = pipe.incr(key, 1);
        first
    };
    // The combine step reads the result of an earlier sibling's combine step.
    format!("first={} again={}", *first, *doubled * 2)
}

#[tokio::test]
async fn combine_step_reads_an_earlier_siblings_result() {
    let (_server, registry, _counting) = counted_server().await;
    let pipe = registry.pipeline();
    let sum = incr_sum(&pipe, &keys(0..3));
    let text = sibling_reader(&pipe, "sib");
    pipe.execute().await.unwrap();
    assert_eq!(sum, 3);
    assert_eq!(text, "first=1 again=2".to_owned());
}

/// Always on the "audit" connection, whatever the caller's pipeline uses.
#[pipelined(connection = "audit")]
fn audit(pipe: &Pipeline, event: &str) -> i64 {
    let length: Deferred<i64> = pipe.rpush("audit", event);
    *length
}

#[pipelined]
fn act(pipe: &Pipeline, key: &str) -> (i64, i64) {
    let count: Deferred<i64> = pipe.incr(key, 1);
    let logged = audit(pipe, key);
    (*count, *logged)
}

#[tokio::test]
async fn named_connection_under_a_root_on_another_connection() {
    let (main, registry, counting) = counted_server().await;
    let audit_server = RedisServer::start();
    let audit_counting = Counting::wrap(&audit_server.connection().await);
    registry
        .connect_named("audit", audit_counting.connection())
        .unwrap();
    let pipe = registry.pipeline();
    let first = act(&pipe, "acted");
    let second = act(&pipe, "acted");
    pipe.execute().await.unwrap();
    assert_eq!(first, (1, 1));
    assert_eq!(second, (2, 2));
    assert_eq!((counting.batches(), audit_counting.batches()), (1, 1));
    assert_eq!(main.calls("rpush"), 0);
    assert_eq!(audit_server.calls("rpush"), 2);
    assert_eq!(audit_server.calls("incrby"), 0);
    // Standalone, the function opens its own root on its connection.
    let third = registry.scope(async { audit(None, "alone").await }).await;
    assert_eq!(third.unwrap(), 3);
}

/// Queues only: no return type.
#[pipelined]
fn touch(pipe: &Pipeline, key: &str) {
    let _: Deferred<()> = pipe.set(key, "1");
}

#[tokio::test]
async fn unit_functions_only_queue() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async { touch(None, "t").await })
        .await
        .unwrap();
    assert_eq!(counting.batches(), 1);
    let value: String = redis::cmd("GET")
        .arg("t")
        .query(&mut server.sync())
        .unwrap();
    assert_eq!(value, "1");
}

/// Takes deferreds as a whole (what a helper that stores or forwards them does).
fn both(first: Deferred<i64>, second: Deferred<i64>) -> Vec<Deferred<i64>> {
    vec![first, second]
}

/// The uses of a deferred the statements before the tail may make: none reads its value,
/// so `#[pipelined]` accepts them (reads there are a compile error, see `tests/ui`).
#[pipelined]
fn deferred_uses_before_the_tail(pipe: &Pipeline, key: &str) -> (i64, i64, i64, i64, bool) {
    let count = pipe.incr::<i64, _, _>(key, 1);
    let copy = count.clone(); // cloned
    let parts = both(count.clone(), copy); // passed to a function as a whole
    let copy = 3; // a new `copy`, no longer the deferred
    let shadowed = copy + 1;
    let later = {
        let count = count.clone();
        move || *count * 10 // moved into a closure, which runs in the tail
    };
    // Asking whether it is ready, or failed while queueing, needs no value.
    let queued = !count.is_ready() && count.clone().check().is_ok();
    // The tail runs after the round trip: every read is fine here.
    (
        *count,
        parts.iter().map(|part| **part).sum(),
        later(),
        shadowed,
        queued,
    )
}

#[tokio::test]
async fn deferreds_cloned_passed_and_moved_before_the_tail() {
    let (_server, registry, _counting) = counted_server().await;
    let uses = registry
        .scope(async { deferred_uses_before_the_tail(None, "uses").await })
        .await;
    assert_eq!(uses.unwrap(), (1, 2, 10, 4, true));
}
