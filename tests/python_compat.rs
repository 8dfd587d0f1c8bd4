//! Data the Python library writes reads the same here, and the reverse: the bytes below are
//! what redpipe 4.0.1 stores (from `shared/reference/python-redpipe.md`, sections 1.12 to
//! 1.15), written to and read from a real server without going through our codecs.

use std::collections::HashMap;

use redpipe::field::{Field, FieldValue, FloatField, IntegerField, StringListField};
use redpipe::keyspace::{Hash, HashedString, Keyspace, Strings};
use redpipe::Registry;
use redpipe_dev::RedisServer;

const FLOATS: Strings<FloatField> = Strings::new(Keyspace::new("F"));
const INTS: Strings<IntegerField> = Strings::new(Keyspace::new("I"));
const LISTS: Strings<StringListField> = Strings::new(Keyspace::new("S"));
const USER: Hash = Hash::new(Keyspace::new("U")).fields(&[
    ("admin", Field::Boolean),
    ("age", Field::Integer),
    ("height", Field::Float),
    ("prefs", Field::Dict),
    ("tags", Field::StringList),
    ("scores", Field::List),
]);
const INDEX: HashedString = HashedString::new(Keyspace::new("my_index"));

/// (member, bytes Python writes, value here)
fn user_vectors() -> Vec<(&'static str, &'static [u8], FieldValue)> {
    vec![
        ("name", b"Jos\xc3\xa9", FieldValue::from("José")),
        ("admin", b"1", FieldValue::Boolean(true)),
        ("age", b"41", FieldValue::Integer(41)),
        (
            "height",
            b"1.2345678901234568e+17",
            FieldValue::Float(123_456_789_012_345_678.0),
        ),
        (
            "prefs",
            br#"{"lang": "\u00e9", "n": 1}"#,
            FieldValue::Dict(serde_json::from_str(r#"{"lang":"é","n":1}"#).unwrap()),
        ),
        (
            "tags",
            b"a,b",
            FieldValue::StringList(vec!["a".into(), "b".into()]),
        ),
        (
            "scores",
            b"[1, 2.5, null, true]",
            FieldValue::List(serde_json::from_str("[1,2.5,null,true]").unwrap()),
        ),
    ]
}

#[tokio::test]
async fn python_bytes_read_here_and_ours_read_there() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    let mut raw = server.sync();

    // Python wrote these.
    for (member, bytes, _) in user_vectors() {
        let _: () = redis::cmd("HSET")
            .arg("U{py}")
            .arg(member)
            .arg(bytes)
            .query(&mut raw)
            .unwrap();
    }
    let _: () = redis::cmd("HSET")
        .arg("U{py}")
        .arg("off")
        .arg("")
        .query(&mut raw)
        .unwrap();
    for (key, bytes) in [
        ("F{a}", "1e+16"),
        ("F{b}", "-0"),
        ("F{c}", "1.5e-07"),
        ("I{a}", "1.9"),
        ("S{a}", ",a,,b,"),
    ] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(bytes)
            .query(&mut raw)
            .unwrap();
    }
    let _: () = redis::cmd("HSET")
        .arg("my_index{33}")
        .arg("a")
        .arg("from python")
        .query(&mut raw)
        .unwrap();

    let p = registry.pipeline();
    let user = USER.hgetall(&p, "py");
    let floats = FLOATS.mget(&p, &["a", "b", "c"]);
    let int = INTS.get(&p, "a");
    let list = LISTS.get(&p, "a");
    let indexed = INDEX.get(&p, "a");
    p.execute().await.unwrap();
    for (member, _, value) in user_vectors() {
        assert_eq!(user[member], value, "{member}");
    }
    assert_eq!(
        user["off"],
        FieldValue::Text(String::new()),
        "undeclared members are text"
    );
    let floats = floats.try_get().unwrap();
    assert_eq!(floats[0], Some(1e16));
    assert!(floats[1].unwrap() == 0.0 && floats[1].unwrap().is_sign_negative());
    assert_eq!(floats[2], Some(1.5e-7));
    assert_eq!(
        int,
        Some(1),
        "Python's IntegerField truncates floats toward zero"
    );
    assert_eq!(list, Some(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(indexed, Some("from python".to_owned()));

    // We write; the bytes are what Python writes (so Python reads them back).
    let p = registry.pipeline();
    for (member, _, value) in user_vectors() {
        let _ = USER.hset(&p, "rs", member, value);
    }
    let off = USER.hset(&p, "rs2", "admin", false);
    let refused = USER.hset(&p, "rs2", "undeclared", false);
    let _ = FLOATS.set(&p, "big", &123_456_789_012_345_678.0);
    let _ = FLOATS.set(&p, "one", &1.0);
    let _ = INDEX.set(&p, "é", "x");
    p.execute().await.unwrap();
    let stored: HashMap<String, Vec<u8>> =
        redis::cmd("HGETALL").arg("U{rs}").query(&mut raw).unwrap();
    for (member, bytes, _) in user_vectors() {
        // (The dict vector's keys are in sorted order: serde_json maps keep keys sorted,
        // Python keeps insertion order; both read either.)
        assert_eq!(stored[member], bytes.to_vec(), "{member}");
    }
    assert!(off.try_get().is_ok());
    let off: Vec<u8> = redis::cmd("HGET")
        .arg("U{rs2}")
        .arg("admin")
        .query(&mut raw)
        .unwrap();
    assert_eq!(off, b"", "false is stored empty, as Python does");
    assert!(
        refused.check().is_err(),
        "undeclared members are text: a bool is refused before sending"
    );
    let big: String = redis::cmd("GET").arg("F{big}").query(&mut raw).unwrap();
    let one: String = redis::cmd("GET").arg("F{one}").query(&mut raw).unwrap();
    assert_eq!(
        (big.as_str(), one.as_str()),
        ("1.2345678901234568e+17", "1")
    );
    let shard: Option<String> = redis::cmd("HGET")
        .arg("my_index{47}")
        .arg("é")
        .query(&mut raw)
        .unwrap();
    assert_eq!(
        shard.as_deref(),
        Some("x"),
        "é lives in shard 47 of 64, as in Python"
    );
}

/// Python's `FloatField` takes integers (`float(v)`); so does `Field::Float`, writing the
/// same bytes, except for integers a float cannot hold exactly, which Python would round.
#[tokio::test]
async fn float_fields_take_integers_as_python_does() {
    let server = RedisServer::start();
    let registry = Registry::new();
    registry.connect(server.connection().await).unwrap();
    let mut raw = server.sync();
    // (integer, what Python's FloatField writes for it)
    let vectors: [(i64, &str); 6] = [
        (1, "1"),
        (-7, "-7"),
        (0, "0"),
        (1 << 53, "9007199254740992"),
        (100_000_000_000_000_000, "1e+17"),
        (i64::MIN, "-9.223372036854776e+18"),
    ];
    let p = registry.pipeline();
    let written: Vec<_> = vectors
        .iter()
        .enumerate()
        .map(|(i, (n, _))| USER.hset(&p, i, "height", *n))
        .collect();
    let inexact = USER.hset(&p, "x", "height", (1_i64 << 53) + 1);
    let max = USER.hset(&p, "x", "height", i64::MAX);
    p.execute().await.unwrap();
    for (i, (n, python)) in vectors.iter().enumerate() {
        assert!(written[i].try_get().is_ok(), "{n}");
        let stored: String = redis::cmd("HGET")
            .arg(format!("U{{{i}}}"))
            .arg("height")
            .query(&mut raw)
            .unwrap();
        assert_eq!(stored, *python, "{n}");
    }
    for (refused, n) in [(inexact, "9007199254740993"), (max, "9223372036854775807")] {
        let error = refused.check().unwrap_err();
        assert!(
            matches!(&error, redpipe::Error::InvalidValue { field, .. } if &**field == "height"),
            "{error}"
        );
        assert!(
            error.to_string().contains(n) && error.to_string().contains("exactly"),
            "{error}"
        );
    }
    let untouched: bool = redis::cmd("EXISTS").arg("U{x}").query(&mut raw).unwrap();
    assert!(!untouched, "refused values send nothing");
}
