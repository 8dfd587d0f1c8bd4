//! Keyspaces, fields and HashedString against real redis-server processes: every method,
//! standalone and on a pipeline passed in, in three modes (on the root pipeline, inside a
//! hand-written nested pipeline, and inside a `#[pipelined]` function); key and scan
//! formats; encode errors that send nothing.

use std::collections::HashMap;

use redpipe::field::{
    AsciiField, BinaryField, BooleanField, Field, FieldValue, FloatField, IntegerField, ListField,
    TextField,
};
use redpipe::keyspace::{
    Hash, HashedString, HyperLogLog, Keyspace, List, Set, Sort, SortedSet, Strings, ZAdd,
};
use redpipe::{pipelined, Deferred, Error, Nested, Parent, Pipeline, Registry};
use redpipe_dev::{counted_server, RedisServer};

/// A clean server for the next mode: no keys, no command statistics.
fn reset(server: &RedisServer) {
    let _: () = redis::cmd("FLUSHALL").query(&mut server.sync()).unwrap();
    server.reset_stats();
}

/// Where a test's queueing code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On the root pipeline itself.
    Plain,
    /// Inside a hand-written nested pipeline of the root.
    Nested,
    /// Inside a `#[pipelined]` function called with the root as parent.
    Pipelined,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Plain, Mode::Nested, Mode::Pipelined];

    /// Runs `queue` in this mode on `p`; the deferred holds what it returned once `p` has
    /// executed (in `Pipelined` mode it is the function's combine step that fills it).
    fn run<R: Clone + Send + Sync + 'static>(
        self,
        p: &Pipeline,
        queue: impl FnOnce(&Pipeline) -> R,
    ) -> Deferred<R> {
        match self {
            Mode::Plain => Deferred::ready(queue(p)),
            Mode::Nested => {
                let n = Nested::new(p);
                let out = queue(&n);
                n.forward(Deferred::ready(out))
            }
            Mode::Pipelined => inside(p, queue),
        }
    }

    /// After an execute that failed: the deferred `run` returned is ready as it was queued,
    /// except in a `#[pipelined]` function, whose combine step never ran (it is aborted).
    fn assert_after_failed_execute<R>(self, out: &Deferred<R>) {
        match self {
            Mode::Plain | Mode::Nested => assert!(out.try_get().is_ok(), "{self:?}"),
            Mode::Pipelined => assert!(
                matches!(out.try_get(), Err(Error::Aborted(_))),
                "{self:?}: {:?}",
                out.try_get().err()
            ),
        }
    }
}

/// Runs `queue` inside a `#[pipelined]` function: the same calls on the function's nested
/// pipeline.
#[pipelined]
fn inside<R: Clone + Send + Sync + 'static>(
    pipe: &Pipeline,
    queue: impl FnOnce(&Pipeline) -> R,
) -> R {
    let queued = queue(pipe);
    queued
}

const NAMES: Strings<TextField> = Strings::new(Keyspace::new("N"));
const COUNTS: Strings<IntegerField> = Strings::new(Keyspace::new("C"));
const FLOATS: Strings<FloatField> = Strings::new(Keyspace::new("F"));
const TAGS: Set = Set::new(Keyspace::new("T"));
const QUEUE: List<IntegerField> = List::new(Keyspace::new("Q"));
const SCORES: SortedSet = SortedSet::new(Keyspace::new("Z"));
const VISITORS: HyperLogLog = HyperLogLog::new(Keyspace::new("H"));
const USERS: Hash = Hash::new(Keyspace::new("U")).fields(&[
    ("age", Field::Integer),
    ("admin", Field::Boolean),
    ("tags", Field::StringList),
    ("height", Field::Float),
]);

/// The value of a resolved deferred.
fn v<T: Clone>(d: &Deferred<T>) -> T {
    d.try_get().unwrap().clone()
}

fn raw_get(server: &RedisServer, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut server.sync())
        .unwrap()
}

#[tokio::test]
async fn keys_are_keyspace_brace_id() {
    assert_eq!(NAMES.key("1").unwrap(), "N{1}");
    assert_eq!(NAMES.key(5).unwrap(), "N{5}");
    const COLON: Keyspace = Keyspace::new("user").template("%s:%s");
    assert_eq!(COLON.key("7").unwrap(), "user:7");
    const BAD: Keyspace = Keyspace::new("x").template("%s");
    let error = BAD.key("1").unwrap_err();
    assert!(error.to_string().contains("exactly two %s"), "{error}");
    const ASCII: Keyspace = Keyspace::new("A").ascii_keys();
    assert!(matches!(ASCII.key("é"), Err(Error::InvalidValue { .. })));
}

#[tokio::test]
async fn string_methods() {
    let (server, registry, counting) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let batches = counting.batches();
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let set = NAMES.set(p, "1", "alice");
            let got = NAMES.get(p, "1");
            let missing = NAMES.get(p, "nobody");
            let nx = NAMES.setnx(p, "1", "bob");
            let appended = NAMES.append(p, "1", "!");
            let len = NAMES.strlen(p, "1");
            let sub = NAMES.substr(p, "1", 0, 2);
            let ranged = NAMES.setrange(p, "2", 0, "zz");
            let many = NAMES.mget(p, &["1", "nobody", "2"]);
            let cond = NAMES.set_with(
                p,
                "1",
                "carol",
                redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX),
            );
            let ex = NAMES.setex(p, "e", "v", 100);
            let pex = NAMES.psetex(p, "pe", "v", 100_000);
            let bit = NAMES.setbit(p, "bits", 7, true);
            let get_bit = NAMES.getbit(p, "bits", 7);
            let bits = NAMES.bitcount(p, "bits", None);
            let bits_range = NAMES.bitcount(p, "bits", Some((0, 0)));
            let n = COUNTS.incr(p, "n", 41);
            let f = FLOATS.incrbyfloat(p, "f", 1.5);
            let f_get = FLOATS.get(p, "f");
            (
                (
                    set, got, missing, nx, appended, len, sub, ranged, many, cond,
                ),
                (ex, pex, bit, get_bit, bits, bits_range, n, f, f_get),
            )
        });
        p.execute().await.unwrap();
        assert_eq!(counting.batches() - batches, 1, "{mode:?}");
        let (
            (set, got, missing, nx, appended, len, sub, ranged, many, cond),
            (ex, pex, bit, get_bit, bits, bits_range, n, f, f_get),
        ) = (*out).clone();
        assert!(set.try_get().is_ok(), "{mode:?}");
        assert_eq!(got, Some("alice".to_owned()), "{mode:?}");
        assert_eq!(missing, None, "{mode:?}");
        assert_eq!(nx, false, "{mode:?}");
        assert_eq!((*appended, *len), (6, 6), "{mode:?}");
        assert_eq!(sub, "ali".to_owned(), "{mode:?}");
        assert_eq!(ranged, 2, "{mode:?}");
        assert_eq!(
            many,
            vec![Some("alice!".to_owned()), None, Some("zz".to_owned())],
            "{mode:?}"
        );
        assert_eq!(cond, false, "{mode:?}");
        assert!(ex.try_get().is_ok() && pex.try_get().is_ok(), "{mode:?}");
        assert_eq!(
            (*bit, *get_bit, *bits, *bits_range),
            (false, true, 1, 1),
            "{mode:?}"
        );
        assert_eq!(n, 41, "{mode:?}");
        assert_eq!(f, 1.5, "{mode:?}");
        assert_eq!(f_get, Some(1.5), "{mode:?}");
        assert_eq!(
            raw_get(&server, "N{1}"),
            Some(b"alice!".to_vec()),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn standalone_and_nested_calls() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            assert_eq!(NAMES.set(None, "s", "solo").await.unwrap(), ());
            assert_eq!(NAMES.get(None, "s").await.unwrap(), Some("solo".to_owned()));
        })
        .await;
    assert_eq!(counting.batches(), 2);

    fn rename_user<'a>(
        parent: impl Into<Parent<'a>>,
        id: &str,
        name: &str,
    ) -> Deferred<Option<String>> {
        let pipe = Nested::new(parent);
        let _ = NAMES.set(&pipe, id, name);
        let back = NAMES.get(&pipe, id);
        pipe.forward(back)
    }
    for mode in Mode::ALL {
        reset(&server);
        let batches = counting.batches();
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let a = rename_user(p, "a", "ann");
            let b = rename_user(p, "b", "bea");
            (a, b)
        });
        p.execute().await.unwrap();
        let (a, b) = (*out).clone();
        assert_eq!(
            (v(&a), v(&b)),
            (Some("ann".to_owned()), Some("bea".to_owned())),
            "{mode:?}"
        );
        assert_eq!(counting.batches() - batches, 1, "{mode:?}");
    }
}

#[tokio::test]
async fn key_commands() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let _ = NAMES.set(p, "k", "v");
            let _ = NAMES.set(p, "gone", "v");
            let exists = NAMES.exists(p, "k");
            let expire = NAMES.expire(p, "k", 100);
            let ttl = NAMES.ttl(p, "k");
            let pexpire = NAMES.pexpire(p, "k", 50_000);
            let pttl = NAMES.pttl(p, "k");
            let persist = NAMES.persist(p, "k");
            let after = NAMES.ttl(p, "k");
            let at = NAMES.pexpireat(p, "gone", 4_102_444_800_000);
            let deleted = NAMES.delete(p, &["gone", "never"]);
            let dump = NAMES.dump(p, "k");
            let renamed = NAMES.rename(p, "k", "k2");
            let nx = NAMES.renamenx(p, "k2", "k2");
            let encoding: Deferred<Option<String>> = NAMES.object(p, "ENCODING", "k2");
            (
                (exists, expire, ttl, pexpire, pttl, persist, after),
                (at, deleted, dump, renamed, nx, encoding),
            )
        });
        p.execute().await.unwrap();
        let (
            (exists, expire, ttl, pexpire, pttl, persist, after),
            (at, deleted, dump, renamed, nx, encoding),
        ) = (*out).clone();
        assert_eq!(exists, true, "{mode:?}");
        assert_eq!(expire, true, "{mode:?}");
        assert!((1..=100).contains(&*ttl), "{mode:?}");
        assert_eq!(pexpire, true, "{mode:?}");
        assert!(*pttl > 0 && *pttl <= 50_000, "{mode:?}");
        assert_eq!(persist, true, "{mode:?}");
        assert_eq!(after, -1, "{mode:?}");
        assert_eq!(at, true, "{mode:?}");
        assert_eq!(deleted, 1, "{mode:?}");
        assert!(renamed.try_get().is_ok(), "{mode:?}");
        assert_eq!(nx, false, "{mode:?}");
        assert_eq!(encoding, Some("embstr".to_owned()), "{mode:?}");
        let payload = dump.try_get().unwrap().clone().unwrap();

        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let restored = NAMES.restore(p, "copy", &payload, 0);
            let again = NAMES.restorenx(p, "copy", &payload, 0);
            let fresh = NAMES.restorenx(p, "copy2", &payload, 10_000);
            let read = NAMES.get(p, "copy2");
            let script = redpipe::Script::new("return redis.call('GET', KEYS[1]) .. ARGV[1]");
            let evaled: Deferred<String> = NAMES.eval(p, &script, &["copy"], &["?"]);
            (restored, again, fresh, read, evaled)
        });
        p.execute().await.unwrap();
        let (restored, again, fresh, read, evaled) = (*out).clone();
        assert!(restored.try_get().is_ok(), "{mode:?}");
        assert_eq!((*again, *fresh), (false, true), "{mode:?}");
        assert_eq!(read, Some("v".to_owned()), "{mode:?}");
        assert_eq!(evaled, "v?".to_owned(), "{mode:?}");

        // The execute fails: the command's own deferred is taken while queueing, since a
        // `#[pipelined]` function's combine step (its result) is aborted.
        let p = registry.pipeline();
        let mut busy = None;
        let out = mode.run(&p, |p| {
            let restore = NAMES.restore(p, "copy", &payload, 0);
            busy = Some(restore.clone());
            restore
        });
        assert!(p.execute().await.is_err(), "{mode:?}");
        mode.assert_after_failed_execute(&out);
        let busy = busy.unwrap();
        assert!(
            busy.try_get().unwrap_err().to_string().contains("BUSYKEY"),
            "{mode:?}"
        );
    }
}

/// SORT's descending first two.
const TOP_TWO: Sort<'static> = Sort {
    by: None,
    limit: Some((0, 2)),
    get: &[],
    desc: true,
    alpha: false,
};

/// The list `s` = [3, 1, 2] to sort, and the names its GET patterns read.
fn seed_sort(p: &Pipeline, names: &[(&str, &str)]) {
    let _ = QUEUE.rpush(p, "s", &[3, 1, 2]);
    for (id, name) in names {
        let _ = NAMES.set(p, id, *name);
    }
}

#[tokio::test]
async fn sort_with_raw_patterns() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            seed_sort(p, &[("w_1", "one"), ("w_2", "two"), ("w_3", "three")]);
            let sorted: Deferred<Vec<i64>> = QUEUE.sort(p, "s", &Sort::default());
            let desc: Deferred<Vec<i64>> = QUEUE.sort(p, "s", &TOP_TWO);
            let words: Deferred<Vec<String>> = QUEUE.sort(
                p,
                "s",
                &Sort {
                    get: &["N{w_*}", "#"],
                    ..Sort::default()
                },
            );
            (sorted, desc, words)
        });
        p.execute().await.unwrap();
        let (sorted, desc, words) = (*out).clone();
        assert_eq!(*sorted, vec![1, 2, 3], "{mode:?}");
        assert_eq!(*desc, vec![3, 2], "{mode:?}");
        assert_eq!(*words, ["one", "1", "two", "2", "three", "3"], "{mode:?}");
    }
}

#[tokio::test]
async fn sort_store_writes_a_list_and_replies_the_count() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            seed_sort(p, &[("w_1", "one"), ("w_3", "three")]);
            let stored = QUEUE.sort_store(p, "s", &Sort::default(), "sorted");
            let desc = QUEUE.sort_store(p, "s", &TOP_TWO, "top");
            let words = QUEUE.sort_store(
                p,
                "s",
                &Sort {
                    get: &["N{w_*}"],
                    alpha: true,
                    ..Sort::default()
                },
                "words",
            );
            let sorted = QUEUE.lrange(p, "sorted", 0, -1);
            let top = QUEUE.lrange(p, "top", 0, -1);
            (stored, desc, words, sorted, top)
        });
        p.execute().await.unwrap();
        let (stored, desc, words, sorted, top) = (*out).clone();
        assert_eq!((*stored, *desc, *words), (3, 2, 3), "{mode:?}");
        assert_eq!(*sorted, vec![1, 2, 3], "{mode:?}");
        assert_eq!(*top, vec![3, 2], "{mode:?}");
        // A missing GET target is stored as an empty string.
        let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
            .arg("Q{words}")
            .arg(0)
            .arg(-1)
            .query(&mut server.sync())
            .unwrap();
        assert_eq!(raw, [&b"one"[..], b"", b"three"], "{mode:?}");
    }
}

#[tokio::test]
async fn set_and_hyperloglog_methods() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let added = TAGS.sadd(p, "a", &["x", "y", "z"]);
            let _ = TAGS.sadd(p, "b", &["y"]);
            let removed = TAGS.srem(p, "a", &["z", "nope"]);
            let card = TAGS.scard(p, "a");
            let is = TAGS.sismember(p, "a", "x");
            let members = TAGS.smembers(p, "a");
            let diff = TAGS.sdiff(p, &["a", "b"]);
            let inter = TAGS.sinter(p, &["a", "b"]);
            let union = TAGS.sunion(p, &["a", "b"]);
            let ds = TAGS.sdiffstore(p, "d", &["a", "b"]);
            let is_ = TAGS.sinterstore(p, "i", &["a", "b"]);
            let us = TAGS.sunionstore(p, "u", &["a", "b"]);
            let rand = TAGS.srandmember(p, "b");
            let rands = TAGS.srandmember_n(p, "a", 5);
            let popped = TAGS.spop(p, "b");
            let empty = TAGS.spop(p, "b");
            let page = TAGS.sscan(p, "a", 0, None, None);
            let hll = VISITORS.pfadd(p, "day1", &["u1", "u2"]);
            let _ = VISITORS.pfadd(p, "day2", &["u2", "u3"]);
            let merged = VISITORS.pfmerge(p, "week", &["day1", "day2"]);
            let count = VISITORS.pfcount(p, &["week"]);
            let both = VISITORS.pfcount(p, &["day1", "day2"]);
            (
                (added, removed, card, is, members, diff, inter, union),
                (ds, is_, us, rand, rands, popped, empty),
                (page, hll, merged, count, both),
            )
        });
        p.execute().await.unwrap();
        let (
            (added, removed, card, is, members, diff, inter, union),
            (ds, is_, us, rand, rands, popped, empty),
            (page, hll, merged, count, both),
        ) = (*out).clone();
        let sorted = |d: &Deferred<Vec<String>>| {
            let mut v = d.try_get().unwrap().clone();
            v.sort();
            v
        };
        assert_eq!((*added, *removed, *card), (3, 1, 2), "{mode:?}");
        assert_eq!(is, true, "{mode:?}");
        assert_eq!(sorted(&members), ["x", "y"], "{mode:?}");
        assert_eq!(sorted(&diff), ["x"], "{mode:?}");
        assert_eq!(sorted(&inter), ["y"], "{mode:?}");
        assert_eq!(sorted(&union), ["x", "y"], "{mode:?}");
        assert_eq!((*ds, *is_, *us), (1, 1, 2), "{mode:?}");
        assert_eq!(rand, Some("y".to_owned()), "{mode:?}");
        assert_eq!(rands.len(), 2, "{mode:?}");
        assert_eq!(
            (v(&popped), v(&empty)),
            (Some("y".to_owned()), None),
            "{mode:?}"
        );
        assert_eq!(page.0, 0, "{mode:?}");
        assert_eq!(hll, true, "{mode:?}");
        assert!(merged.try_get().is_ok(), "{mode:?}");
        assert_eq!((*count, *both), (3, 3), "{mode:?}");
        let all = registry
            .scope(TAGS.sscan_iter("a", Some("x*"), None).collect())
            .await
            .unwrap();
        assert_eq!(all, ["x"], "{mode:?}");
    }
}

#[tokio::test]
async fn list_methods() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let len = QUEUE.rpush(p, "q", &[1, 2, 3]);
            let len2 = QUEUE.lpush(p, "q", &[0]);
            let range = QUEUE.lrange(p, "q", 0, -1);
            let llen = QUEUE.llen(p, "q");
            let idx = QUEUE.lindex(p, "q", 1);
            let out = QUEUE.lindex(p, "q", 99);
            let set = QUEUE.lset(p, "q", 0, &10);
            let rem = QUEUE.lrem(p, "q", 0, &2);
            let trim = QUEUE.ltrim(p, "q", 0, 1);
            let left = QUEUE.lpop(p, "q");
            let right = QUEUE.rpop(p, "q");
            let none = QUEUE.rpop(p, "q");
            let _ = QUEUE.rpush(p, "src", &[7]);
            let moved = QUEUE.rpoplpush(p, "src", "dst");
            let _ = QUEUE.rpush(p, "src", &[8]);
            let bmoved = QUEUE.brpoplpush(p, "src", "dst", 1.0);
            let bl = QUEUE.blpop(p, &["nothing", "dst"], 1.0);
            let br = QUEUE.brpop(p, &["dst"], 1.0);
            let timeout = QUEUE.blpop(p, &["nothing"], 0.1);
            (
                (len, len2, range, llen, idx, out, set, rem, trim),
                (left, right, none, moved, bmoved, bl, br, timeout),
            )
        });
        p.execute().await.unwrap();
        let (
            (len, len2, range, llen, idx, out, set, rem, trim),
            (left, right, none, moved, bmoved, bl, br, timeout),
        ) = (*out).clone();
        assert_eq!((*len, *len2), (3, 4), "{mode:?}");
        assert_eq!(*range, vec![0, 1, 2, 3], "{mode:?}");
        assert_eq!(llen, 4, "{mode:?}");
        assert_eq!((v(&idx), v(&out)), (Some(1), None), "{mode:?}");
        assert!(set.try_get().is_ok() && trim.try_get().is_ok(), "{mode:?}");
        assert_eq!(rem, 1, "{mode:?}");
        assert_eq!(
            (v(&left), v(&right), v(&none)),
            (Some(10), Some(1), None),
            "{mode:?}"
        );
        assert_eq!((v(&moved), v(&bmoved)), (Some(7), Some(8)), "{mode:?}");
        assert_eq!(bl, Some(("dst".to_owned(), 8)), "{mode:?}");
        assert_eq!(br, Some(("dst".to_owned(), 7)), "{mode:?}");
        assert_eq!(timeout, None, "{mode:?}");
    }
}

#[tokio::test]
async fn sorted_set_methods() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let added = SCORES.zadd(
                p,
                "z",
                &[("a", 1.0), ("b", 2.0), ("c", 3.0)],
                ZAdd::default(),
            );
            let changed = SCORES.zadd(
                p,
                "z",
                &[("a", 1.5)],
                ZAdd {
                    xx: true,
                    ch: true,
                    ..ZAdd::default()
                },
            );
            let incr = SCORES.zadd_incr(p, "z", "a", 0.25, ZAdd::default());
            let stopped = SCORES.zadd_incr(
                p,
                "z",
                "new",
                1.0,
                ZAdd {
                    xx: true,
                    ..ZAdd::default()
                },
            );
            let by = SCORES.zincrby(p, "z", "b", 0.5);
            let rank = SCORES.zrank(p, "z", "c");
            let rev = SCORES.zrevrank(p, "z", "c");
            let score = SCORES.zscore(p, "z", "a");
            let none = SCORES.zscore(p, "z", "nope");
            let asc = SCORES.zrange(p, "z", 0, -1, false);
            let desc = SCORES.zrange(p, "z", 0, 0, true);
            let with = SCORES.zrange_withscores(p, "z", 0, 0, false);
            let by_score = SCORES.zrangebyscore(p, "z", "(1.75", "+inf", None);
            let by_score_ws = SCORES.zrangebyscore_withscores(p, "z", "-inf", "+inf", Some((0, 1)));
            let rev_score = SCORES.zrevrangebyscore(p, "z", "+inf", "-inf", Some((0, 1)));
            let rev_ws = SCORES.zrevrangebyscore_withscores(p, "z", "+inf", "2.6", None);
            let card = SCORES.zcard(p, "z");
            let count = SCORES.zcount(p, "z", "2", "+inf");
            let _ = SCORES.zadd(
                p,
                "lex",
                &[("a", 0.0), ("b", 0.0), ("c", 0.0)],
                ZAdd::default(),
            );
            let lexcount = SCORES.zlexcount(p, "lex", "[a", "[b");
            let lex = SCORES.zrangebylex(p, "lex", "-", "+", Some((1, 5)));
            let revlex = SCORES.zrevrangebylex(p, "lex", "+", "-", None);
            let remlex = SCORES.zremrangebylex(p, "lex", "[a", "[a");
            let union = SCORES.zunionstore(p, "u", &[("z", 2.0), ("lex", 1.0)], Some("MAX"));
            let u_score = SCORES.zscore(p, "u", "c");
            let rem = SCORES.zrem(p, "z", &["c"]);
            let rem_rank = SCORES.zremrangebyrank(p, "lex", 0, 0);
            let rem_score = SCORES.zremrangebyscore(p, "z", "-inf", "1.8");
            let page = SCORES.zscan(p, "z", 0, None, None);
            (
                (added, changed, incr, stopped, by, rank, rev, score, none),
                (asc, desc, with, by_score, by_score_ws, rev_score, rev_ws),
                (card, count, lexcount, lex, revlex, remlex, union, u_score),
                (rem, rem_rank, rem_score, page),
            )
        });
        p.execute().await.unwrap();
        let (
            (added, changed, incr, stopped, by, rank, rev, score, none),
            (asc, desc, with, by_score, by_score_ws, rev_score, rev_ws),
            (card, count, lexcount, lex, revlex, remlex, union, u_score),
            (rem, rem_rank, rem_score, page),
        ) = (*out).clone();
        assert_eq!((*added, *changed), (3, 1), "{mode:?}");
        assert_eq!((v(&incr), v(&stopped)), (Some(1.75), None), "{mode:?}");
        assert_eq!(by, 2.5, "{mode:?}");
        assert_eq!((v(&rank), v(&rev)), (Some(2), Some(0)), "{mode:?}");
        assert_eq!((v(&score), v(&none)), (Some(1.75), None), "{mode:?}");
        assert_eq!(*asc, ["a", "b", "c"], "{mode:?}");
        assert_eq!(*desc, ["c"], "{mode:?}");
        assert_eq!(*with, vec![("a".to_owned(), 1.75)], "{mode:?}");
        assert_eq!(*by_score, ["b", "c"], "{mode:?}");
        assert_eq!(*by_score_ws, vec![("a".to_owned(), 1.75)], "{mode:?}");
        assert_eq!(*rev_score, ["c"], "{mode:?}");
        assert_eq!(*rev_ws, vec![("c".to_owned(), 3.0)], "{mode:?}");
        assert_eq!((*card, *count), (3, 2), "{mode:?}");
        assert_eq!(lexcount, 2, "{mode:?}");
        assert_eq!(*lex, ["b", "c"], "{mode:?}");
        assert_eq!(*revlex, ["c", "b", "a"], "{mode:?}");
        assert_eq!(remlex, 1, "{mode:?}");
        assert_eq!(union, 3, "{mode:?}");
        assert_eq!(u_score, Some(6.0), "{mode:?}");
        assert_eq!((*rem, *rem_rank, *rem_score), (1, 1, 1), "{mode:?}");
        assert_eq!(page.1, vec![("b".to_owned(), 2.5)], "{mode:?}");

        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            SCORES.zadd(
                p,
                "z",
                &[("x", 1.0)],
                ZAdd {
                    nx: true,
                    xx: true,
                    ch: false,
                },
            )
        });
        p.execute().await.unwrap();
        let both = (*out).clone();
        assert!(
            matches!(both.try_get(), Err(Error::InvalidOperation(_))),
            "{mode:?}"
        );
        let all = registry
            .scope(SCORES.zscan_iter("z", None, Some(1)).collect())
            .await
            .unwrap();
        assert_eq!(all, vec![("b".to_owned(), 2.5)], "{mode:?}");
    }
}

#[tokio::test]
async fn hash_methods_decode_per_member() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let new = USERS.hset(p, "1", "name", "alice");
            let _ = USERS.hset(p, "1", "age", 41);
            let _ = USERS.hmset(
                p,
                "1",
                &[
                    ("admin", true.into()),
                    ("tags", vec!["a".to_owned(), "b".to_owned()].into()),
                    ("height", 1.5.into()),
                ],
            );
            let nx = USERS.hsetnx(p, "1", "name", "bob");
            let age = USERS.hget(p, "1", "age");
            let missing = USERS.hget(p, "1", "nope");
            let many = USERS.hmget(p, "1", &["admin", "nope", "tags"]);
            let all = USERS.hgetall(p, "1");
            let empty = USERS.hgetall(p, "nobody");
            let keys = USERS.hkeys(p, "1");
            let vals = USERS.hvals(p, "1");
            let len = USERS.hlen(p, "1");
            let strlen = USERS.hstrlen(p, "1", "name");
            let exists = USERS.hexists(p, "1", "age");
            let incr = USERS.hincrby(p, "1", "age", 1);
            let fincr = USERS.hincrbyfloat(p, "1", "height", 0.25);
            let del = USERS.hdel(p, "1", &["height", "nope"]);
            let page = USERS.hscan(p, "1", 0, Some("a*"), None);
            (
                (new, nx, age, missing, many, all, empty, keys, vals),
                (len, strlen, exists, incr, fincr, del, page),
            )
        });
        p.execute().await.unwrap();
        let (
            (new, nx, age, missing, many, all, empty, keys, vals),
            (len, strlen, exists, incr, fincr, del, page),
        ) = (*out).clone();
        assert_eq!(new, 1, "{mode:?}");
        assert_eq!(nx, false, "{mode:?}");
        assert_eq!(age, Some(FieldValue::Integer(41)), "{mode:?}");
        assert_eq!(missing, None, "{mode:?}");
        assert_eq!(
            *many,
            vec![
                Some(FieldValue::Boolean(true)),
                None,
                Some(FieldValue::StringList(vec!["a".into(), "b".into()]))
            ],
            "{mode:?}"
        );
        let expected: HashMap<String, FieldValue> = [
            ("name", FieldValue::from("alice")),
            ("age", FieldValue::Integer(41)),
            ("admin", FieldValue::Boolean(true)),
            ("tags", FieldValue::StringList(vec!["a".into(), "b".into()])),
            ("height", FieldValue::Float(1.5)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(*all, expected, "{mode:?}");
        assert!(empty.is_empty(), "{mode:?}");
        assert_eq!(keys.len(), 5, "{mode:?}");
        assert!(
            vals.contains(&FieldValue::Integer(41)) && vals.contains(&FieldValue::Boolean(true)),
            "{mode:?}"
        );
        assert_eq!((*len, *strlen), (5, 5), "{mode:?}");
        assert_eq!(exists, true, "{mode:?}");
        assert_eq!((*incr, *fincr), (42, 1.75), "{mode:?}");
        assert_eq!(del, 1, "{mode:?}");
        let mut found = page.1.clone();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            found,
            vec![
                ("admin".to_owned(), FieldValue::Boolean(true)),
                ("age".to_owned(), FieldValue::Integer(42))
            ],
            "{mode:?}"
        );
        // The stored bytes are the Python library's.
        let stored: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg("U{1}")
            .query(&mut server.sync())
            .unwrap();
        assert_eq!(stored["admin"], b"1", "{mode:?}");
        assert_eq!(stored["tags"], b"a,b", "{mode:?}");
        let scanned = registry
            .scope(USERS.hscan_iter("1", None, None).collect())
            .await
            .unwrap();
        assert_eq!(scanned.len(), 4, "{mode:?}");
    }
}

#[tokio::test]
async fn a_bad_value_mid_function_sends_nothing() {
    let (server, registry, counting) = counted_server().await;
    const CODES: Strings<AsciiField> = Strings::new(Keyspace::new("A"));
    fn write_all<'a>(parent: impl Into<Parent<'a>>, values: &[&str]) -> Deferred<()> {
        let pipe = Nested::new(parent);
        for (i, v) in values.iter().enumerate() {
            // `check` surfaces an error the call met while queueing.
            if let Err(error) = CODES.set(&pipe, i, v).check() {
                return pipe.fail(error);
            }
        }
        pipe.finish()
    }
    /// The same with `#[pipelined]`: `?` in the body discards everything queued.
    #[pipelined]
    fn write_all_pipelined(pipe: &Pipeline, values: &[&str]) -> Result<(), redpipe::Error> {
        for (i, v) in values.iter().enumerate() {
            let _ = CODES.set(pipe, i, v).check()?;
        }
        Ok(())
    }
    type Writer = fn(&Pipeline, &[&str]) -> Deferred<()>;
    let writers: [(&str, Writer); 2] = [
        ("hand-written", |p, values| write_all(p, values)),
        ("#[pipelined]", |p, values| write_all_pipelined(p, values)),
    ];
    for (writer, write) in writers {
        for mode in Mode::ALL {
            reset(&server);
            let commands = counting.commands();
            let p = registry.pipeline();
            let out = mode.run(&p, |p| {
                let ok = write(p, &["fine", "also fine"]);
                let bad = write(p, &["first", "tab\there", "third"]);
                (ok, bad)
            });
            p.execute().await.unwrap();
            let (ok, bad) = (*out).clone();
            assert!(ok.try_get().is_ok(), "{writer} {mode:?}");
            let error = bad.try_get().unwrap_err();
            assert!(
                matches!(&error, Error::InvalidValue { field, .. } if &**field == "A"),
                "{writer} {mode:?}: {error:?}"
            );
            assert_eq!(
                counting.commands() - commands,
                2,
                "{writer} {mode:?}: nothing of the failing function was sent"
            );
            assert_eq!(server.calls("set"), 2, "{writer} {mode:?}");
            assert_eq!(
                raw_get(&server, "A{0}"),
                Some(b"fine".to_vec()),
                "{writer} {mode:?}"
            );
        }
    }
}

#[tokio::test]
async fn codecs_decode_bad_stored_bytes_as_errors() {
    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let _: () = redis::cmd("SET")
            .arg("C{bad}")
            .arg("12abc")
            .query(&mut server.sync())
            .unwrap();
        // The execute fails: the command's own deferred is taken while queueing, since a
        // `#[pipelined]` function's combine step (its result) is aborted.
        let p = registry.pipeline();
        let mut n = None;
        let out = mode.run(&p, |p| {
            let get = COUNTS.get(p, "bad");
            n = Some(get.clone());
            get
        });
        let error = p.execute().await.unwrap_err();
        mode.assert_after_failed_execute(&out);
        let shown = n.unwrap().try_get().unwrap_err().to_string();
        assert!(shown.contains("integer codec"), "{mode:?}: {shown}");
        assert!(error.to_string().contains("GET"), "{mode:?}: {error}");
    }
}

#[tokio::test]
async fn typed_values_round_trip_through_redis() {
    let (server, registry, _) = counted_server().await;
    const FLAGS: Strings<BooleanField> = Strings::new(Keyspace::new("B"));
    const BLOBS: Strings<BinaryField> = Strings::new(Keyspace::new("Bin"));
    const LISTS: Strings<ListField> = Strings::new(Keyspace::new("L"));
    let list = vec![serde_json::json!(1), serde_json::json!("é")];
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let _ = FLAGS.set(p, "t", &true);
            let _ = FLAGS.set(p, "f", &false);
            let _ = BLOBS.set(p, "b", &[0u8, 255, 10][..]);
            let _ = LISTS.set(p, "l", &list[..]);
            let t = FLAGS.get(p, "t");
            let f = FLAGS.get(p, "f");
            let b = BLOBS.get(p, "b");
            let l = LISTS.get(p, "l");
            let raw: Deferred<Vec<u8>> = p.get("L{l}");
            (t, f, b, l, raw)
        });
        p.execute().await.unwrap();
        let (t, f, b, l, raw) = (*out).clone();
        assert_eq!((v(&t), v(&f)), (Some(true), Some(false)), "{mode:?}");
        assert_eq!(b, Some(vec![0, 255, 10]), "{mode:?}");
        assert_eq!(l, Some(list.clone()), "{mode:?}");
        assert_eq!(*raw, br#"[1, "\u00e9"]"#, "{mode:?}");
    }
}

#[tokio::test]
async fn scan_escapes_the_keyspace_and_honours_templates() {
    let (server, registry, _) = counted_server().await;
    const ODD: Strings = Strings::new(Keyspace::new("a.b+*[x]"));
    const PLAIN: Strings = Strings::new(Keyspace::new("a.b+Q[x]"));
    const COLON: Strings = Strings::new(Keyspace::new("user").template("%s:%s"));
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            for id in ["1", "nested{x}", "glob*?", "2"] {
                let _ = ODD.set(p, id, "v");
                let _ = PLAIN.set(p, id, "v");
                let _ = COLON.set(p, id, "v");
            }
        });
        p.execute().await.unwrap();
        assert!(out.try_get().is_ok(), "{mode:?}");
        let mut odd = registry
            .scope(ODD.scan_iter(None, Some(2)).collect())
            .await
            .unwrap();
        odd.sort();
        assert_eq!(odd, ["1", "2", "glob*?", "nested{x}"], "{mode:?}");
        let mut colon = registry
            .scope(COLON.scan_iter(None, None).collect())
            .await
            .unwrap();
        colon.sort();
        assert_eq!(colon, ["1", "2", "glob*?", "nested{x}"], "{mode:?}");
        let ones = registry
            .scope(COLON.scan_iter(Some("1*"), None).collect())
            .await
            .unwrap();
        assert_eq!(ones, ["1"], "{mode:?}");
        let page = registry
            .scope(async { ODD.scan(None, 0, Some("nested*"), Some(1000)).await })
            .await
            .unwrap();
        assert_eq!(page, (0, vec!["nested{x}".to_owned()]), "{mode:?}");
    }
}

const INDEX: HashedString = HashedString::new(Keyspace::new("my_index"));

#[tokio::test]
async fn hashed_string_shards_and_methods() {
    let (server, registry, counting) = counted_server().await;
    // The reference table of the Python library.
    let small: HashedString = HashedString::new(Keyspace::new("s")).shards(3);
    let big: HashedString = HashedString::new(Keyspace::new("s")).shards(1000);
    for (key, s3, s64, s1000) in [
        ("a", 1, 33, 497),
        ("b", 1, 15, 343),
        ("foo123", 0, 16, 416),
        ("1", 1, 27, 411),
        ("", 0, 62, 366),
        ("é", 1, 47, 335),
    ] {
        assert_eq!(
            (small.shard(key), INDEX.shard(key), big.shard(key)),
            (s3, s64, s1000),
            "{key}"
        );
    }
    assert_eq!(INDEX.shard_key("a").unwrap(), "my_index{33}");

    for mode in Mode::ALL {
        reset(&server);
        let batches = counting.batches();
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let new = INDEX.set(p, "a", "alpha");
            let _ = INDEX.set(p, "b", "beta");
            let nx = INDEX.setnx(p, "a", "other");
            let got = INDEX.get(p, "a");
            let len = INDEX.strlen(p, "b");
            let n = INDEX.incr(p, "n", 3);
            let f = INDEX.incrbyfloat(p, "f", 0.5);
            let many = INDEX.mget(p, &["a", "zzz", "b"]);
            (new, nx, got, len, n, f, many)
        });
        p.execute().await.unwrap();
        assert_eq!(counting.batches() - batches, 1, "{mode:?}");
        let (new, nx, got, len, n, f, many) = (*out).clone();
        assert_eq!((*new, *nx), (1, false), "{mode:?}");
        assert_eq!(got, Some("alpha".to_owned()), "{mode:?}");
        assert_eq!((*len, *n, *f), (4, 3, 0.5), "{mode:?}");
        assert_eq!(
            *many,
            vec![Some("alpha".to_owned()), None, Some("beta".to_owned())],
            "{mode:?}"
        );
        let raw: Option<String> = redis::cmd("HGET")
            .arg("my_index{33}")
            .arg("a")
            .query(&mut server.sync())
            .unwrap();
        assert_eq!(raw.as_deref(), Some("alpha"), "{mode:?}");

        let p = registry.pipeline();
        let out = mode.run(&p, |p| INDEX.delete(p, &["a", "b", "zzz"]));
        p.execute().await.unwrap();
        let deleted = (*out).clone();
        assert_eq!(deleted, 2, "{mode:?}");
        assert_eq!(counting.batches() - batches, 2, "{mode:?}");
    }
}

#[tokio::test]
async fn hashed_string_scan_visits_every_shard() {
    let (server, registry, _) = counted_server().await;
    let three: HashedString = HashedString::new(Keyspace::new("three")).shards(3);
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    assert!(
        keys.iter().any(|k| three.shard(k) == 2),
        "some key lands on the last shard"
    );
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            for k in &keys {
                let _ = three.set(p, k, k);
            }
        });
        p.execute().await.unwrap();
        assert!(out.try_get().is_ok(), "{mode:?}");
        let mut found: Vec<String> = registry
            .scope(three.scan_iter(None, Some(5)).collect())
            .await
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                assert_eq!(k, v, "{mode:?}");
                k
            })
            .collect();
        found.sort();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(found, expected, "{mode:?}");
    }
}

#[tokio::test]
async fn keyspaces_with_their_own_connection() {
    let (a, b) = (RedisServer::start(), RedisServer::start());
    let registry = Registry::new();
    registry.connect(a.connection().await).unwrap();
    registry
        .connect_named("stats", b.connection().await)
        .unwrap();
    const VISITS: Strings<IntegerField> = Strings::new(Keyspace::new("V").on("stats"));
    for mode in Mode::ALL {
        reset(&a);
        reset(&b);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let n = VISITS.incr(p, "home", 1);
            let name = NAMES.set(p, "1", "x");
            (n, name)
        });
        p.execute().await.unwrap();
        let (n, name) = (*out).clone();
        assert_eq!(n, 1, "{mode:?}");
        assert!(name.try_get().is_ok(), "{mode:?}");
        assert_eq!((a.calls("incrby"), b.calls("incrby")), (0, 1), "{mode:?}");
        assert_eq!((a.calls("set"), b.calls("set")), (1, 0), "{mode:?}");
    }
}

/// Member names are text: names that are not UTF-8 are refused with an error naming the
/// key, never converted lossily (which merged `a\xff` and `a\xfe` into one `a\u{fffd}`).
#[tokio::test]
async fn member_names_that_are_not_utf8_are_errors_naming_the_key() {
    let (server, registry, _) = counted_server().await;
    let hset = |key: &str, members: &[&[u8]]| {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for m in members {
            cmd.arg(*m).arg("1");
        }
        let _: () = cmd.query(&mut server.sync()).unwrap();
    };
    hset("U{bin}", &[b"a\xff", b"a\xfe", b"b"]);
    for mode in Mode::ALL {
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let len = USERS.hlen(p, "bin");
            let all = USERS.hgetall(p, "bin");
            let vals = USERS.hvals(p, "bin");
            let page = USERS.hscan(p, "bin", 0, None, None);
            (len, all, vals, page)
        });
        let _ = p.execute().await;
        let (len, all, vals, page) = (*out).clone();
        assert_eq!(*len, 3, "{mode:?}");
        for error in [
            all.try_get().err(),
            vals.try_get().err(),
            page.try_get().err(),
        ] {
            let error = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(
                error.contains("U{bin}") && error.contains("utf-8"),
                "{mode:?}: {error}"
            );
        }
    }
    let scanned = registry
        .scope(USERS.hscan_iter("bin", None, None).collect())
        .await;
    assert!(scanned.is_err(), "{scanned:?}");

    // A HashedString shard holding such a member: the scan fails, naming the shard key.
    let three: HashedString = HashedString::new(Keyspace::new("bin")).shards(3);
    hset("bin{1}", &[b"a\xff", b"a\xfe", b"b"]);
    let scanned = registry.scope(three.scan_iter(None, None).collect()).await;
    let error = scanned.map(|found| format!("{found:?}")).unwrap_err();
    assert!(
        error.to_string().contains("bin{1}") && error.to_string().contains("utf-8"),
        "{error}"
    );
}

/// Keys used as given: Python's keyspaces without a `keyspace`.
#[tokio::test]
async fn unprefixed_keyspaces_use_ids_as_keys() {
    const RAW: Strings<TextField> = Strings::new(Keyspace::unprefixed());
    const RAW_COUNTS: Strings<IntegerField> = Strings::new(Keyspace::unprefixed());
    const RAW_HASH: Hash = Hash::new(Keyspace::unprefixed()).fields(&[("n", Field::Integer)]);
    const RAW_LIST: List<IntegerField> = List::new(Keyspace::unprefixed());
    const RAW_ASCII: Strings<AsciiField> = Strings::new(Keyspace::unprefixed().ascii_keys());
    assert_eq!(RAW.key("session:42").unwrap(), "session:42");
    assert_eq!(RAW.key(7).unwrap(), "7");
    assert_eq!(RAW.name(), "");
    let error = RAW_ASCII.key("é").unwrap_err().to_string();
    assert!(error.contains("unprefixed keyspace key"), "{error}");
    let error = RAW_ASCII
        .set(None, "k", "é")
        .check()
        .unwrap_err()
        .to_string();
    assert!(error.contains("unprefixed keyspace"), "{error}");

    let (server, registry, _) = counted_server().await;
    for mode in Mode::ALL {
        reset(&server);
        let p = registry.pipeline();
        let out = mode.run(&p, |p| {
            let _ = RAW.set(p, "a:1", "x");
            let _ = RAW.set(p, "a:2", "y");
            let _ = RAW.set(p, "b{1}", "z");
            let got = RAW.get(p, "a:1");
            let n = RAW_COUNTS.incr(p, "hits", 2);
            let _ = RAW_HASH.hset(p, "h", "n", 5);
            let member = RAW_HASH.hget(p, "h", "n");
            let _ = RAW_LIST.rpush(p, "l", &[2, 1]);
            let stored = RAW_LIST.sort_store(p, "l", &Sort::default(), "l:sorted");
            (got, n, member, stored)
        });
        p.execute().await.unwrap();
        let (got, n, member, stored) = (*out).clone();
        assert_eq!(got, Some("x".to_owned()), "{mode:?}");
        assert_eq!((*n, *stored), (2, 2), "{mode:?}");
        assert_eq!(member, Some(FieldValue::Integer(5)), "{mode:?}");
        assert_eq!(raw_get(&server, "a:1"), Some(b"x".to_vec()), "{mode:?}");
        assert_eq!(raw_get(&server, "b{1}"), Some(b"z".to_vec()), "{mode:?}");
        let sorted: Vec<i64> = redis::cmd("LRANGE")
            .arg("l:sorted")
            .arg(0)
            .arg(-1)
            .query(&mut server.sync())
            .unwrap();
        assert_eq!(sorted, [1, 2], "{mode:?}");

        // Scans match whole keys with the pattern as given and return whole keys.
        let mut all = registry
            .scope(RAW.scan_iter(None, None).collect())
            .await
            .unwrap();
        all.sort();
        assert_eq!(
            all,
            ["a:1", "a:2", "b{1}", "h", "hits", "l", "l:sorted"],
            "{mode:?}"
        );
        let mut a = registry
            .scope(RAW.scan_iter(Some("a:*"), None).collect())
            .await
            .unwrap();
        a.sort();
        assert_eq!(a, ["a:1", "a:2"], "{mode:?}");
    }
}

#[tokio::test]
async fn a_member_its_field_cannot_decode_is_named_with_its_key() {
    let (server, registry, _) = counted_server().await;
    let _: () = redis::cmd("HSET")
        .arg("U{bad}")
        .arg("age")
        .arg("not a number")
        .arg("admin")
        .arg("1")
        .query(&mut server.sync())
        .unwrap();
    let p = registry.pipeline();
    let all = USERS.hgetall(&p, "bad");
    let age = USERS.hget(&p, "bad", "age");
    let admin = USERS.hget(&p, "bad", "admin");
    let _ = p.execute().await;
    for error in [all.try_get().unwrap_err(), age.try_get().unwrap_err()] {
        assert!(
            matches!(&error, Error::Decode { key, member: Some(m), .. } if &**key == "U{bad}" && &**m == "age"),
            "{error}"
        );
        assert!(error.to_string().contains("not a number"), "{error}");
    }
    assert_eq!(admin.try_get().unwrap(), &Some(FieldValue::Boolean(true)));
}
