//! The cluster backend against a real local 3-master Redis Cluster: batches over any slots
//! in one pipeline per master, MOVED and ASK redirections, transactions within one slot, a
//! dead master, keyspaces, and one execute mixing a cluster and a standalone server.
//!
//! Each test starts its own cluster (tests that stop nodes or move slots must; the others
//! do too, since a static cluster would never be dropped and its processes would outlive
//! the test binary).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use redpipe::field::{FieldValue, IntegerField, TextField};
use redpipe::keyspace::{Hash, HashedString, Keyspace, Strings};
use redpipe::{pipelined, Connection, Deferred, Error, Pipeline, Registry};
use redpipe_dev::cluster::{key_slot, RedisCluster};
use redpipe_dev::{Counting, RedisServer};

/// A cluster and a registry whose default connection is a counted cluster connection.
async fn setup() -> (RedisCluster, Registry, Counting) {
    let cluster = RedisCluster::start();
    let connection = Connection::open_cluster(cluster.urls()).await.unwrap();
    let counting = Counting::wrap(&connection);
    let registry = Registry::new();
    registry.connect(counting.connection()).unwrap();
    (cluster, registry, counting)
}

/// Calls of `command` on node `i`, from `INFO commandstats` (0 when it never ran).
fn calls(cluster: &RedisCluster, i: usize, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut cluster.connection(i))
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// Keys `prefix0..prefixN` that land on every node, with the node of each.
fn keys_on_nodes(cluster: &RedisCluster, prefix: &str, n: usize) -> Vec<(String, usize)> {
    let mut owners: HashMap<u16, usize> = HashMap::new();
    (0..n)
        .map(|i| {
            let key = format!("{prefix}{i}");
            let slot = key_slot(key.as_bytes());
            let node = *owners
                .entry(slot)
                .or_insert_with(|| cluster.node_of_slot(slot));
            (key, node)
        })
        .collect()
}

/// A key with hash tag `{tag}`, whose slot is owned by node `node`.
fn tag_on_node(cluster: &RedisCluster, node: usize) -> String {
    (0..)
        .map(|i| format!("t{i}"))
        .find(|tag| cluster.node_of_slot(key_slot(tag.as_bytes())) == node)
        .unwrap()
}

/// Counts the per-node pipelines the cluster backend sends (its `redpipe.cluster.node`
/// spans), per node, and the most that were in flight at once.
#[derive(Default)]
struct NodeSends {
    next_id: AtomicU64,
    per_node: Mutex<HashMap<String, usize>>,
    open: Mutex<Vec<u64>>,
    max_open: AtomicUsize,
}

impl NodeSends {
    fn total(&self) -> usize {
        self.per_node.lock().unwrap().values().sum()
    }
}

struct NodeField(Option<String>);

impl tracing::field::Visit for NodeField {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "node" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The subscriber that fills a [`NodeSends`].
struct Observer(Arc<NodeSends>);

impl tracing::Subscriber for Observer {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let sends = &self.0;
        let id = sends.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        if span.metadata().name() == "redpipe.cluster.node" {
            let mut node = NodeField(None);
            span.record(&mut node);
            *sends
                .per_node
                .lock()
                .unwrap()
                .entry(node.0.unwrap_or_default())
                .or_default() += 1;
            let mut open = sends.open.lock().unwrap();
            open.push(id);
            sends.max_open.fetch_max(open.len(), Ordering::SeqCst);
        }
        tracing::span::Id::from_u64(id)
    }
    fn try_close(&self, id: tracing::span::Id) -> bool {
        self.0
            .open
            .lock()
            .unwrap()
            .retain(|&open| open != id.into_u64());
        true
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn a_thousand_commands_over_many_slots_one_pipeline_per_master() {
    let (cluster, registry, counting) = setup().await;
    let keys = keys_on_nodes(&cluster, "k:", 1000);
    let sends = Arc::new(NodeSends::default());
    let _observe = redpipe_dev::trace::capture(Observer(Arc::clone(&sends)));

    let pipe = registry.pipeline();
    let counts: Vec<Deferred<i64>> = keys
        .iter()
        .enumerate()
        .map(|(i, (key, _))| pipe.incr(key, i as i64))
        .collect();
    // A keyless command goes to the master of slot 0.
    let echo: Deferred<String> = pipe.query(redis::cmd("ECHO").arg("hi"));
    // EVAL is routed by its keys (numkeys), not by its script or arguments.
    let script = redpipe::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let scripted: Vec<Deferred<i64>> = keys[..30]
        .iter()
        .map(|(key, _)| pipe.invoke_script(&script, &[key], &[1000]))
        .collect();
    pipe.execute().await.unwrap();

    for (i, count) in counts.iter().enumerate() {
        assert_eq!(*count, i as i64);
    }
    for (i, after) in scripted.iter().enumerate() {
        assert_eq!(*after, i as i64 + 1000);
    }
    assert_eq!(echo, "hi");
    let keyless = cluster.node_of_slot(0);
    for node in 0..3 {
        let expected = u64::from(node == keyless);
        assert_eq!(calls(&cluster, node, "echo"), expected, "node {node}");
    }
    assert_eq!(counting.batches(), 1);
    // One pipeline per master, all three in flight at once.
    let per_node = sends.per_node.lock().unwrap().clone();
    assert_eq!(per_node.len(), 3, "{per_node:?}");
    assert!(per_node.values().all(|&n| n == 1), "{per_node:?}");
    assert_eq!(sends.max_open.load(Ordering::SeqCst), 3);
    // Each node ran exactly the commands for its own slots (INCRBY counts the scripts' too).
    for node in 0..3 {
        let owned = |keys: &[(String, usize)]| {
            keys.iter().filter(|(_, owner)| *owner == node).count() as u64
        };
        let (direct, scripted) = (owned(&keys), owned(&keys[..30]));
        assert!(direct > 0 && scripted > 0);
        assert_eq!(calls(&cluster, node, "eval"), scripted, "node {node}");
        assert_eq!(
            calls(&cluster, node, "incrby"),
            direct + scripted,
            "node {node}"
        );
    }
}

/// The seed's `incr_sum`.
#[pipelined]
fn incr_sum(pipe: &Pipeline, keys: &[String]) -> i64 {
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    counts.iter().map(|c| **c).sum()
}

/// Two levels: an outer function calling `incr_sum` twice and adding a GET of its own.
#[pipelined]
fn incr_both(pipe: &Pipeline, a: &[String], b: &[String]) -> i64 {
    let first = incr_sum(pipe, a);
    let second = incr_sum(pipe, b);
    let check: Deferred<Option<i64>> = pipe.get(&a[0]);
    *first + *second + check.unwrap_or(0)
}

#[tokio::test]
async fn nested_functions_over_keys_on_different_nodes() {
    let (cluster, registry, counting) = setup().await;
    let keys: Vec<String> = (0..3)
        .map(|node| format!("{{{}}}:n", tag_on_node(&cluster, node)))
        .collect();
    let sends = Arc::new(NodeSends::default());
    let _observe = redpipe_dev::trace::capture(Observer(Arc::clone(&sends)));

    let pipe = registry.pipeline();
    let both = incr_both(&pipe, &keys[..2], &keys[1..]);
    let alone = incr_sum(&pipe, &keys);
    pipe.execute().await.unwrap();
    // incr_both: (1 + 1) + (2 + 1) + GET of keys[0] (1); incr_sum then sees 2, 3, 2.
    assert_eq!(*both, 6);
    assert_eq!(*alone, 7);
    assert_eq!(counting.batches(), 1);
    assert_eq!(sends.total(), 3);

    // Standalone (no parent): awaiting runs its own root, one pipeline per node.
    let total = registry
        .scope(async { incr_sum(None, &keys).await })
        .await
        .unwrap();
    assert_eq!(total, 3 + 4 + 3);
    assert_eq!(counting.batches(), 2);
    assert_eq!(sends.total(), 6);
}

/// A tag on node `node` other than `not`.
fn another_tag_on_node(cluster: &RedisCluster, node: usize, not: &str) -> String {
    (0..)
        .map(|i| format!("u{i}"))
        .find(|tag| {
            let slot = key_slot(tag.as_bytes());
            slot != key_slot(not.as_bytes()) && cluster.node_of_slot(slot) == node
        })
        .unwrap()
}

#[tokio::test]
async fn a_slot_moved_between_executes_is_followed() {
    let (cluster, registry, counting) = setup().await;
    registry
        .connect_named("tx", counting.connection().with_transaction(true))
        .unwrap();
    let tag = tag_on_node(&cluster, 0);
    let slot = key_slot(tag.as_bytes());
    let moving = [format!("{{{tag}}}:a"), format!("{{{tag}}}:b")];
    // Same node as the moving slot, but its slot stays: one pipeline, half redirected.
    let staying = format!("{{{}}}:s", another_tag_on_node(&cluster, 0, &tag));
    let elsewhere = format!("{{{}}}:e", tag_on_node(&cluster, 1));

    let pipe = registry.pipeline();
    for key in &moving {
        let _: Deferred<()> = pipe.set(key, 1);
    }
    let _: Deferred<()> = pipe.set(&staying, 1);
    let _: Deferred<()> = pipe.set(&elsewhere, 1);
    pipe.execute().await.unwrap();

    cluster.migrate_slot(slot, 2);
    assert_eq!(cluster.node_of_slot(slot), 2);

    let pipe = registry.pipeline();
    let first: Deferred<i64> = pipe.incr(&moving[0], 1);
    let stay: Deferred<i64> = pipe.incr(&staying, 1);
    let second: Deferred<i64> = pipe.incr(&moving[0], 1);
    let other: Deferred<i64> = pipe.incr(&moving[1], 1);
    let away: Deferred<i64> = pipe.incr(&elsewhere, 1);
    pipe.execute().await.unwrap();
    // Every command ran exactly once, in program order within the slot.
    assert_eq!((*first, *second, *other), (2, 3, 2));
    assert_eq!((*stay, *away), (2, 2));
    assert_eq!(calls(&cluster, 2, "incrby"), 3);
    assert_eq!(calls(&cluster, 0, "incrby"), 1);

    // The slot map learned the move: the next batch goes straight to node 2.
    let pipe = registry.pipeline();
    let again: Deferred<i64> = pipe.incr(&moving[1], 1);
    pipe.execute().await.unwrap();
    assert_eq!(*again, 3);
    assert_eq!(calls(&cluster, 0, "incrby"), 1);
    assert_eq!(calls(&cluster, 2, "incrby"), 4);

    // A transaction on a slot that moved since is re-sent to the new owner (EXEC was
    // refused, so nothing ran twice).
    let stay_slot = key_slot(staying.as_bytes());
    cluster.migrate_slot(stay_slot, 1);
    let pipe = registry.pipeline_on("tx");
    let a: Deferred<i64> = pipe.incr(&staying, 1);
    let b: Deferred<i64> = pipe.incr(&staying, 1);
    pipe.execute().await.unwrap();
    assert_eq!((*a, *b), (3, 4));
}

#[tokio::test]
async fn ask_during_a_migration_is_followed() {
    let (cluster, registry, _) = setup().await;
    let tag = tag_on_node(&cluster, 1);
    let slot = key_slot(tag.as_bytes());
    let keys: Vec<String> = (0..4).map(|i| format!("{{{tag}}}:{i}")).collect();
    let elsewhere = tag_on_node(&cluster, 0);

    let pipe = registry.pipeline();
    for (i, key) in keys.iter().enumerate() {
        let _: Deferred<()> = pipe.set(key, i);
    }
    pipe.execute().await.unwrap();

    let migration = cluster.begin_migration(slot, 2);
    assert!(migration.move_key(&keys[0]));
    assert!(migration.move_key(&keys[1]));

    let pipe = registry.pipeline();
    let moved: Vec<Deferred<i64>> = keys[..2].iter().map(|k| pipe.incr(k, 10)).collect();
    let unmoved: Vec<Deferred<i64>> = keys[2..].iter().map(|k| pipe.incr(k, 10)).collect();
    let other: Deferred<i64> = pipe.incr(&elsewhere, 1);
    let read_back: Deferred<Option<i64>> = pipe.get(&keys[0]);
    pipe.execute().await.unwrap();
    assert_eq!((*moved[0], *moved[1]), (10, 11));
    assert_eq!((*unmoved[0], *unmoved[1]), (12, 13));
    assert_eq!(*other, 1);
    assert_eq!(*read_back, Some(10));
    assert!(calls(&cluster, 2, "asking") >= 1);
    assert_eq!(calls(&cluster, 2, "incrby"), 2);

    migration.finish();
    let pipe = registry.pipeline();
    let all: Vec<Deferred<Option<i64>>> = keys.iter().map(|k| pipe.get(k)).collect();
    pipe.execute().await.unwrap();
    let all: Vec<Option<i64>> = all.iter().map(|d| **d).collect();
    assert_eq!(all, [Some(10), Some(11), Some(12), Some(13)]);
}

#[tokio::test]
async fn transactions_within_one_slot_and_refused_across_slots() {
    let cluster = RedisCluster::start();
    let connection = Connection::open_cluster(cluster.urls()).await.unwrap();
    let registry = Registry::new();
    registry
        .connect(connection.clone().with_transaction(true))
        .unwrap();
    registry.connect_named("plain", connection).unwrap();
    let tag = tag_on_node(&cluster, 2);

    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr(format!("{{{tag}}}:a"), 1);
    let b: Deferred<i64> = pipe.incr(format!("{{{tag}}}:b"), 2);
    let pong: Deferred<String> = pipe.query(redis::cmd("PING"));
    pipe.execute().await.unwrap();
    assert_eq!((*a, *b), (1, 2));
    assert_eq!(pong, "PONG");
    assert_eq!(calls(&cluster, 2, "multi"), 1);
    assert_eq!(calls(&cluster, 2, "exec"), 1);

    // Keys in two slots: nothing is sent, the error says why.
    let pipe = registry.pipeline();
    let a: Deferred<i64> = pipe.incr(format!("{{{tag}}}:a"), 1);
    let c: Deferred<i64> = pipe.incr("somewhere-else", 1);
    let error = pipe.execute().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("transaction"), "{message}");
    assert!(message.contains("one slot"), "{message}");
    assert!(a.try_get().is_err() && c.try_get().is_err());
    let total_incrs: u64 = (0..3).map(|i| calls(&cluster, i, "incrby")).sum();
    assert_eq!(total_incrs, 2);

    // Outside a transaction, a multi-key command across slots is refused too, by name,
    // and the rest of its batch is not sent.
    let pipe = registry.pipeline_on("plain");
    let set: Deferred<()> = pipe.set("x", 1);
    let both: Deferred<Vec<Option<i64>>> = pipe.mget(&["x", "y"]);
    let error = pipe.execute().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("MGET"), "{message}");
    assert!(message.contains("slots"), "{message}");
    assert!(set.try_get().is_err() && both.try_get().is_err());
    let total_sets: u64 = (0..3).map(|i| calls(&cluster, i, "set")).sum();
    assert_eq!(total_sets, 0);
}

#[tokio::test]
async fn a_stopped_master_is_named_and_the_rest_resolve() {
    let (mut cluster, registry, _) = setup().await;
    let keys: Vec<String> = (0..3)
        .map(|node| format!("{{{}}}:k", tag_on_node(&cluster, node)))
        .collect();
    let pipe = registry.pipeline();
    let warm: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    pipe.execute().await.unwrap();
    assert!(warm.iter().all(|d| *d == 1));

    let dead = cluster.nodes()[1].url();
    let dead_address = dead.trim_start_matches("redis://").to_owned();
    cluster.stop_node(1);

    let pipe = registry.pipeline();
    let after: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    // Two more commands for the dead master: its one transport error is reported once.
    let more: Vec<Deferred<i64>> = (0..2)
        .map(|i| pipe.incr(format!("{{{}}}:more{i}", tag_on_node(&cluster, 1)), 1))
        .collect();
    let ran = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&ran);
    pipe.on_execute(move || {
        flag.fetch_add(1, Ordering::SeqCst);
    });
    let error = pipe.execute().await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&dead_address), "{message}");
    assert_eq!(error.failures().len(), 1, "{message}");
    assert!(more.iter().all(|d| d.try_get().is_err()));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(*after[0], 2);
    assert_eq!(*after[2], 2);
    let lost = after[1].try_get().unwrap_err().to_string();
    assert!(lost.contains(&dead_address), "{lost}");
    // Nothing is reported as done on the dead node, and the other nodes hold the writes.
    let on_zero: i64 = redis::cmd("GET")
        .arg(&keys[0])
        .query(&mut cluster.connection(0))
        .unwrap();
    assert_eq!(on_zero, 2);

    // The next execute on the surviving masters works; the dead one fails fast again.
    let pipe = registry.pipeline();
    let live: Vec<Deferred<i64>> = [&keys[0], &keys[2]]
        .iter()
        .map(|k| pipe.incr(*k, 1))
        .collect();
    pipe.execute().await.unwrap();
    assert!(live.iter().all(|d| *d == 3));
    let pipe = registry.pipeline();
    let _: Deferred<i64> = pipe.incr(&keys[1], 1);
    let again = pipe.execute().await.unwrap_err().to_string();
    assert!(again.contains(&dead_address), "{again}");
}

const NAMES: Strings<TextField> = Strings::new(Keyspace::new("N"));
const COUNTS: Strings<IntegerField> = Strings::new(Keyspace::new("C"));
const USERS: Hash = Hash::new(Keyspace::new("U"));
const INDEX: HashedString = HashedString::new(Keyspace::new("idx"));

#[tokio::test]
async fn keyspaces_and_hashed_strings_on_a_cluster() {
    let (cluster, registry, counting) = setup().await;
    let ids: Vec<String> = (0..30).map(|i| format!("user{i}")).collect();
    let nodes: std::collections::HashSet<usize> = ids
        .iter()
        .map(|id| cluster.node_of_slot(key_slot(NAMES.key(id).unwrap().as_bytes())))
        .collect();
    assert_eq!(nodes.len(), 3, "the ids spread over every node");

    let pipe = registry.pipeline();
    for (i, id) in ids.iter().enumerate() {
        let _ = NAMES.set(&pipe, id, &format!("name {i}"));
        let _ = COUNTS.incr(&pipe, id, i as i64);
        let _ = USERS.hset(&pipe, id, "email", format!("{i}@example.com").as_str());
        let _ = INDEX.set(&pipe, id, &format!("v{i}"));
    }
    pipe.execute().await.unwrap();

    let pipe = registry.pipeline();
    let names: Vec<_> = ids.iter().map(|id| NAMES.get(&pipe, id)).collect();
    let counts: Vec<_> = ids.iter().map(|id| COUNTS.get(&pipe, id)).collect();
    let emails: Vec<_> = ids
        .iter()
        .map(|id| USERS.hget(&pipe, id, "email"))
        .collect();
    // A HashedString spreads its keys over many shards (slots), in one batch.
    let indexed = INDEX.mget(&pipe, &ids);
    let removed = INDEX.delete(&pipe, &ids[..10]);
    pipe.execute().await.unwrap();
    for i in 0..ids.len() {
        assert_eq!(
            names[i].try_get().unwrap().as_deref(),
            Some(&*format!("name {i}"))
        );
        assert_eq!(*counts[i], Some(i as i64));
        assert_eq!(
            *emails[i],
            Some(FieldValue::Text(format!("{i}@example.com")))
        );
        assert_eq!(indexed[i].as_deref(), Some(&*format!("v{i}")));
    }
    assert_eq!(*removed, 10);
    assert_eq!(counting.batches(), 2);
}

#[tokio::test]
async fn one_execute_mixes_a_cluster_and_a_standalone_server() {
    let (cluster, registry, _) = setup().await;
    let server = RedisServer::start();
    registry
        .connect_named("solo", server.connection().await)
        .unwrap();
    const VISITS: Strings<IntegerField> = Strings::new(Keyspace::new("V").on("solo"));
    let keys: Vec<String> = (0..3)
        .map(|node| format!("{{{}}}:m", tag_on_node(&cluster, node)))
        .collect();

    let pipe = registry.pipeline();
    let on_cluster: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 5)).collect();
    let on_solo = VISITS.incr(&pipe, "home", 1);
    let in_child = {
        let child = pipe.nested_on("solo");
        let n: Deferred<i64> = child.incr("plain", 2);
        let _ = child.finish();
        n
    };
    pipe.execute().await.unwrap();
    assert!(on_cluster.iter().all(|d| *d == 5));
    assert_eq!((*on_solo, *in_child), (1, 2));
    assert_eq!(server.calls("incrby"), 2);
    let on_cluster_nodes: u64 = (0..3).map(|i| calls(&cluster, i, "incrby")).sum();
    assert_eq!(on_cluster_nodes, 3);
}

#[tokio::test]
async fn debug_and_errors_hide_credentials() {
    let error = Connection::open_cluster(["redis://user:secret@127.0.0.1:1"])
        .await
        .unwrap_err();
    assert!(
        !format!("{error} {error:?}").contains("secret"),
        "{error:?}"
    );
    let cluster = RedisCluster::start();
    let plain = Connection::open_cluster(cluster.urls()).await.unwrap();
    let shown = format!("{plain:?}");
    assert!(shown.contains("Cluster(127.0.0.1:"), "{shown}");
    let urls: Vec<String> = cluster
        .urls()
        .iter()
        .map(|u| u.replace("redis://", "redis://:pw@"))
        .collect();
    // The nodes have no password; redis-rs sends AUTH only when asked to, so this may fail
    // to connect, but neither outcome may show the password.
    match Connection::open_cluster(&urls).await {
        Ok(connection) => assert!(!format!("{connection:?}").contains("pw@"), "{connection:?}"),
        Err(error) => assert!(!format!("{error} {error:?}").contains("pw"), "{error:?}"),
    }
    let _: Error = error;
}

#[tokio::test]
async fn redis_rs_cluster_connection_as_a_backend() {
    let cluster = RedisCluster::start();
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let connection = Connection::cluster_connection(client.get_async_connection().await.unwrap());
    let registry = Registry::new();
    registry.connect(connection.clone()).unwrap();
    registry
        .connect_named("tx", connection.with_transaction(true))
        .unwrap();

    // Keys in many slots on every node, with nesting: every reply in its place.
    let keys: Vec<String> = keys_on_nodes(&cluster, "rr", 300)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let pipe = registry.pipeline();
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    let sum = incr_both(&pipe, &keys[..100], &keys[100..]);
    let echo: Deferred<String> = pipe.query(redis::cmd("ECHO").arg("keyless"));
    pipe.execute().await.unwrap();
    // Program order within each slot: the first INCR of every key saw 1.
    assert!(counts.iter().all(|c| **c == 1));
    assert_eq!(*sum, 2 * 300 + 2);
    assert_eq!(*echo, "keyless");

    // A slot moved between executes: redis-rs follows MOVED per command, none runs twice.
    let slot = key_slot(keys[0].as_bytes());
    let from = cluster.node_of_slot(slot);
    cluster.migrate_slot(slot, (from + 1) % 3);
    let pipe = registry.pipeline();
    let first: Deferred<i64> = pipe.incr(&keys[0], 1);
    let second: Deferred<i64> = pipe.incr(&keys[0], 1);
    let other: Deferred<i64> = pipe.incr(&keys[1], 1);
    pipe.execute().await.unwrap();
    // keys[0] and keys[1] were at 2 (counts, then incr_both).
    assert_eq!((*first, *second), (3, 4));
    assert_eq!(*other, 3);

    // Cross-slot commands and transactions are refused before anything is sent.
    let before: u64 = (0..3).map(|i| calls(&cluster, i, "mget")).sum();
    let pipe = registry.pipeline();
    let spanning: Deferred<Vec<Option<i64>>> = pipe.mget(&keys[..2]);
    let error = pipe.execute().await.unwrap_err().to_string();
    assert!(error.contains("MGET") && error.contains("slots"), "{error}");
    assert!(spanning.try_get().is_err());
    assert_eq!(
        (0..3).map(|i| calls(&cluster, i, "mget")).sum::<u64>(),
        before
    );

    let tag = tag_on_node(&cluster, 1);
    let pipe = registry.pipeline_on("tx");
    let a: Deferred<i64> = pipe.incr(format!("{{{tag}}}:a"), 1);
    let b: Deferred<i64> = pipe.incr(format!("{{{tag}}}:b"), 2);
    pipe.execute().await.unwrap();
    assert_eq!((*a, *b), (1, 2));
    assert_eq!(calls(&cluster, 1, "exec"), 1);
    let pipe = registry.pipeline_on("tx");
    let _: Deferred<i64> = pipe.incr(&keys[0], 1);
    let _: Deferred<i64> = pipe.incr(format!("{{{tag}}}:a"), 1);
    let error = pipe.execute().await.unwrap_err().to_string();
    assert!(error.contains("transaction"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_executes_on_a_cluster_are_coalesced_and_split_per_master() {
    let (cluster, registry, counting) = setup().await;
    let keys = keys_on_nodes(&cluster, "co:", 600);
    let tasks: Vec<_> = keys
        .chunks(2)
        .map(|pair| {
            let registry = registry.clone();
            let pair: Vec<String> = pair.iter().map(|(k, _)| k.clone()).collect();
            tokio::spawn(async move {
                let pipe = registry.pipeline();
                let sets: Vec<Deferred<()>> = pair.iter().map(|k| pipe.set(k, k)).collect();
                let gets: Vec<Deferred<String>> = pair.iter().map(|k| pipe.get(k)).collect();
                pipe.execute().await.unwrap();
                assert!(sets.iter().all(|s| s.try_get().is_ok()));
                for (key, got) in pair.iter().zip(&gets) {
                    assert_eq!(&**got, key, "each execute gets its own replies");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let executes = keys.len() / 2;
    assert!(
        counting.batches() < executes,
        "{} batches for {executes} executes",
        counting.batches()
    );
    assert_eq!(counting.commands(), keys.len() * 2);
}

#[tokio::test]
async fn keyless_scans_and_counts_cover_every_master() {
    let (cluster, registry, _) = setup().await;
    const NAMES: Strings<TextField> = Strings::new(Keyspace::new("S"));
    let pipe = registry.pipeline();
    for i in 0..30 {
        let _ = NAMES.set(&pipe, i, &format!("n{i}"));
    }
    pipe.execute().await.unwrap();
    let owners: std::collections::HashSet<usize> = (0..30)
        .map(|i| cluster.node_of_slot(key_slot(format!("S{{{i}}}").as_bytes())))
        .collect();
    assert!(owners.len() > 1, "the ids span several masters");

    for count in [None, Some(3)] {
        let mut ids = registry
            .scope(NAMES.scan_iter(None, count).collect())
            .await
            .unwrap();
        ids.sort_by_key(|id| id.parse::<u32>().unwrap());
        let expected: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        assert_eq!(ids, expected, "count {count:?}");
    }

    let pipe = registry.pipeline();
    let size: Deferred<i64> = pipe.query(redis::cmd("DBSIZE"));
    let keys: Deferred<Vec<String>> = pipe.query(redis::cmd("KEYS").arg("S{*"));
    pipe.execute().await.unwrap();
    assert_eq!(*size, 30);
    assert_eq!(keys.len(), 30);
}

#[test]
fn a_cluster_connection_opened_on_an_idle_current_thread_runtime_serves_a_multi_thread_one() {
    // Node connections opened by a job thread's current-thread runtime, then used by a
    // multi-thread runtime while the job runtime is alive but idle.
    let (_cluster, keys, _job, registry) = opened_on_a_current_thread_runtime("idle");

    let service = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let counts = incr_all_on(&service, &registry, &keys)
        .expect("the execute waited for the idle job runtime to run the drivers");
    assert!(counts.iter().all(|&c| c == 2));
}

#[test]
fn a_cluster_connection_whose_runtime_shut_down_reconnects_before_the_next_execute() {
    // The node connections of a cluster connection opened and used under one runtime
    // (their redis-rs driver tasks run there), used from another after it shut down.
    let (_cluster, keys, first, registry) = opened_on_a_current_thread_runtime("gone");
    drop(first);

    let counts = incr_all_on(&current_thread(), &registry, &keys)
        .expect("the node connections of a runtime that shut down are opened again");
    assert!(counts.iter().all(|&c| c == 2));
}

/// A cluster, 30 keys named `prefix0`.., and a registry whose cluster connection was
/// opened and first used on the returned current-thread runtime.
fn opened_on_a_current_thread_runtime(
    prefix: &str,
) -> (RedisCluster, Vec<String>, tokio::runtime::Runtime, Registry) {
    let cluster = RedisCluster::start();
    let keys: Vec<String> = (0..30).map(|i| format!("{prefix}{i}")).collect();
    let runtime = current_thread();
    let registry = cluster_opened_on(&runtime, &cluster, &keys);
    (cluster, keys, runtime, registry)
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A registry whose default connection is `cluster`, opened on `runtime`, and used there
/// once: every key of `keys` incremented to 1.
fn cluster_opened_on(
    runtime: &tokio::runtime::Runtime,
    cluster: &RedisCluster,
    keys: &[String],
) -> Registry {
    let registry = Registry::new();
    let connection = runtime
        .block_on(Connection::open_cluster(cluster.urls()))
        .unwrap();
    registry.connect(connection).unwrap();
    let counts = incr_all_on(runtime, &registry, keys).unwrap();
    assert!(counts.iter().all(|&c| c == 1));
    registry
}

/// INCR of every key of `keys` in one execute that `runtime` runs (given 10 seconds); the
/// new values.
fn incr_all_on(
    runtime: &tokio::runtime::Runtime,
    registry: &Registry,
    keys: &[String],
) -> Result<Vec<i64>, String> {
    let pipe = registry.pipeline();
    let counts: Vec<Deferred<i64>> = keys.iter().map(|k| pipe.incr(k, 1)).collect();
    runtime.block_on(async {
        match tokio::time::timeout(std::time::Duration::from_secs(10), pipe.execute()).await {
            Ok(Ok(())) => Ok(counts.iter().map(|c| **c).collect()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("no outcome within 10 s".to_owned()),
        }
    })
}

#[tokio::test]
async fn a_plain_connection_to_a_cluster_node_says_how_to_bind_the_cluster() {
    let cluster = RedisCluster::start();
    let registry = Registry::new();
    registry
        .connect(Connection::open(&cluster.urls()[0]).await.unwrap())
        .unwrap();
    let pipe = registry.pipeline();
    let gets: Vec<Deferred<Option<String>>> = (0..10).map(|i| pipe.get(format!("k{i}"))).collect();
    let error = pipe.execute().await.unwrap_err().to_string();
    assert!(error.contains("Connection::open_cluster"), "{error}");
    let redirected = gets.iter().filter_map(|g| g.try_get().err()).count();
    assert!(
        redirected > 0 && redirected < 10,
        "keys of the other nodes only"
    );
}
