//! Keyspaces, fields and HashedString against real redis-server processes: every method,
//! standalone, on a pipeline passed in, and inside a nested pipeline; key and scan
//! formats; encode errors that send nothing.

use std::collections::HashMap;

use redpipe::field::{
    AsciiField, BinaryField, BooleanField, Field, FieldValue, FloatField, IntegerField, ListField,
    TextField,
};
use redpipe::keyspace::{
    Hash, HashedString, HyperLogLog, Keyspace, List, Set, Sort, SortedSet, Strings, ZAdd,
};
use redpipe::{Deferred, Error, Nested, Parent, Registry};
use redpipe_dev::{Counting, RedisServer};

async fn setup() -> (RedisServer, Registry, Counting) {
    let server = RedisServer::start();
    let counting = Counting::wrap(&server.connection().await);
    let registry = Registry::new();
    registry.connect(counting.connection()).unwrap();
    (server, registry, counting)
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
    let (server, registry, counting) = setup().await;
    let p = registry.pipeline();
    let set = NAMES.set(&p, "1", "alice");
    let got = NAMES.get(&p, "1");
    let missing = NAMES.get(&p, "nobody");
    let nx = NAMES.setnx(&p, "1", "bob");
    let appended = NAMES.append(&p, "1", "!");
    let len = NAMES.strlen(&p, "1");
    let sub = NAMES.substr(&p, "1", 0, 2);
    let ranged = NAMES.setrange(&p, "2", 0, "zz");
    let many = NAMES.mget(&p, &["1", "nobody", "2"]);
    let cond = NAMES.set_with(
        &p,
        "1",
        "carol",
        redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX),
    );
    let ex = NAMES.setex(&p, "e", "v", 100);
    let pex = NAMES.psetex(&p, "pe", "v", 100_000);
    let bit = NAMES.setbit(&p, "bits", 7, true);
    let get_bit = NAMES.getbit(&p, "bits", 7);
    let bits = NAMES.bitcount(&p, "bits", None);
    let bits_range = NAMES.bitcount(&p, "bits", Some((0, 0)));
    let n = COUNTS.incr(&p, "n", 41);
    let f = FLOATS.incrbyfloat(&p, "f", 1.5);
    let f_get = FLOATS.get(&p, "f");
    p.execute().await.unwrap();
    assert_eq!(counting.batches(), 1);
    assert!(set.try_get().is_ok());
    assert_eq!(got, Some("alice".to_owned()));
    assert_eq!(missing, None);
    assert_eq!(nx, false);
    assert_eq!((*appended, *len), (6, 6));
    assert_eq!(sub, "ali".to_owned());
    assert_eq!(ranged, 2);
    assert_eq!(
        many,
        vec![Some("alice!".to_owned()), None, Some("zz".to_owned())]
    );
    assert_eq!(cond, false);
    assert!(ex.try_get().is_ok() && pex.try_get().is_ok());
    assert_eq!((*bit, *get_bit, *bits, *bits_range), (false, true, 1, 1));
    assert_eq!(n, 41);
    assert_eq!(f, 1.5);
    assert_eq!(f_get, Some(1.5));
    assert_eq!(raw_get(&server, "N{1}"), Some(b"alice!".to_vec()));
}

#[tokio::test]
async fn standalone_and_nested_calls() {
    let (_server, registry, counting) = setup().await;
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
    let p = registry.pipeline();
    let a = rename_user(&p, "a", "ann");
    let b = rename_user(&p, "b", "bea");
    p.execute().await.unwrap();
    assert_eq!(
        (v(&a), v(&b)),
        (Some("ann".to_owned()), Some("bea".to_owned()))
    );
    assert_eq!(counting.batches(), 3);
}

#[tokio::test]
async fn key_commands() {
    let (_server, registry, _) = setup().await;
    let p = registry.pipeline();
    let _ = NAMES.set(&p, "k", "v");
    let _ = NAMES.set(&p, "gone", "v");
    let exists = NAMES.exists(&p, "k");
    let expire = NAMES.expire(&p, "k", 100);
    let ttl = NAMES.ttl(&p, "k");
    let pexpire = NAMES.pexpire(&p, "k", 50_000);
    let pttl = NAMES.pttl(&p, "k");
    let persist = NAMES.persist(&p, "k");
    let after = NAMES.ttl(&p, "k");
    let at = NAMES.pexpireat(&p, "gone", 4_102_444_800_000);
    let deleted = NAMES.delete(&p, &["gone", "never"]);
    let dump = NAMES.dump(&p, "k");
    let renamed = NAMES.rename(&p, "k", "k2");
    let nx = NAMES.renamenx(&p, "k2", "k2");
    let encoding: Deferred<Option<String>> = NAMES.object(&p, "ENCODING", "k2");
    p.execute().await.unwrap();
    assert_eq!(exists, true);
    assert_eq!(expire, true);
    assert!((1..=100).contains(&*ttl));
    assert_eq!(pexpire, true);
    assert!(*pttl > 0 && *pttl <= 50_000);
    assert_eq!(persist, true);
    assert_eq!(after, -1);
    assert_eq!(at, true);
    assert_eq!(deleted, 1);
    assert!(renamed.try_get().is_ok());
    assert_eq!(nx, false);
    assert_eq!(encoding, Some("embstr".to_owned()));
    let payload = dump.try_get().unwrap().clone().unwrap();

    let p = registry.pipeline();
    let restored = NAMES.restore(&p, "copy", &payload, 0);
    let again = NAMES.restorenx(&p, "copy", &payload, 0);
    let fresh = NAMES.restorenx(&p, "copy2", &payload, 10_000);
    let read = NAMES.get(&p, "copy2");
    let script = redpipe::Script::new("return redis.call('GET', KEYS[1]) .. ARGV[1]");
    let evaled: Deferred<String> = NAMES.eval(&p, &script, &["copy"], &["?"]);
    p.execute().await.unwrap();
    assert!(restored.try_get().is_ok());
    assert_eq!((*again, *fresh), (false, true));
    assert_eq!(read, Some("v".to_owned()));
    assert_eq!(evaled, "v?".to_owned());

    let p = registry.pipeline();
    let busy = NAMES.restore(&p, "copy", &payload, 0);
    assert!(p.execute().await.is_err());
    assert!(busy.try_get().unwrap_err().to_string().contains("BUSYKEY"));
}

#[tokio::test]
async fn sort_with_raw_patterns() {
    let (_server, registry, _) = setup().await;
    let p = registry.pipeline();
    let _ = QUEUE.rpush(&p, "s", &[3, 1, 2]);
    let _ = NAMES.set(&p, "w_1", "one");
    let _ = NAMES.set(&p, "w_2", "two");
    let _ = NAMES.set(&p, "w_3", "three");
    let sorted: Deferred<Vec<i64>> = QUEUE.sort(&p, "s", &Sort::default());
    let desc: Deferred<Vec<i64>> = QUEUE.sort(
        &p,
        "s",
        &Sort {
            desc: true,
            limit: Some((0, 2)),
            ..Sort::default()
        },
    );
    let words: Deferred<Vec<String>> = QUEUE.sort(
        &p,
        "s",
        &Sort {
            get: &["N{w_*}", "#"],
            ..Sort::default()
        },
    );
    p.execute().await.unwrap();
    assert_eq!(*sorted, vec![1, 2, 3]);
    assert_eq!(*desc, vec![3, 2]);
    assert_eq!(*words, ["one", "1", "two", "2", "three", "3"]);
}

#[tokio::test]
async fn set_and_hyperloglog_methods() {
    let (_server, registry, _) = setup().await;
    let p = registry.pipeline();
    let added = TAGS.sadd(&p, "a", &["x", "y", "z"]);
    let _ = TAGS.sadd(&p, "b", &["y"]);
    let removed = TAGS.srem(&p, "a", &["z", "nope"]);
    let card = TAGS.scard(&p, "a");
    let is = TAGS.sismember(&p, "a", "x");
    let members = TAGS.smembers(&p, "a");
    let diff = TAGS.sdiff(&p, &["a", "b"]);
    let inter = TAGS.sinter(&p, &["a", "b"]);
    let union = TAGS.sunion(&p, &["a", "b"]);
    let ds = TAGS.sdiffstore(&p, "d", &["a", "b"]);
    let is_ = TAGS.sinterstore(&p, "i", &["a", "b"]);
    let us = TAGS.sunionstore(&p, "u", &["a", "b"]);
    let rand = TAGS.srandmember(&p, "b");
    let rands = TAGS.srandmember_n(&p, "a", 5);
    let popped = TAGS.spop(&p, "b");
    let empty = TAGS.spop(&p, "b");
    let page = TAGS.sscan(&p, "a", 0, None, None);
    let hll = VISITORS.pfadd(&p, "day1", &["u1", "u2"]);
    let _ = VISITORS.pfadd(&p, "day2", &["u2", "u3"]);
    let merged = VISITORS.pfmerge(&p, "week", &["day1", "day2"]);
    let count = VISITORS.pfcount(&p, &["week"]);
    let both = VISITORS.pfcount(&p, &["day1", "day2"]);
    p.execute().await.unwrap();
    let sorted = |d: &Deferred<Vec<String>>| {
        let mut v = d.try_get().unwrap().clone();
        v.sort();
        v
    };
    assert_eq!((*added, *removed, *card), (3, 1, 2));
    assert_eq!(is, true);
    assert_eq!(sorted(&members), ["x", "y"]);
    assert_eq!(sorted(&diff), ["x"]);
    assert_eq!(sorted(&inter), ["y"]);
    assert_eq!(sorted(&union), ["x", "y"]);
    assert_eq!((*ds, *is_, *us), (1, 1, 2));
    assert_eq!(rand, Some("y".to_owned()));
    assert_eq!(rands.len(), 2);
    assert_eq!((v(&popped), v(&empty)), (Some("y".to_owned()), None));
    assert_eq!(page.0, 0);
    assert_eq!(hll, true);
    assert!(merged.try_get().is_ok());
    assert_eq!((*count, *both), (3, 3));
    let all = registry
        .scope(TAGS.sscan_iter("a", Some("x*"), None).collect())
        .await
        .unwrap();
    assert_eq!(all, ["x"]);
}

#[tokio::test]
async fn list_methods() {
    let (_server, registry, _) = setup().await;
    let p = registry.pipeline();
    let len = QUEUE.rpush(&p, "q", &[1, 2, 3]);
    let len2 = QUEUE.lpush(&p, "q", &[0]);
    let range = QUEUE.lrange(&p, "q", 0, -1);
    let llen = QUEUE.llen(&p, "q");
    let idx = QUEUE.lindex(&p, "q", 1);
    let out = QUEUE.lindex(&p, "q", 99);
    let set = QUEUE.lset(&p, "q", 0, &10);
    let rem = QUEUE.lrem(&p, "q", 0, &2);
    let trim = QUEUE.ltrim(&p, "q", 0, 1);
    let left = QUEUE.lpop(&p, "q");
    let right = QUEUE.rpop(&p, "q");
    let none = QUEUE.rpop(&p, "q");
    let _ = QUEUE.rpush(&p, "src", &[7]);
    let moved = QUEUE.rpoplpush(&p, "src", "dst");
    let _ = QUEUE.rpush(&p, "src", &[8]);
    let bmoved = QUEUE.brpoplpush(&p, "src", "dst", 1.0);
    let bl = QUEUE.blpop(&p, &["nothing", "dst"], 1.0);
    let br = QUEUE.brpop(&p, &["dst"], 1.0);
    let timeout = QUEUE.blpop(&p, &["nothing"], 0.1);
    p.execute().await.unwrap();
    assert_eq!((*len, *len2), (3, 4));
    assert_eq!(*range, vec![0, 1, 2, 3]);
    assert_eq!(llen, 4);
    assert_eq!((v(&idx), v(&out)), (Some(1), None));
    assert!(set.try_get().is_ok() && trim.try_get().is_ok());
    assert_eq!(rem, 1);
    assert_eq!((v(&left), v(&right), v(&none)), (Some(10), Some(1), None));
    assert_eq!((v(&moved), v(&bmoved)), (Some(7), Some(8)));
    assert_eq!(bl, Some(("dst".to_owned(), 8)));
    assert_eq!(br, Some(("dst".to_owned(), 7)));
    assert_eq!(timeout, None);
}

#[tokio::test]
async fn sorted_set_methods() {
    let (_server, registry, _) = setup().await;
    let p = registry.pipeline();
    let added = SCORES.zadd(
        &p,
        "z",
        &[("a", 1.0), ("b", 2.0), ("c", 3.0)],
        ZAdd::default(),
    );
    let changed = SCORES.zadd(
        &p,
        "z",
        &[("a", 1.5)],
        ZAdd {
            xx: true,
            ch: true,
            ..ZAdd::default()
        },
    );
    let incr = SCORES.zadd_incr(&p, "z", "a", 0.25, ZAdd::default());
    let stopped = SCORES.zadd_incr(
        &p,
        "z",
        "new",
        1.0,
        ZAdd {
            xx: true,
            ..ZAdd::default()
        },
    );
    let by = SCORES.zincrby(&p, "z", "b", 0.5);
    let rank = SCORES.zrank(&p, "z", "c");
    let rev = SCORES.zrevrank(&p, "z", "c");
    let score = SCORES.zscore(&p, "z", "a");
    let none = SCORES.zscore(&p, "z", "nope");
    let asc = SCORES.zrange(&p, "z", 0, -1, false);
    let desc = SCORES.zrange(&p, "z", 0, 0, true);
    let with = SCORES.zrange_withscores(&p, "z", 0, 0, false);
    let by_score = SCORES.zrangebyscore(&p, "z", "(1.75", "+inf", None);
    let by_score_ws = SCORES.zrangebyscore_withscores(&p, "z", "-inf", "+inf", Some((0, 1)));
    let rev_score = SCORES.zrevrangebyscore(&p, "z", "+inf", "-inf", Some((0, 1)));
    let rev_ws = SCORES.zrevrangebyscore_withscores(&p, "z", "+inf", "2.6", None);
    let card = SCORES.zcard(&p, "z");
    let count = SCORES.zcount(&p, "z", "2", "+inf");
    let _ = SCORES.zadd(
        &p,
        "lex",
        &[("a", 0.0), ("b", 0.0), ("c", 0.0)],
        ZAdd::default(),
    );
    let lexcount = SCORES.zlexcount(&p, "lex", "[a", "[b");
    let lex = SCORES.zrangebylex(&p, "lex", "-", "+", Some((1, 5)));
    let revlex = SCORES.zrevrangebylex(&p, "lex", "+", "-", None);
    let remlex = SCORES.zremrangebylex(&p, "lex", "[a", "[a");
    let union = SCORES.zunionstore(&p, "u", &[("z", 2.0), ("lex", 1.0)], Some("MAX"));
    let u_score = SCORES.zscore(&p, "u", "c");
    let rem = SCORES.zrem(&p, "z", &["c"]);
    let rem_rank = SCORES.zremrangebyrank(&p, "lex", 0, 0);
    let rem_score = SCORES.zremrangebyscore(&p, "z", "-inf", "1.8");
    let page = SCORES.zscan(&p, "z", 0, None, None);
    p.execute().await.unwrap();
    assert_eq!((*added, *changed), (3, 1));
    assert_eq!((v(&incr), v(&stopped)), (Some(1.75), None));
    assert_eq!(by, 2.5);
    assert_eq!((v(&rank), v(&rev)), (Some(2), Some(0)));
    assert_eq!((v(&score), v(&none)), (Some(1.75), None));
    assert_eq!(*asc, ["a", "b", "c"]);
    assert_eq!(*desc, ["c"]);
    assert_eq!(*with, vec![("a".to_owned(), 1.75)]);
    assert_eq!(*by_score, ["b", "c"]);
    assert_eq!(*by_score_ws, vec![("a".to_owned(), 1.75)]);
    assert_eq!(*rev_score, ["c"]);
    assert_eq!(*rev_ws, vec![("c".to_owned(), 3.0)]);
    assert_eq!((*card, *count), (3, 2));
    assert_eq!(lexcount, 2);
    assert_eq!(*lex, ["b", "c"]);
    assert_eq!(*revlex, ["c", "b", "a"]);
    assert_eq!(remlex, 1);
    assert_eq!(union, 3);
    assert_eq!(u_score, Some(6.0));
    assert_eq!((*rem, *rem_rank, *rem_score), (1, 1, 1));
    assert_eq!(page.1, vec![("b".to_owned(), 2.5)]);

    let p = registry.pipeline();
    let both = SCORES.zadd(
        &p,
        "z",
        &[("x", 1.0)],
        ZAdd {
            nx: true,
            xx: true,
            ch: false,
        },
    );
    p.execute().await.unwrap();
    assert!(matches!(both.try_get(), Err(Error::InvalidOperation(_))));
    let all = registry
        .scope(SCORES.zscan_iter("z", None, Some(1)).collect())
        .await
        .unwrap();
    assert_eq!(all, vec![("b".to_owned(), 2.5)]);
}

#[tokio::test]
async fn hash_methods_decode_per_member() {
    let (server, registry, _) = setup().await;
    let p = registry.pipeline();
    let new = USERS.hset(&p, "1", "name", "alice");
    let _ = USERS.hset(&p, "1", "age", 41);
    let _ = USERS.hmset(
        &p,
        "1",
        &[
            ("admin", true.into()),
            ("tags", vec!["a".to_owned(), "b".to_owned()].into()),
            ("height", 1.5.into()),
        ],
    );
    let nx = USERS.hsetnx(&p, "1", "name", "bob");
    let age = USERS.hget(&p, "1", "age");
    let missing = USERS.hget(&p, "1", "nope");
    let many = USERS.hmget(&p, "1", &["admin", "nope", "tags"]);
    let all = USERS.hgetall(&p, "1");
    let empty = USERS.hgetall(&p, "nobody");
    let keys = USERS.hkeys(&p, "1");
    let vals = USERS.hvals(&p, "1");
    let len = USERS.hlen(&p, "1");
    let strlen = USERS.hstrlen(&p, "1", "name");
    let exists = USERS.hexists(&p, "1", "age");
    let incr = USERS.hincrby(&p, "1", "age", 1);
    let fincr = USERS.hincrbyfloat(&p, "1", "height", 0.25);
    let del = USERS.hdel(&p, "1", &["height", "nope"]);
    let page = USERS.hscan(&p, "1", 0, Some("a*"), None);
    p.execute().await.unwrap();
    assert_eq!(new, 1);
    assert_eq!(nx, false);
    assert_eq!(age, Some(FieldValue::Integer(41)));
    assert_eq!(missing, None);
    assert_eq!(
        *many,
        vec![
            Some(FieldValue::Boolean(true)),
            None,
            Some(FieldValue::StringList(vec!["a".into(), "b".into()]))
        ]
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
    assert_eq!(*all, expected);
    assert!(empty.is_empty());
    assert_eq!(keys.len(), 5);
    assert!(vals.contains(&FieldValue::Integer(41)) && vals.contains(&FieldValue::Boolean(true)));
    assert_eq!((*len, *strlen), (5, 5));
    assert_eq!(exists, true);
    assert_eq!((*incr, *fincr), (42, 1.75));
    assert_eq!(del, 1);
    let mut found = page.1.clone();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        vec![
            ("admin".to_owned(), FieldValue::Boolean(true)),
            ("age".to_owned(), FieldValue::Integer(42))
        ]
    );
    // The stored bytes are the Python library's.
    let stored: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
        .arg("U{1}")
        .query(&mut server.sync())
        .unwrap();
    assert_eq!(stored["admin"], b"1");
    assert_eq!(stored["tags"], b"a,b");
    let scanned = registry
        .scope(USERS.hscan_iter("1", None, None).collect())
        .await
        .unwrap();
    assert_eq!(scanned.len(), 4);
}

#[tokio::test]
async fn a_bad_value_mid_function_sends_nothing() {
    let (server, registry, counting) = setup().await;
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
    let p = registry.pipeline();
    let ok = write_all(&p, &["fine", "also fine"]);
    let bad = write_all(&p, &["first", "tab\there", "third"]);
    p.execute().await.unwrap();
    assert!(ok.try_get().is_ok());
    let error = bad.try_get().unwrap_err();
    assert!(
        matches!(&error, Error::InvalidValue { field, .. } if &**field == "A"),
        "{error:?}"
    );
    assert_eq!(
        counting.commands(),
        2,
        "nothing of the failing function was sent"
    );
    assert_eq!(server.calls("set"), 2);
    assert_eq!(raw_get(&server, "A{0}"), Some(b"fine".to_vec()));
}

#[tokio::test]
async fn codecs_decode_bad_stored_bytes_as_errors() {
    let (server, registry, _) = setup().await;
    let _: () = redis::cmd("SET")
        .arg("C{bad}")
        .arg("12abc")
        .query(&mut server.sync())
        .unwrap();
    let p = registry.pipeline();
    let n = COUNTS.get(&p, "bad");
    let error = p.execute().await.unwrap_err();
    let shown = n.try_get().unwrap_err().to_string();
    assert!(shown.contains("integer codec"), "{shown}");
    assert!(error.to_string().contains("GET"), "{error}");
}

#[tokio::test]
async fn typed_values_round_trip_through_redis() {
    let (_server, registry, _) = setup().await;
    const FLAGS: Strings<BooleanField> = Strings::new(Keyspace::new("B"));
    const BLOBS: Strings<BinaryField> = Strings::new(Keyspace::new("Bin"));
    const LISTS: Strings<ListField> = Strings::new(Keyspace::new("L"));
    let list = vec![serde_json::json!(1), serde_json::json!("é")];
    let p = registry.pipeline();
    let _ = FLAGS.set(&p, "t", &true);
    let _ = FLAGS.set(&p, "f", &false);
    let _ = BLOBS.set(&p, "b", &[0u8, 255, 10][..]);
    let _ = LISTS.set(&p, "l", &list[..]);
    let t = FLAGS.get(&p, "t");
    let f = FLAGS.get(&p, "f");
    let b = BLOBS.get(&p, "b");
    let l = LISTS.get(&p, "l");
    let raw: Deferred<Vec<u8>> = p.get("L{l}");
    p.execute().await.unwrap();
    assert_eq!((v(&t), v(&f)), (Some(true), Some(false)));
    assert_eq!(b, Some(vec![0, 255, 10]));
    assert_eq!(l, Some(list));
    assert_eq!(*raw, br#"[1, "\u00e9"]"#);
}

#[tokio::test]
async fn scan_escapes_the_keyspace_and_honours_templates() {
    let (_server, registry, _) = setup().await;
    const ODD: Strings = Strings::new(Keyspace::new("a.b+*[x]"));
    const PLAIN: Strings = Strings::new(Keyspace::new("a.b+Q[x]"));
    const COLON: Strings = Strings::new(Keyspace::new("user").template("%s:%s"));
    let p = registry.pipeline();
    for id in ["1", "nested{x}", "glob*?", "2"] {
        let _ = ODD.set(&p, id, "v");
        let _ = PLAIN.set(&p, id, "v");
        let _ = COLON.set(&p, id, "v");
    }
    p.execute().await.unwrap();
    let mut odd = registry
        .scope(ODD.scan_iter(None, Some(2)).collect())
        .await
        .unwrap();
    odd.sort();
    assert_eq!(odd, ["1", "2", "glob*?", "nested{x}"]);
    let mut colon = registry
        .scope(COLON.scan_iter(None, None).collect())
        .await
        .unwrap();
    colon.sort();
    assert_eq!(colon, ["1", "2", "glob*?", "nested{x}"]);
    let ones = registry
        .scope(COLON.scan_iter(Some("1*"), None).collect())
        .await
        .unwrap();
    assert_eq!(ones, ["1"]);
    let page = registry
        .scope(async { ODD.scan(None, 0, Some("nested*"), Some(1000)).await })
        .await
        .unwrap();
    assert_eq!(page, (0, vec!["nested{x}".to_owned()]));
}

const INDEX: HashedString = HashedString::new(Keyspace::new("my_index"));

#[tokio::test]
async fn hashed_string_shards_and_methods() {
    let (server, registry, counting) = setup().await;
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

    let p = registry.pipeline();
    let new = INDEX.set(&p, "a", "alpha");
    let _ = INDEX.set(&p, "b", "beta");
    let nx = INDEX.setnx(&p, "a", "other");
    let got = INDEX.get(&p, "a");
    let len = INDEX.strlen(&p, "b");
    let n = INDEX.incr(&p, "n", 3);
    let f = INDEX.incrbyfloat(&p, "f", 0.5);
    let many = INDEX.mget(&p, &["a", "zzz", "b"]);
    p.execute().await.unwrap();
    assert_eq!((*new, *nx), (1, false));
    assert_eq!(got, Some("alpha".to_owned()));
    assert_eq!((*len, *n, *f), (4, 3, 0.5));
    assert_eq!(
        *many,
        vec![Some("alpha".to_owned()), None, Some("beta".to_owned())]
    );
    let raw: Option<String> = redis::cmd("HGET")
        .arg("my_index{33}")
        .arg("a")
        .query(&mut server.sync())
        .unwrap();
    assert_eq!(raw.as_deref(), Some("alpha"));

    let p = registry.pipeline();
    let deleted = INDEX.delete(&p, &["a", "b", "zzz"]);
    p.execute().await.unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(counting.batches(), 2);
}

#[tokio::test]
async fn hashed_string_scan_visits_every_shard() {
    let (_server, registry, _) = setup().await;
    let three: HashedString = HashedString::new(Keyspace::new("three")).shards(3);
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    assert!(
        keys.iter().any(|k| three.shard(k) == 2),
        "some key lands on the last shard"
    );
    let p = registry.pipeline();
    for k in &keys {
        let _ = three.set(&p, k, k);
    }
    p.execute().await.unwrap();
    let mut found: Vec<String> = registry
        .scope(three.scan_iter(None, Some(5)).collect())
        .await
        .unwrap()
        .into_iter()
        .map(|(k, v)| {
            assert_eq!(k, v);
            k
        })
        .collect();
    found.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(found, expected);
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
    let p = registry.pipeline();
    let n = VISITS.incr(&p, "home", 1);
    let name = NAMES.set(&p, "1", "x");
    p.execute().await.unwrap();
    assert_eq!(n, 1);
    assert!(name.try_get().is_ok());
    assert_eq!((a.calls("incrby"), b.calls("incrby")), (0, 1));
    assert_eq!((a.calls("set"), b.calls("set")), (1, 0));
}
