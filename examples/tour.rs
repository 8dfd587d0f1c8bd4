//! A tour of redpipe: pipelined functions, nesting, the `Result` form, keyspaces with typed
//! fields, HashedString, per-command errors, structs. Every step says how many round trips
//! it took.
//!
//! `scripts/tour.sh`, or `cargo run --example tour` (uses `REDIS_URL`, or starts a
//! throwaway redis-server).

use redpipe::field::{Field, FieldValue, IntegerField, TextField};
use redpipe::keyspace::{Hash, HashedString, Keyspace, Strings};
use redpipe::{pipelined, Deferred, Error, Pipeline, Struct};
use redpipe_dev::Counting;

/// Display names: `Name{<id>}` holds text.
const NAMES: Strings<TextField> = Strings::new(Keyspace::new("Name"));
/// Visit counters: `Visits{<id>}` holds an integer.
const VISITS: Strings<IntegerField> = Strings::new(Keyspace::new("Visits"));
/// Profiles: one hash per user, each member with its own codec.
const PROFILES: Hash = Hash::new(Keyspace::new("Profile"))
    .fields(&[("age", Field::Integer), ("admin", Field::Boolean)]);
/// Many small strings spread over 64 hash shards (byte-compatible with the Python library).
const SESSIONS: HashedString<TextField> = HashedString::new(Keyspace::new("Session"));

/// A record in one hash, `User{<id>}`, laid out as the Python library's `Struct` does.
#[derive(Debug, Clone, PartialEq, Struct)]
#[redpipe(keyspace = "User", ttl = 3600)]
struct User {
    #[redpipe(key)]
    id: u32,
    name: String,
    age: Option<i64>,
    #[redpipe(string_list)]
    tags: Option<Vec<String>>,
}

/// Increments every key; the tail, run after execute, sums the replies.
#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

/// A visit: counts it and greets the user by name; nested calls join the same batch.
#[pipelined]
fn visit(pipe: &Pipeline, id: u32) -> String {
    let name = NAMES.get(pipe, id);
    let visits = VISITS.incr(pipe, id, 1);
    let all = incr_sum(pipe, &["tour:total".to_owned()]);
    // Only the tail runs after execute: read deferreds here, not in `let`s above.
    format!(
        "hello {}, visit #{} (site total {})",
        (*name).as_deref().unwrap_or("stranger"),
        *visits,
        *all
    )
}

/// Renames a user, refusing an empty name before anything is queued.
#[pipelined]
fn rename(pipe: &Pipeline, id: u32, name: &str) -> Result<Option<String>, Error> {
    if name.is_empty() {
        Err(Error::invalid_value("name", "must not be empty"))?;
    }
    let _ = NAMES.set(pipe, id, name);
    let back = NAMES.get(pipe, id);
    Ok(back.try_get()?.clone())
}

#[tokio::main]
async fn main() -> redpipe::Result<()> {
    let (_server, connection) = redpipe_dev::example_connection().await;
    // Count round trips, to show them.
    let counting = Counting::wrap(&connection);
    redpipe::connect(counting.connection())?;
    let mut seen = 0;
    let mut trips = move || {
        let delta = counting.batches() - seen;
        seen = counting.batches();
        delta
    };

    println!("1. A pipelined function, standalone: it executes on its own.");
    let keys: Vec<String> = (0..100).map(|i| format!("tour:key{i}")).collect();
    let total = incr_sum(None, &keys).await?;
    println!(
        "   incr_sum over 100 keys = {total} ({} round trip)",
        trips()
    );

    println!("2. Many calls under one parent, with nesting: one round trip.");
    let pipe = redpipe::pipeline();
    let _ = NAMES.set(&pipe, 1, "ada");
    let greetings: Vec<Deferred<String>> = (1..=3).map(|id| visit(&pipe, id)).collect();
    pipe.execute().await?;
    for greeting in &greetings {
        println!("   {greeting}");
    }
    println!(
        "   ({} round trip for 1 SET, 3 visits and their nested calls)",
        trips()
    );

    println!("3. The Result form: bad input is refused before anything is sent.");
    let pipe = redpipe::pipeline();
    let good = rename(&pipe, 2, "grace");
    let bad = rename(&pipe, 3, "");
    pipe.execute().await?;
    println!("   rename(2, \"grace\") = {good:?}");
    println!("   rename(3, \"\") = {:?}", bad.try_get().err());
    println!(
        "   ({} round trip, with only the good call's commands)",
        trips()
    );

    println!("4. Keyspaces with typed fields, and HashedString.");
    let pipe = redpipe::pipeline();
    let _ = PROFILES.hmset(
        &pipe,
        1,
        &[
            ("age", FieldValue::Integer(36)),
            ("admin", FieldValue::Boolean(true)),
        ],
    );
    let profile = PROFILES.hgetall(&pipe, 1);
    let _ = SESSIONS.set(&pipe, "session-abc", "ada");
    let session = SESSIONS.get(&pipe, "session-abc");
    pipe.execute().await?;
    println!("   Profile{{1}} = {:?}", *profile);
    println!(
        "   session-abc -> {:?} (in shard {})",
        *session,
        SESSIONS.shard("session-abc")
    );
    println!("   ({} round trip)", trips());

    println!("5. Errors are per command: a failed command does not hide the others.");
    let pipe = redpipe::pipeline();
    let fine = VISITS.incr(&pipe, 1, 1);
    let wrong: Deferred<i64> = pipe.incr("Name{1}", 1); // a text value: INCR fails
    let error = pipe.execute().await.err();
    println!(
        "   execute: {}",
        error.map(|e| e.to_string()).unwrap_or_default()
    );
    println!("   the other command still holds its value: {fine}");
    println!(
        "   the failed one holds its error: {:?}",
        wrong.try_get().err()
    );
    println!("   ({} round trip)", trips());

    println!("6. Structs: records in hashes, saved and loaded in one round trip.");
    let pipe = redpipe::pipeline();
    let saved: Vec<Deferred<Option<User>>> = (1..=3)
        .map(|id| {
            let user = User {
                id,
                name: format!("user{id}"),
                age: Some(30 + i64::from(id)),
                tags: Some(vec!["tour".to_owned()]),
            };
            user.save(&pipe)
        })
        .collect();
    let ids: Vec<u32> = vec![1, 2, 3, 4];
    let loaded = User::load_many(&pipe, &ids);
    pipe.execute().await?;
    println!(
        "   saved {} users; load_many(1..=4) = {:?}",
        saved.len(),
        *loaded
    );
    let patch = UserPatch {
        age: Some(99),
        ..UserPatch::default()
    };
    let updated = User::update(None, 2, &patch).await?;
    println!("   update(2, age = 99) = {updated:?}");
    println!(
        "   ({} round trips: the batch, then the standalone update)",
        trips()
    );
    Ok(())
}
