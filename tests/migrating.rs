//! The Rust snippets of `MIGRATING.md`, run against real redis-server processes (the
//! guide's copies are compiled as doctests of the `redpipe` crate). Each `mod` holds one
//! snippet verbatim and a test that calls it; the tests at the end check the claims of
//! the guide's "Behaviour that differs" section.

use redpipe::{Connection, Registry};
use redpipe_dev::RedisServer;

/// A registry whose default connection is a new throwaway server.
async fn registry_on(server: &RedisServer) -> Registry {
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    registry
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|k| (*k).to_owned()).collect()
}

mod pipelines {
    use redpipe::{pipelined, Deferred, Pipeline};

    #[pipelined]
    fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
        let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
        counts.iter().map(|c| **c).sum() // the tail: the callback, run after execute
    }

    async fn example(keys: &[String]) -> redpipe::Result<(i64, i64, i64)> {
        // No parent: the call is its own root, and awaiting it executes it (autoexec).
        let total = incr_sum(None, keys).await?;

        // A parent: both calls join its batch, sent by `execute` in one round trip.
        let pipe = redpipe::pipeline();
        let first = incr_sum(&pipe, &keys[..1]);
        let second = incr_sum(Some(&pipe), &keys[1..]);
        pipe.execute().await?;
        Ok((total, *first, *second))
    }

    #[tokio::test]
    async fn incr_sum_standalone_and_under_one_parent() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        let keys = super::keys(&["a", "b"]);
        let got = registry.scope(example(&keys)).await.unwrap();
        assert_eq!(got, (2, 2, 2));
        // One standalone round trip, then one for both calls.
        assert_eq!(server.calls("incrby"), 4);
    }
}

mod blocking {
    use redpipe::{pipelined, Connection, Deferred, Pipeline};

    #[pipelined]
    fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
        let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
        counts.iter().map(|c| **c).sum()
    }

    fn example(url: &str, keys: &[String]) -> redpipe::Result<(i64, i64)> {
        redpipe::connect(Connection::open_blocking(url)?)?;
        let total = incr_sum(None, keys).wait()?; // autoexec, on this thread
        let pipe = redpipe::pipeline();
        let again = incr_sum(&pipe, keys);
        pipe.execute_blocking()?; // pipe.execute()
        Ok((total, *again))
    }

    #[test]
    fn wait_and_execute_blocking() {
        let server = super::RedisServer::start();
        let registry = super::Registry::new();
        let keys = super::keys(&["a", "b"]);
        let got = registry.scope_blocking(|| example(&server.url(), &keys));
        assert_eq!(got.unwrap(), (2, 4));
    }
}

mod with_blocks {
    use std::sync::{Arc, Mutex};

    use redpipe::{Deferred, Nested, Parent};

    fn incr_twice<'a>(
        pipe: impl Into<Parent<'a>>,
        key: &str,
        log: Arc<Mutex<Vec<String>>>,
    ) -> Deferred<i64> {
        let p = Nested::new(pipe); // with redpipe.pipeline(pipe) as p:
        let _: Deferred<i64> = p.incr(key, 1);
        let second: Deferred<i64> = p.incr(key, 1);
        let key = key.to_owned();
        p.on_execute(move || log.lock().unwrap().push(key));
        p.forward(second) // the end of the block: hand everything to the parent
    }

    async fn example(log: Arc<Mutex<Vec<String>>>) -> redpipe::Result<(i64, i64)> {
        let alone = incr_twice(None, "k", Arc::clone(&log)).await?;
        let pipe = redpipe::pipeline();
        let nested = incr_twice(&pipe, "k", Arc::clone(&log));
        pipe.on_execute(move || log.lock().unwrap().push("root".to_owned()));
        pipe.execute().await?;
        Ok((alone, *nested))
    }

    #[tokio::test]
    async fn nested_by_hand_with_callbacks_in_program_order() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        let log = Arc::new(Mutex::new(Vec::new()));
        let got = registry.scope(example(Arc::clone(&log))).await.unwrap();
        assert_eq!(got, (2, 4));
        assert_eq!(*log.lock().unwrap(), ["k", "k", "root"]);
    }
}

mod deferreds {
    use redpipe::{Deferred, Error};

    async fn example() -> redpipe::Result<()> {
        let pipe = redpipe::pipeline();
        let n: Deferred<i64> = pipe.incr("hits", 1);
        assert!(matches!(n.try_get(), Err(Error::NotReady))); // ResultNotReady
        pipe.execute().await?;
        assert_eq!(n, 1); // n == 1
        assert_eq!(*n + 1, 2); // int(n) + 1: `*` panics if not ready
        assert_eq!(n.try_get()?, &1); // n.result, as a Result
        assert!(matches!(n.outcome(), Some(Ok(&1)))); // value or error, None before execute
        let f = Deferred::ready(42); // f = Future(); f.set(42)
        assert_eq!(f.into_inner()?, 42); // moves the value out
        let name: Deferred<Option<String>> = redpipe::pipeline().get("name");
        assert!(!name.is_ready()); // never executed: the pipeline was dropped
        Ok(())
    }

    #[tokio::test]
    async fn deferred_accessors() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        registry.scope(example()).await.unwrap();
    }
}

mod connections {
    use redpipe::{pipelined, Connection, Deferred, Pipeline, Registry};

    #[pipelined(connection = "stats")]
    fn count_visit(pipe: &Pipeline, page: &str) -> Deferred<i64> {
        pipe.incr(format!("visits:{page}"), 1)
    }

    async fn example(url: &str, stats_url: &str) -> redpipe::Result<(i64, bool)> {
        redpipe::connect(Connection::open(url).await?)?;
        redpipe::connect_named("stats", Connection::open(stats_url).await?)?;
        redpipe::connect_named("tx", Connection::open(url).await?.with_transaction(true))?;

        let pipe = redpipe::pipeline(); // the default connection
        let visits = count_visit(&pipe, "home"); // sent to "stats"
        let tx = pipe.nested_on("tx"); // with redpipe.pipeline(pipe, name='tx')
        let _: Deferred<()> = tx.set("a", 1);
        let _: Deferred<()> = tx.set("b", 2);
        let _ = tx.finish();
        pipe.execute().await?; // one batch per connection, sent concurrently

        // An explicit registry instead of the process-wide one (tests, several tenants).
        let registry = Registry::new();
        registry.connect(Connection::open(url).await?)?;
        let pipe = registry.pipeline();
        let written: Deferred<bool> = pipe.exists("a");
        pipe.execute().await?;
        Ok((*visits, *written))
    }

    #[tokio::test]
    async fn named_connections_transactions_and_registries() {
        let (main, stats) = (super::RedisServer::start(), super::RedisServer::start());
        let got = super::Registry::new()
            .scope(example(&main.url(), &stats.url()))
            .await
            .unwrap();
        assert_eq!(got, (1, true));
        assert_eq!(stats.calls("incrby"), 1);
        assert_eq!(main.calls("incrby"), 0);
        assert_eq!(main.calls("multi"), 1);
        assert_eq!(main.calls("exec"), 1);
    }
}

mod keyspaces {
    use redpipe::field::{Field, FieldValue, TextField};
    use redpipe::keyspace::{Hash, HashedString, Keyspace, Strings};

    const NAME: Strings<TextField> = Strings::new(Keyspace::new("N"));
    const PROFILE: Hash =
        Hash::new(Keyspace::new("P")).fields(&[("age", Field::Integer), ("admin", Field::Boolean)]);
    const SESSION: HashedString = HashedString::new(Keyspace::new("S"));

    async fn example() -> redpipe::Result<()> {
        let pipe = redpipe::pipeline();
        let _ = NAME.set(&pipe, 1, "ada");
        let name = NAME.get(&pipe, 1);
        let _ = PROFILE.hset(&pipe, 1, "age", 36_i64);
        let age = PROFILE.hget(&pipe, 1, "age");
        let _ = SESSION.set(&pipe, "abc", "ada");
        pipe.execute().await?;
        assert_eq!(name, Some("ada".to_owned()));
        assert_eq!(age, Some(FieldValue::Integer(36)));
        assert_eq!(NAME.key(1)?, "N{1}"); // Name.redis_key('1')
        assert_eq!(NAME.get(None, 1).await?.as_deref(), Some("ada")); // no pipe: standalone
        assert_eq!(SESSION.get(None, "abc").await?.as_deref(), Some("ada"));
        Ok(())
    }

    #[tokio::test]
    async fn strings_hash_and_hashed_string() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        registry.scope(example()).await.unwrap();
    }
}

mod structs {
    use redpipe::Struct;

    #[derive(Debug, Clone, PartialEq, redpipe::Struct)]
    #[redpipe(keyspace = "U", ttl = 3600)]
    struct User {
        #[redpipe(key)]
        user_id: String, // key_name = 'user_id'
        name: String,        // required: not an Option
        visits: Option<i64>, // IntegerField, may be absent
    }

    async fn example() -> redpipe::Result<()> {
        let ada = User {
            user_id: "1".into(),
            name: "ada".into(),
            visits: Some(0),
        };
        assert_eq!(ada.save(None).await?, Some(ada.clone())); // User({...})
        let user = User::load(None, "1").await?.expect("saved"); // User('1')
        assert_eq!(user.name, "ada"); // user['name']
        assert_eq!(User::incr(None, "1", "visits", 1).await?, 1); // user.incr('visits')
        let patch = UserPatch {
            name: Some("ada l.".into()),
            ..UserPatch::default()
        };
        let updated = User::update(None, "1", &patch).await?; // user.update({...})
        assert_eq!(updated.map(|u| u.name), Some("ada l.".to_owned()));
        let removed = User::remove(None, "1", &["visits"]).await?; // user.remove([...])
        assert_eq!(removed.and_then(|u| u.visits), None);
        assert_eq!(User::delete(None, &["1"]).await?, 1); // User.delete(['1'])

        // Several records, one round trip.
        let pipe = redpipe::pipeline();
        let saved = ada.save(&pipe);
        let both = User::load_many(&pipe, &["1", "2"]);
        pipe.execute().await?;
        // Each id resolves on its own: one corrupt record does not hide the others.
        let both: Vec<Option<User>> = both.into_inner()?.into_iter().collect::<Result<_, _>>()?;
        assert_eq!(both, vec![(*saved).clone(), None]);
        Ok(())
    }

    #[tokio::test]
    async fn struct_operations() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        registry.scope(example()).await.unwrap();
        let ttl: i64 = redis::cmd("TTL")
            .arg("U{1}")
            .query(&mut server.sync())
            .unwrap();
        assert!(ttl > 3500, "every write refreshes the TTL: {ttl}");
    }
}

mod incr_if_gt {
    use std::sync::LazyLock;

    use redpipe::{pipelined, Deferred, Pipeline, Script};

    static INCR_IF_GT: LazyLock<Script> = LazyLock::new(|| {
        Script::new(
            "local value = tonumber(redis.call('GET', KEYS[1]) or '0') \
             if value > tonumber(ARGV[1]) then return redis.call('INCR', KEYS[1]) end \
             return value",
        )
    });

    #[pipelined]
    fn incr_if_gt(pipe: &Pipeline, key: &str, threshold: i64) -> Deferred<i64> {
        pipe.invoke_script(&INCR_IF_GT, &[key], &[threshold])
    }

    async fn example() -> redpipe::Result<(i64, i64)> {
        let pipe = redpipe::pipeline();
        let _: Deferred<()> = pipe.set("beers", 5);
        let taken = incr_if_gt(&pipe, "beers", 3); // 5 > 3: INCR
        let kept = incr_if_gt(&pipe, "beers", 10); // 6 <= 10: unchanged
        pipe.execute().await?; // one round trip for all three
        Ok((*taken, *kept))
    }

    #[tokio::test]
    async fn lua_keeps_it_one_round_trip() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        assert_eq!(registry.scope(example()).await.unwrap(), (6, 6));
        assert_eq!(server.calls("eval"), 2);
    }

    /// The guide: a standalone call made in a combine step sends nothing and holds
    /// `InvalidOperation`.
    #[pipelined]
    fn incr_if_gt_in_two_trips(pipe: &Pipeline, key: &str, threshold: i64) -> i64 {
        let value: Deferred<Option<i64>> = pipe.get(key);
        let key = key.to_owned();
        {
            let value = value.unwrap_or(0);
            if value > threshold {
                let again = incr_if_gt(None, &key, threshold);
                assert!(matches!(
                    again.try_get(),
                    Err(redpipe::Error::InvalidOperation(_))
                ));
                -1
            } else {
                value
            }
        }
    }

    #[tokio::test]
    async fn a_standalone_call_in_a_combine_step_is_an_error() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        let got = registry
            .scope(async {
                let pipe = redpipe::pipeline();
                let _: Deferred<()> = pipe.set("k", 5);
                let got = incr_if_gt_in_two_trips(&pipe, "k", 1);
                pipe.execute().await?;
                got.into_inner()
            })
            .await;
        assert_eq!(got.unwrap(), -1);
        assert_eq!(server.calls("eval"), 0);
    }
}

mod threads {
    use redpipe::{pipelined, Deferred, Pipeline, Registry};

    #[pipelined]
    fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
        let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
        counts.iter().map(|c| **c).sum()
    }

    fn example(registry: &Registry, keys: &[String]) -> redpipe::Result<Vec<i64>> {
        std::thread::scope(|threads| {
            let running: Vec<_> = keys
                .chunks(2)
                .map(|chunk| {
                    threads.spawn(move || registry.scope_blocking(|| incr_sum(None, chunk).wait()))
                })
                .collect();
            running
                .into_iter()
                .map(|t| t.join().expect("no panic"))
                .collect()
        })
    }

    #[test]
    fn threads_share_a_blocking_connection() {
        let server = super::RedisServer::start();
        let registry = Registry::new();
        registry
            .connect(super::Connection::open_blocking(&server.url()).unwrap())
            .unwrap();
        let keys = super::keys(&["a", "b", "c", "d", "e"]);
        let sums = example(&registry, &keys).unwrap();
        assert_eq!(sums.iter().sum::<i64>(), 5);
        assert_eq!(sums.len(), 3);
    }
}

mod errors {
    use redpipe::{Deferred, Error};

    async fn example() -> redpipe::Result<()> {
        let pipe = redpipe::pipeline();
        let _: Deferred<()> = pipe.set("text", "hello");
        let bad: Deferred<i64> = pipe.incr("text", 1);
        let good: Deferred<i64> = pipe.incr("counter", 1);
        let doomed = {
            let p = pipe.nested();
            let n: Deferred<i64> = p.incr("text", 1);
            p.resolve(move || *n * 10)
        };
        let error = pipe.execute().await.unwrap_err();
        assert_eq!(error.failures().len(), 2); // Error::Execute lists every failure
        assert!(matches!(
            bad.try_get(),
            Err(Error::Command { index: 1, .. })
        ));
        assert_eq!(good, 1); // unaffected
        assert!(matches!(doomed.try_get(), Err(Error::Aborted(_)))); // its callback skipped
        Ok(())
    }

    #[tokio::test]
    async fn errors_are_per_command() {
        let server = super::RedisServer::start();
        let registry = super::registry_on(&server).await;
        registry.scope(example()).await.unwrap();
    }
}

/// The claims of "Behaviour that differs, and why".
mod differences {
    use std::time::Duration;

    use redpipe::field::{DictField, StringListField};
    use redpipe::keyspace::{Keyspace, Strings};
    use redpipe::{pipelined, Deferred, Error, Pipeline, Struct};

    use super::RedisServer;

    #[pipelined]
    fn incr(pipe: &Pipeline, key: &str) -> i64 {
        let n: Deferred<i64> = pipe.incr(key, 1);
        *n
    }

    #[tokio::test]
    async fn a_nested_call_inherits_the_parents_connection() {
        let (a, b) = (RedisServer::start(), RedisServer::start());
        let registry = super::registry_on(&a).await;
        registry
            .connect_named("stats", b.connection().await)
            .unwrap();
        let pipe = registry.pipeline_on("stats");
        let n = incr(&pipe, "k");
        pipe.execute().await.unwrap();
        assert_eq!(n, 1);
        assert_eq!((a.calls("incrby"), b.calls("incrby")), (0, 1));
    }

    #[tokio::test]
    async fn program_order_for_commands_and_callbacks() {
        let server = RedisServer::start();
        let registry = super::registry_on(&server).await;
        let pipe = registry.pipeline();
        let _: Deferred<()> = pipe.set("k", 1);
        // An inner GET queued after an outer SET sees it (Python sent the GET first).
        let seen = {
            let inner = pipe.nested();
            let got: Deferred<Option<i64>> = inner.get("k");
            inner.forward(got)
        };
        // A later sibling's combine step reads an earlier sibling's result.
        let first = incr(&pipe, "n");
        let f = first.clone();
        let second = pipe.nested().resolve(move || *f + 100);
        pipe.execute().await.unwrap();
        assert_eq!(seen, Some(1));
        assert_eq!(second, 101);
    }

    #[tokio::test]
    async fn dropping_execute_cancels() {
        let server = RedisServer::start();
        let registry = super::registry_on(&server).await;
        let pipe = registry.pipeline();
        let popped: Deferred<Option<(String, String)>> = pipe.blpop("empty", 2.0);
        let cut = tokio::time::timeout(Duration::from_millis(100), pipe.execute()).await;
        assert!(cut.is_err());
        assert!(matches!(popped.try_get(), Err(Error::Cancelled(_))));
        // A root dropped without execute: nothing sent, its deferreds stay NotReady.
        let pipe = registry.pipeline();
        let n: Deferred<i64> = pipe.incr("never", 1);
        drop(pipe);
        assert!(matches!(n.try_get(), Err(Error::NotReady)));
    }

    #[derive(Debug, Clone, PartialEq, Struct)]
    #[redpipe(keyspace = "P")]
    struct Person {
        #[redpipe(key)]
        id: String,
        age: Option<i64>,
        #[redpipe(string_list)]
        tags: Option<Vec<String>>,
    }

    #[tokio::test]
    async fn patch_none_is_not_set_and_empty_string_lists_read_as_empty() {
        let server = RedisServer::start();
        let registry = super::registry_on(&server).await;
        registry
            .scope(async {
                let person = Person {
                    id: "1".into(),
                    age: Some(30),
                    tags: Some(vec![]),
                };
                let saved = person.save(None).await.unwrap().unwrap();
                assert_eq!(saved.tags, Some(vec![]));
                let patch = PersonPatch {
                    age: None,
                    tags: Some(vec!["a".into()]),
                };
                let updated = Person::update(None, "1", &patch).await.unwrap().unwrap();
                assert_eq!(updated.age, Some(30), "a None patch member is not written");
                assert_eq!(updated.tags, Some(vec!["a".to_owned()]));
            })
            .await;
        const LISTS: Strings<StringListField> = Strings::new(Keyspace::new("L"));
        let empty: Vec<String> = Vec::new();
        registry
            .scope(async {
                LISTS.set(None, 1, &empty).await.unwrap();
                assert_eq!(LISTS.get(None, 1).await.unwrap(), Some(vec![]));
            })
            .await;
    }

    #[tokio::test]
    async fn json_keys_are_sorted_and_huge_integers_are_floats() {
        const DICTS: Strings<DictField> = Strings::new(Keyspace::new("D"));
        let server = RedisServer::start();
        let registry = super::registry_on(&server).await;
        let _: () = redis::cmd("SET")
            .arg("D{1}")
            .arg(r#"{"b": 1, "a": 123456789012345678901234567890}"#)
            .query(&mut server.sync())
            .unwrap();
        let got = registry
            .scope(async { DICTS.get(None, 1).await })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(got["a"].is_f64());
        assert!(got["b"].is_u64());
    }

    #[tokio::test]
    async fn reading_before_the_tail_is_not_ready() {
        let server = RedisServer::start();
        let registry = super::registry_on(&server).await;
        let pipe = registry.pipeline();
        let n: Deferred<i64> = pipe.incr("n", 1);
        assert!(matches!(n.try_get(), Err(Error::NotReady)));
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| *n.clone()));
        assert!(read.is_err(), "`*` of a deferred that is not ready panics");
        pipe.execute().await.unwrap();
        assert_eq!(n, 1);
    }
}
