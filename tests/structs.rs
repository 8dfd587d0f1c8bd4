//! `#[derive(Struct)]` against real redis-server processes: every operation standalone and
//! batched, one round trip for a hundred records, TTL rules, required and extra members,
//! invalid input that sends nothing, and the bytes the Python library writes and reads.

use std::collections::{BTreeMap, HashMap};

use redpipe::{pipelined, Deferred, Error, Pipeline, Registry, Struct};
use redpipe_dev::{counted_server, RedisServer};

/// The record of most tests: a required member, optional ones, codecs chosen by
/// attributes, a renamed member and an extra map.
#[derive(Debug, Clone, PartialEq, redpipe::Struct)]
#[redpipe(keyspace = "U", ttl = 30, patch_derive(Debug, PartialEq))]
struct User {
    #[redpipe(key)]
    id: String,
    name: String,
    age: Option<i64>,
    #[redpipe(ascii)]
    code: Option<String>,
    #[redpipe(string_list, rename = "tags")]
    labels: Option<Vec<String>>,
    #[redpipe(json)]
    prefs: Option<BTreeMap<String, u32>>,
    #[redpipe(extra)]
    other: HashMap<String, String>,
}

fn alice() -> User {
    User {
        id: "1".into(),
        name: "alice".into(),
        age: Some(30),
        code: Some("A-1".into()),
        labels: Some(vec!["a".into(), "b".into()]),
        prefs: Some(BTreeMap::from([("n".into(), 1)])),
        other: HashMap::from([("nickname".into(), "al".into())]),
    }
}

/// The records of a `load_many`, every one of which must have loaded.
fn all_ok<T>(entries: Vec<Result<T, Error>>) -> Vec<T> {
    entries
        .into_iter()
        .map(|e| e.unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

fn raw_hash(server: &RedisServer, key: &str) -> BTreeMap<String, Vec<u8>> {
    redis::cmd("HGETALL")
        .arg(key)
        .query(&mut server.sync())
        .unwrap()
}

fn raw_hset(server: &RedisServer, key: &str, pairs: &[(&str, &[u8])]) {
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for (member, bytes) in pairs {
        cmd.arg(*member).arg(*bytes);
    }
    let _: () = cmd.query(&mut server.sync()).unwrap();
}

fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut server.sync())
        .unwrap()
}

fn v<T: Clone>(d: &Deferred<T>) -> T {
    d.try_get().unwrap().clone()
}

#[test]
fn constants_describe_the_layout() {
    assert_eq!(User::KEYSPACE.name(), "U");
    assert_eq!(User::keyspace().key("1").unwrap(), "U{1}");
    assert_eq!(User::TTL, Some(30));
    assert_eq!(User::KEY_NAME, "id");
    assert_eq!(
        User::MEMBERS,
        &["name", "age", "code", "tags", "prefs"] as &[&str]
    );
    assert_eq!(User::REQUIRED, &["name"] as &[&str]);
}

#[tokio::test]
async fn every_operation_standalone() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            let saved = alice().save(None).await.unwrap();
            assert_eq!(saved, Some(alice()));
            assert_eq!(counting.batches(), 1);
            assert_eq!(User::load(None, "1").await.unwrap(), Some(alice()));
            assert_eq!(User::load(None, "nobody").await.unwrap(), None);

            // save_nx keeps existing members and adds missing ones.
            let mut other = alice();
            other.name = "bob".into();
            other.age = None;
            let kept = other.save_nx(None).await.unwrap().unwrap();
            assert_eq!(kept.name, "alice");
            let mut fresh = alice();
            fresh.id = "2".into();
            assert_eq!(fresh.save_nx(None).await.unwrap(), Some(fresh.clone()));

            let many = User::load_many(None, &["1", "nobody", "2"]).await.unwrap();
            assert_eq!(all_ok(many), vec![Some(alice()), None, Some(fresh.clone())]);

            let only = User::load_only(None, "1", &["age", "tags", "nickname"])
                .await
                .unwrap();
            assert_eq!(
                only,
                UserPatch {
                    age: Some(30),
                    labels: Some(vec!["a".into(), "b".into()]),
                    other: HashMap::from([("nickname".into(), "al".into())]),
                    ..UserPatch::default()
                }
            );

            let patch = UserPatch {
                name: Some("alicia".into()),
                code: Some("B-2".into()),
                ..UserPatch::default()
            };
            let updated = User::update(None, "1", &patch).await.unwrap().unwrap();
            assert_eq!(
                (updated.name.as_str(), updated.code.as_deref()),
                ("alicia", Some("B-2"))
            );
            assert_eq!(
                updated.age,
                Some(30),
                "members the patch does not set are kept"
            );

            let removed = User::remove(None, "1", &["code", "tags"])
                .await
                .unwrap()
                .unwrap();
            assert_eq!((removed.code, removed.labels), (None, None));

            assert_eq!(User::incr(None, "1", "age", 5).await.unwrap(), 35);
            assert_eq!(User::decr(None, "1", "age", 2).await.unwrap(), 33);
            let popped = User::pop(None, "1", "age").await.unwrap();
            assert_eq!(popped.age, Some(33));
            assert_eq!(
                User::pop(None, "1", "age").await.unwrap(),
                UserPatch::default()
            );
            assert_eq!(User::load(None, "1").await.unwrap().unwrap().age, None);

            assert!(User::clear(None, "1").await.unwrap());
            assert!(!User::clear(None, "1").await.unwrap());
            assert_eq!(User::load(None, "1").await.unwrap(), None);

            alice().save(None).await.unwrap();
            assert_eq!(User::delete(None, &["1", "2", "3"]).await.unwrap(), 2);
            assert!(!User::keyspace().exists(None, "1").await.unwrap());
        })
        .await;
    assert!(raw_hash(&server, "U{1}").is_empty());
}

#[tokio::test]
async fn every_operation_on_one_pipeline_is_one_round_trip() {
    let (_server, registry, counting) = counted_server().await;
    let mut bob = alice();
    bob.id = "2".into();
    let p = registry.pipeline();
    let saved = alice().save(&p);
    let saved_nx = bob.save_nx(&p);
    let loaded = User::load(&p, "1");
    let many = User::load_many(&p, &["1", "2"]);
    let only = User::load_only(&p, "1", &["name"]);
    let updated = User::update(
        &p,
        "1",
        &UserPatch {
            age: Some(40),
            ..UserPatch::default()
        },
    );
    let removed = User::remove(&p, "1", &["code"]);
    let incr = User::incr(&p, "1", "age", 1);
    let decr = User::decr(&p, "1", "age", 3);
    let popped = User::pop(&p, "1", "prefs");
    let cleared = User::clear(&p, "2");
    let deleted = User::delete(&p, &["1"]);
    let exists = User::keyspace().exists(&p, "1");
    p.execute().await.unwrap();
    assert_eq!(counting.batches(), 1);
    assert_eq!(v(&saved), Some(alice()));
    assert_eq!(v(&saved_nx), Some(bob.clone()));
    assert_eq!(v(&loaded), Some(alice()));
    assert_eq!(all_ok(v(&many)), vec![Some(alice()), Some(bob)]);
    assert_eq!(v(&only).name.as_deref(), Some("alice"));
    assert_eq!(v(&updated).unwrap().age, Some(40));
    assert_eq!(v(&removed).unwrap().code, None);
    assert_eq!((v(&incr), v(&decr)), (41, 38));
    assert_eq!(v(&popped).prefs, Some(BTreeMap::from([("n".into(), 1)])));
    assert!(v(&cleared));
    assert_eq!(v(&deleted), 1);
    assert!(!v(&exists));
}

#[tokio::test]
async fn a_hundred_records_save_in_one_round_trip_and_load_in_one() {
    let (server, registry, counting) = counted_server().await;
    let users: Vec<User> = (0..100)
        .map(|i| User {
            id: i.to_string(),
            name: format!("user {i}"),
            age: Some(i),
            ..alice()
        })
        .collect();
    let p = registry.pipeline();
    let saved: Vec<_> = users.iter().map(|u| u.save(&p)).collect();
    p.execute().await.unwrap();
    assert_eq!(counting.batches(), 1);
    for (user, saved) in users.iter().zip(&saved) {
        assert_eq!(v(saved).as_ref(), Some(user));
    }
    let ids: Vec<i64> = (0..100).collect();
    let loaded = registry
        .scope(async { User::load_many(None, &ids).await })
        .await
        .unwrap();
    assert_eq!(counting.batches(), 2);
    assert_eq!(
        all_ok(loaded),
        users.into_iter().map(Some).collect::<Vec<_>>()
    );
    assert_eq!(raw_hash(&server, "U{42}")["name"], b"user 42");
}

#[tokio::test]
async fn writes_refresh_the_ttl_once_and_reads_do_not() {
    let (server, registry, _counting) = counted_server().await;
    let shorten = || {
        let _: () = redis::cmd("PEXPIRE")
            .arg("U{1}")
            .arg(5_000)
            .query(&mut server.sync())
            .unwrap();
    };
    let refreshed = |what: &str| {
        let ms = pttl(&server, "U{1}");
        assert!(ms > 29_000 && ms <= 30_000, "{what}: {ms}");
    };
    let kept = |what: &str| {
        let ms = pttl(&server, "U{1}");
        assert!(ms > 0 && ms <= 5_000, "{what}: {ms}");
    };
    registry
        .scope(async {
            server.reset_stats();
            alice().save(None).await.unwrap();
            assert_eq!(server.calls("expire"), 1, "one EXPIRE per write");
            refreshed("save");

            shorten();
            User::load(None, "1").await.unwrap();
            User::load_many(None, &["1"]).await.unwrap();
            User::load_only(None, "1", &["age"]).await.unwrap();
            User::update(None, "1", &UserPatch::default())
                .await
                .unwrap();
            kept("loads and an empty update");

            macro_rules! refreshes_once {
                ($what:expr, $write:expr) => {{
                    shorten();
                    server.reset_stats();
                    $write.await.unwrap();
                    assert_eq!(server.calls("expire"), 1, "{}", $what);
                    refreshed($what);
                }};
            }
            let patch = UserPatch {
                age: Some(1),
                ..UserPatch::default()
            };
            refreshes_once!("save_nx", alice().save_nx(None));
            refreshes_once!("update", User::update(None, "1", &patch));
            refreshes_once!("remove", User::remove(None, "1", &["code"]));
            refreshes_once!("incr", User::incr(None, "1", "age", 1));
            refreshes_once!("decr", User::decr(None, "1", "age", 1));
            refreshes_once!("pop", User::pop(None, "1", "tags"));
            User::clear(None, "1").await.unwrap();
            assert_eq!(pttl(&server, "U{1}"), -2);
        })
        .await;
}

#[tokio::test]
async fn required_members_are_enforced() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            alice().save(None).await.unwrap();
            let sent = counting.commands();
            for members in [&["name"][..], &["age", "name"], &["id"]] {
                let error = User::remove(None, "1", members).await.unwrap_err();
                assert!(matches!(error, Error::InvalidOperation(_)), "{error}");
            }
            let error = User::pop(None, "1", "name").await.unwrap_err();
            assert!(matches!(error, Error::InvalidOperation(_)), "{error}");
            assert_eq!(counting.commands(), sent, "refused before sending");

            // Absent `Option` members are removed on save, so the record reads back as saved.
            let bare = User {
                age: None,
                code: None,
                labels: None,
                prefs: None,
                other: HashMap::new(),
                ..alice()
            };
            // Extra members are only added by a save: one the map lacks stays stored, and the
            // record returned shows it, as a fresh load would.
            let stored_again = User {
                other: alice().other,
                ..bare.clone()
            };
            assert_eq!(bare.save(None).await.unwrap(), Some(stored_again));
            let stored = raw_hash(&server, "U{1}");
            assert!(!stored.contains_key("age") && stored.contains_key("nickname"));

            raw_hset(&server, "U{2}", &[("age", b"5")]);
            let error = User::load(None, "2").await.unwrap_err();
            assert!(error.to_string().contains("required member"), "{error}");
            assert!(error.to_string().contains("U{2}"), "{error}");
        })
        .await;
}

#[tokio::test]
async fn extra_members_round_trip_and_bad_names_send_nothing() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            raw_hset(
                &server,
                "U{1}",
                &[("name", b"x"), ("id", b"ignored"), ("color", b"red")],
            );
            let loaded = User::load(None, "1").await.unwrap().unwrap();
            assert_eq!(
                loaded.id, "1",
                "a member named like the key never overrides the id"
            );
            assert_eq!(
                loaded.other,
                HashMap::from([("color".into(), "red".into())])
            );

            let sent = counting.commands();
            for name in ["id", "name", "tags"] {
                let mut bad = alice();
                bad.other.insert(name.into(), "x".into());
                let error = bad.save(None).await.unwrap_err();
                assert!(matches!(error, Error::InvalidOperation(_)), "{error}");
                let patch = UserPatch {
                    other: HashMap::from([(name.into(), "x".into())]),
                    ..UserPatch::default()
                };
                let error = User::update(None, "1", &patch).await.unwrap_err();
                assert!(error.to_string().contains(name), "{error}");
            }
            assert_eq!(counting.commands(), sent);

            let patch = UserPatch {
                other: HashMap::from([("color".into(), "blue".into())]),
                ..UserPatch::default()
            };
            let updated = User::update(None, "1", &patch).await.unwrap().unwrap();
            assert_eq!(updated.other["color"], "blue");
        })
        .await;
}

#[tokio::test]
async fn invalid_values_are_errors_before_anything_is_sent() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            let bad = [
                User {
                    code: Some("é".into()),
                    ..alice()
                },
                User {
                    labels: Some(vec!["a,b".into()]),
                    ..alice()
                },
            ];
            for user in bad {
                let error = user.save(None).await.unwrap_err();
                assert!(matches!(error, Error::InvalidValue { .. }), "{error}");
                let error = user.save_nx(None).await.unwrap_err();
                assert!(matches!(error, Error::InvalidValue { .. }), "{error}");
            }
            let patch = UserPatch {
                age: Some(1),
                code: Some("tab\t".into()),
                ..UserPatch::default()
            };
            let error = User::update(None, "1", &patch).await.unwrap_err();
            assert!(error.to_string().contains("code"), "{error}");
            assert_eq!(counting.commands(), 0);
            assert!(raw_hash(&server, "U{1}").is_empty());

            // Stored bytes a codec cannot read are an error naming the member.
            raw_hset(&server, "U{1}", &[("name", b"x"), ("age", b"old")]);
            let error = User::load(None, "1").await.unwrap_err();
            assert!(error.to_string().contains("age"), "{error}");
        })
        .await;
}

/// Defaults: the keyspace is the type name; a numeric key; a custom template; a
/// named connection.
#[derive(Debug, Clone, PartialEq, redpipe::Struct)]
#[redpipe(connection = "counters", template = "%s:%s")]
struct Counter {
    #[redpipe(key)]
    n: u64,
    hits: Option<u32>,
    ratio: Option<f64>,
    on: Option<bool>,
    blob: Option<Vec<u8>>,
}

#[tokio::test]
async fn defaults_numeric_keys_templates_and_connections() {
    let default_server = RedisServer::start();
    let counters_server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(default_server.connection().await).unwrap();
    registry
        .connect_named("counters", counters_server.connection().await)
        .unwrap();
    let counter = Counter {
        n: 7,
        hits: Some(3),
        ratio: Some(0.5),
        on: Some(false),
        blob: Some(vec![0, 255]),
    };
    let p = registry.pipeline();
    let saved = counter.save(&p);
    let loaded = Counter::load(&p, 7);
    p.execute().await.unwrap();
    assert_eq!(v(&saved), Some(counter.clone()));
    assert_eq!(v(&loaded), Some(counter));
    let stored = raw_hash(&counters_server, "Counter:7");
    assert_eq!(stored["on"], b"");
    assert_eq!(stored["ratio"], b"0.5");
    assert_eq!(stored["blob"], [0, 255]);
    assert!(raw_hash(&default_server, "Counter:7").is_empty());
    assert_eq!(Counter::KEY_NAME, "n");
    assert_eq!(Counter::TTL, None);

    let _: () = redis::cmd("HSET")
        .arg("Counter:x")
        .arg("hits")
        .arg("1")
        .query(&mut counters_server.sync())
        .unwrap();
    let error = registry
        .scope(async { Counter::load(None, "x").await })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("cannot be parsed"), "{error}");
}

/// The Python test suite's kind of record, declared as Python declares it:
///
/// ```python
/// class User(redpipe.Struct):
///     keyspace = 'P'
///     key_name = 'user_id'
///     fields = {'name': TextField, 'admin': BooleanField, 'off': BooleanField,
///               'age': IntegerField, 'height': FloatField, 'prefs': DictField,
///               'tags': StringListField, 'scores': ListField, 'code': AsciiField,
///               'blob': BinaryField}
/// ```
#[derive(Debug, Clone, PartialEq, redpipe::Struct)]
#[redpipe(keyspace = "P")]
struct PyUser {
    #[redpipe(key, rename = "user_id")]
    id: String,
    name: String,
    admin: bool,
    off: Option<bool>,
    age: Option<i64>,
    height: Option<f64>,
    #[redpipe(json)]
    prefs: Option<serde_json::Map<String, serde_json::Value>>,
    #[redpipe(string_list)]
    tags: Option<Vec<String>>,
    #[redpipe(json)]
    scores: Option<Vec<serde_json::Value>>,
    #[redpipe(ascii)]
    code: Option<String>,
    #[redpipe(binary)]
    blob: Option<Vec<u8>>,
    #[redpipe(extra)]
    extra: BTreeMap<String, String>,
}

/// What redpipe 4.0.1 stores for the record below (reference sections 1.15 and 1.16):
/// the key `P{py}`, the id never in the hash, an undeclared member as text.
const PYTHON_HASH: &[(&str, &[u8])] = &[
    ("name", b"Jos\xc3\xa9"),
    ("admin", b"1"),
    ("off", b""),
    ("age", b"41"),
    ("height", b"1.2345678901234568e+17"),
    ("prefs", br#"{"lang": "\u00e9", "n": 1}"#),
    ("tags", b"a,b"),
    ("scores", b"[1, 2.5, null, true]"),
    ("code", b"abc"),
    ("blob", b"\x00\xff"),
    ("nickname", b"jo"),
];

fn py_user() -> PyUser {
    PyUser {
        id: "py".into(),
        name: "José".into(),
        admin: true,
        off: Some(false),
        age: Some(41),
        height: Some(123_456_789_012_345_678.0),
        prefs: Some(serde_json::from_str(r#"{"lang":"é","n":1}"#).unwrap()),
        tags: Some(vec!["a".into(), "b".into()]),
        scores: Some(serde_json::from_str("[1,2.5,null,true]").unwrap()),
        code: Some("abc".into()),
        blob: Some(vec![0, 255]),
        extra: BTreeMap::from([("nickname".into(), "jo".into())]),
    }
}

#[tokio::test]
async fn python_records_load_here_and_ours_load_there() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();

    // Python wrote it; we read the same values.
    raw_hset(&server, "P{py}", PYTHON_HASH);
    let loaded = registry
        .scope(async { PyUser::load(None, "py").await })
        .await
        .unwrap();
    assert_eq!(loaded, Some(py_user()));

    // Python's other spellings read too: floats as Python parses them, any non-empty
    // boolean, integers stored through float, an ASCII value with Python's trailing newline.
    raw_hset(
        &server,
        "P{odd}",
        &[
            ("name", b"x"),
            ("admin", b"0"),
            ("age", b"1.9"),
            ("height", b"1e3"),
            ("code", b"abc\n"),
            ("tags", b",a,,b,"),
        ],
    );
    let odd = registry
        .scope(async { PyUser::load(None, "odd").await })
        .await
        .unwrap()
        .unwrap();
    assert!(odd.admin);
    assert_eq!((odd.age, odd.height), (Some(1), Some(1000.0)));
    assert_eq!(odd.code.as_deref(), Some("abc\n"));
    assert_eq!(odd.tags, Some(vec!["a".into(), "b".into()]));

    // We write it; the hash holds exactly the bytes Python writes (and so reads).
    let _: () = redis::cmd("DEL")
        .arg("P{py}")
        .query(&mut server.sync())
        .unwrap();
    registry
        .scope(async { py_user().save(None).await })
        .await
        .unwrap();
    let expected: BTreeMap<String, Vec<u8>> = PYTHON_HASH
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
        .collect();
    assert_eq!(raw_hash(&server, "P{py}"), expected);
    assert_eq!(PyUser::KEY_NAME, "user_id");
}

/// A codec of the user's own: text stored upper-case.
struct Shout;

impl redpipe::field::Codec for Shout {
    type Value = str;
    const NAME: &'static str = "shout";

    fn encode(value: &str) -> Result<Vec<u8>, String> {
        Ok(value.to_uppercase().into_bytes())
    }

    fn decode(bytes: &[u8]) -> Result<String, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, redpipe::Struct)]
#[redpipe(keyspace = "S", ascii_keys)]
struct Shouted {
    #[redpipe(key)]
    id: String,
    #[redpipe(codec = Shout)]
    word: String,
}

#[tokio::test]
async fn custom_codecs_and_ascii_keys() {
    let (server, registry, counting) = counted_server().await;
    registry
        .scope(async {
            let quiet = Shouted {
                id: "1".into(),
                word: "hey".into(),
            };
            let stored = quiet.save(None).await.unwrap().unwrap();
            assert_eq!(
                stored.word, "HEY",
                "the record returned is what Redis holds"
            );
            assert_eq!(raw_hash(&server, "S{1}")["word"], b"HEY");

            let sent = counting.commands();
            let error = Shouted::load(None, "é").await.unwrap_err();
            assert!(matches!(error, Error::InvalidValue { .. }), "{error}");
            assert_eq!(counting.commands(), sent);
        })
        .await;
}

/// A birthday: one more year, and the record as it is now; both from one function.
#[pipelined]
fn birthday(pipe: &Pipeline, id: &str) -> Result<(i64, String), Error> {
    let age = User::incr(pipe, id, "age", 1);
    let user = User::load(pipe, id);
    // The tail (a block here) is the combine step.
    {
        let user = user.try_get()?.as_ref();
        let name = user.map_or_else(String::new, |user| user.name.clone());
        Ok((*age.try_get()?, name))
    }
}

#[tokio::test]
async fn operations_inside_pipelined_functions() {
    let (_server, registry, counting) = counted_server().await;
    let saved = registry
        .scope(async { alice().save(None).await })
        .await
        .unwrap();
    assert_eq!(saved, Some(alice()));

    let pipe = registry.pipeline();
    let first = birthday(&pipe, "1");
    let second = birthday(&pipe, "1");
    let nobody = birthday(&pipe, "nobody");
    pipe.execute().await.unwrap();
    assert_eq!(*first, (31, "alice".to_owned()));
    assert_eq!(*second, (32, "alice".to_owned()));
    // HINCRBY creates the member: the record exists now, without its required name.
    assert!(
        matches!(nobody.try_get(), Err(Error::InvalidValue { .. })),
        "{nobody:?}"
    );
    assert_eq!(counting.batches(), 2);

    // Standalone, the function runs its own round trip.
    let third = registry.scope(async { birthday(None, "1").await }).await;
    assert_eq!(third.unwrap(), (33, "alice".to_owned()));
}

/// Every integer member type, to be stored over its whole range.
#[derive(Debug, Clone, PartialEq, redpipe::Struct)]
#[redpipe(keyspace = "I")]
struct Integers {
    #[redpipe(key)]
    id: String,
    a: i8,
    b: i16,
    c: i32,
    d: i64,
    e: u8,
    f: u16,
    g: u32,
    h: u64,
}

#[tokio::test]
async fn integer_members_round_trip_over_their_whole_range() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    let min = Integers {
        id: "min".into(),
        a: i8::MIN,
        b: i16::MIN,
        c: i32::MIN,
        d: i64::MIN,
        e: 0,
        f: 0,
        g: 0,
        h: 0,
    };
    let max = Integers {
        id: "max".into(),
        a: i8::MAX,
        b: i16::MAX,
        c: i32::MAX,
        d: i64::MAX,
        e: u8::MAX,
        f: u16::MAX,
        g: u32::MAX,
        h: u64::MAX,
    };
    let p = registry.pipeline();
    let saved = [min.save(&p), max.save(&p)];
    let loaded = Integers::load_many(&p, &["min", "max"]);
    p.execute().await.unwrap();
    assert_eq!(v(&saved[0]), Some(min.clone()));
    assert_eq!(v(&saved[1]), Some(max.clone()));
    assert_eq!(all_ok(v(&loaded)), vec![Some(min), Some(max)]);
    let stored = raw_hash(&server, "I{max}");
    assert_eq!(stored["h"], b"18446744073709551615");
    assert_eq!(stored["d"], b"9223372036854775807");
    assert_eq!(raw_hash(&server, "I{min}")["d"], b"-9223372036854775808");
}

#[tokio::test]
async fn integers_python_rounded_through_float_load_where_they_fit() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    let load = |id: &'static str| registry.scope(async move { Integers::load(None, id).await });
    let python_row = |d: &'static [u8], h: &'static [u8]| -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("a", b"1"),
            ("b", b"1"),
            ("c", b"1"),
            ("d", d),
            ("e", b"1"),
            ("f", b"1"),
            ("g", b"1"),
            ("h", h),
        ]
    };

    // Python's IntegerField writes `int(float(v))`: i64::MAX and u64::MAX - 1000 become
    // 2^63 = 9223372036854775808 and 2^64 = 18446744073709551616.
    raw_hset(&server, "I{u}", &python_row(b"1", b"9223372036854775808"));
    let loaded = load("u").await.unwrap().unwrap();
    assert_eq!(loaded.h, 1 << 63, "2^63 fits in u64");
    raw_hset(&server, "I{f}", &python_row(b"1.9", b"1e19"));
    let loaded = load("f").await.unwrap().unwrap();
    assert_eq!((loaded.d, loaded.h), (1, 10_000_000_000_000_000_000));

    raw_hset(&server, "I{i}", &python_row(b"9223372036854775808", b"1"));
    let error = load("i").await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidValue { field, .. } if &**field == "d"),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("9223372036854775808") && message.contains("out of range for i64"),
        "{message}"
    );
    raw_hset(
        &server,
        "I{big}",
        &python_row(b"1", b"18446744073709551616"),
    );
    let message = load("big").await.unwrap_err().to_string();
    assert!(
        message.contains("18446744073709551616") && message.contains("out of range for u64"),
        "{message}"
    );
    raw_hset(&server, "I{neg}", &python_row(b"1", b"-1"));
    let message = load("neg").await.unwrap_err().to_string();
    assert!(message.contains("-1 is out of range for u64"), "{message}");
}

#[tokio::test]
async fn a_corrupt_member_is_named_and_never_hides_the_rest() {
    let (server, registry, _) = counted_server().await;
    registry
        .scope(async {
            alice().save(None).await.unwrap();
            let mut bob = alice();
            bob.id = "2".into();
            bob.save(None).await.unwrap();
            // A JSON dict member holding NaN, as another program might write.
            raw_hset(&server, "U{2}", &[("prefs", b"{\"n\": NaN}")]);

            // Strict: the error names the member, the key, the id and the reason.
            let error = User::load(None, "2").await.unwrap_err().to_string();
            assert!(
                error.contains("prefs") && error.contains("U{2}") && error.contains("\"2\""),
                "{error}"
            );

            // Per id: the corrupt record does not hide the good one.
            let many = User::load_many(None, &["1", "2", "3"]).await.unwrap();
            assert_eq!(many[0].as_ref().unwrap(), &Some(alice()));
            assert!(many[1].is_err());
            assert!(matches!(many[2], Ok(None)));

            // Lenient: everything that decodes, and the member that does not, with its
            // bytes and the reason.
            let lenient = User::load_lenient(None, "2").await.unwrap().unwrap();
            assert_eq!(lenient.id, "2");
            assert_eq!(lenient.patch.name.as_deref(), Some("alice"));
            assert_eq!(lenient.patch.age, Some(30));
            assert_eq!(lenient.patch.prefs, None);
            assert_eq!(lenient.failures.len(), 1);
            assert_eq!(lenient.failures[0].member, "prefs");
            assert_eq!(lenient.failures[0].bytes, b"{\"n\": NaN}");
            assert!(User::load_lenient(None, "none").await.unwrap().is_none());
        })
        .await;
}

#[tokio::test]
async fn a_write_that_landed_is_never_reported_as_a_failed_write() {
    let (server, registry, _) = counted_server().await;
    registry
        .scope(async {
            alice().save(None).await.unwrap();
            raw_hset(&server, "U{1}", &[("prefs", b"not json")]);
            // The update lands; reading the record back fails on another member.
            let patch = UserPatch {
                age: Some(31),
                ..UserPatch::default()
            };
            let error = User::update(None, "1", &patch).await.unwrap_err();
            assert!(matches!(error, Error::ReadBack(_)), "{error}");
            assert!(error.to_string().contains("the write landed"), "{error}");
            assert_eq!(raw_hash(&server, "U{1}")["age"], b"31");

            // A write whose command failed (out of memory) while the read-back works is
            // not reported with the stale record it read back.
            raw_hset(&server, "U{1}", &[("prefs", b"{}")]);
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("maxmemory")
                .arg(1)
                .query(&mut server.sync())
                .unwrap();
            let patch = UserPatch {
                age: Some(50),
                ..UserPatch::default()
            };
            let error = User::update(None, "1", &patch).await.unwrap_err();
            assert!(matches!(error, Error::Aborted(_)), "{error}");
            assert!(error.to_string().contains("OOM"), "{error}");
        })
        .await;
}
