//! The `Struct` operations with a hand-written implementation, against a real server:
//! writes read back, TTL rules, required members, patches. Kept as the documented form of
//! a manual `impl Struct` (for records the derive cannot describe); `tests/structs.rs`
//! covers the same operations through `#[derive(Struct)]`.

use redpipe::keyspace::Keyspace;
use redpipe::record::{decode_member, encode_member, missing_member, EncodedMembers, RawMembers};
use redpipe::{Error, Registry, Struct};
use redpipe_dev::{Counting, RedisServer};

#[derive(Debug, Clone, PartialEq)]
struct User {
    id: String,
    name: String,
    age: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct UserPatch {
    name: Option<String>,
    age: Option<i64>,
}

impl Struct for User {
    type Patch = UserPatch;
    const KEYSPACE: Keyspace = Keyspace::new("U");
    const TTL: Option<i64> = Some(30);
    const KEY_NAME: &'static str = "id";
    const MEMBERS: &'static [&'static str] = &["name", "age"];
    const REQUIRED: &'static [&'static str] = &["name"];

    fn id(&self) -> String {
        self.id.clone()
    }

    fn encode(&self) -> Result<EncodedMembers, Error> {
        Ok(vec![
            ("name".into(), Some(encode_member("name", &self.name)?)),
            (
                "age".into(),
                self.age
                    .as_ref()
                    .map(|v| encode_member("age", v))
                    .transpose()?,
            ),
        ])
    }

    fn decode(id: &str, members: RawMembers) -> Result<Self, Error> {
        let (mut name, mut age) = (None, None);
        for (member, bytes) in members {
            match member.as_str() {
                "name" => name = Some(decode_member("name", &bytes)?),
                "age" => age = Some(decode_member("age", &bytes)?),
                _ => {}
            }
        }
        Ok(User {
            id: id.to_owned(),
            name: name.ok_or_else(|| missing_member("U", id, "name"))?,
            age,
        })
    }

    fn encode_patch(patch: &UserPatch) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut out = Vec::new();
        if let Some(v) = &patch.name {
            out.push(("name".into(), encode_member("name", v)?));
        }
        if let Some(v) = &patch.age {
            out.push(("age".into(), encode_member("age", v)?));
        }
        Ok(out)
    }

    fn decode_patch(members: RawMembers) -> Result<UserPatch, Error> {
        let mut patch = UserPatch::default();
        for (member, bytes) in members {
            match member.as_str() {
                "name" => patch.name = Some(decode_member("name", &bytes)?),
                "age" => patch.age = Some(decode_member("age", &bytes)?),
                _ => {}
            }
        }
        Ok(patch)
    }
}

#[tokio::test]
async fn operations_read_back_what_redis_holds() {
    let server = RedisServer::start();
    let counting = Counting::wrap(&server.connection().await);
    let registry = Registry::new();
    registry.connect(counting.connection()).unwrap();
    let alice = User {
        id: "1".into(),
        name: "alice".into(),
        age: Some(30),
    };

    let p = registry.pipeline();
    let saved = alice.save(&p);
    let loaded = User::load(&p, "1");
    let missing = User::load(&p, "nobody");
    p.execute().await.unwrap();
    assert_eq!(saved, Some(alice.clone()));
    assert_eq!(loaded, Some(alice.clone()));
    assert_eq!(missing, None);
    let pttl: i64 = redis::cmd("PTTL")
        .arg("U{1}")
        .query(&mut server.sync())
        .unwrap();
    assert!(pttl > 29_000 && pttl <= 30_000, "{pttl}");

    let p = registry.pipeline();
    let updated = User::update(
        &p,
        "1",
        &UserPatch {
            age: Some(31),
            ..UserPatch::default()
        },
    );
    let incr = User::incr(&p, "1", "age", 2);
    let popped = User::pop(&p, "1", "age");
    let after = User::load(&p, "1");
    let refused = User::remove(&p, "1", &["name"]);
    let key = User::remove(&p, "1", &["id"]);
    p.execute().await.unwrap();
    assert_eq!(updated.try_get().unwrap().as_ref().unwrap().age, Some(31));
    assert_eq!(incr, 33);
    assert_eq!(popped.try_get().unwrap().age, Some(33));
    assert_eq!(after.try_get().unwrap().as_ref().unwrap().age, None);
    assert!(matches!(refused.try_get(), Err(Error::InvalidOperation(_))));
    assert!(matches!(key.try_get(), Err(Error::InvalidOperation(_))));

    // A hash without its required member is an error on load, not a half record.
    let _: () = redis::cmd("HSET")
        .arg("U{2}")
        .arg("age")
        .arg("5")
        .query(&mut server.sync())
        .unwrap();
    let error = registry
        .scope(async { User::load(None, "2").await })
        .await
        .unwrap_err();
    assert!(error.to_string().contains("required member"), "{error}");
}
