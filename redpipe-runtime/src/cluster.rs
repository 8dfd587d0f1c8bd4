//! The Redis Cluster backend: a batch may touch keys in any slots.
//!
//! redis-rs's async cluster pipeline sends a whole pipeline to the node of its first key
//! and rejects pipelines whose keys are in different slots. Routing a pipeline to a chosen
//! node through its `ClusterConnection` does not help either: when any reply of a routed
//! pipeline is `MOVED` or `ASK`, redis-rs 1.8 re-sends the *whole* pipeline to the other
//! node, running again the commands that had already succeeded. So this backend does the
//! cluster work itself, over one multiplexed connection per node:
//!
//! - It keeps its own slot map (which master serves each slot), read with `CLUSTER SLOTS`
//!   on first use.
//! - Each command goes to the master of its keys' slot. `SCAN`, `KEYS` and `DBSIZE` run on
//!   every master (see [`fan_out`](ClusterBackend::fan_out)); other commands without keys
//!   (PING, INFO...) go to the master of slot 0. The commands of one node form one pipeline; the
//!   pipelines of all nodes are sent concurrently, so a batch costs one round trip per
//!   master involved. Replies go back to the commands' own positions; within a slot,
//!   commands keep program order.
//! - A `MOVED` reply re-sends that command (only that one) to the node it names, records
//!   the new owner, and reloads the slot map from that node, concurrently with the
//!   re-send. An `ASK` reply re-sends the command to the node it names, preceded by
//!   `ASKING`. Redirected commands of one node go in one pipeline; at most
//!   [`MAX_REDIRECTS`] rounds.
//! - A command whose keys are in different slots, or a transaction whose keys are, fails
//!   the whole batch before anything is sent.
//! - A node that cannot be reached fails the commands sent to it with an error naming its
//!   address; the other nodes' replies are kept. Its connection is reopened on the next
//!   batch.

mod keys;
mod nodes;
mod redis_rs;
mod topology;

use std::sync::Arc;

use futures_util::future::{join, join_all};
use parking_lot::RwLock;
use redis::{
    Cmd, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, ServerError, ServerErrorKind,
    Value,
};

use crate::connection::{exec_replies, redact, Backend, Batch, BoxFuture, Connection, Replies};
use crate::error::Error;
use keys::Target;
pub use keys::{key_slot, SLOT_COUNT};
use nodes::Nodes;
use topology::{Node, SlotMap};

/// How many rounds of `MOVED`/`ASK` redirections one batch follows.
const MAX_REDIRECTS: usize = 5;

/// Commands without keys go to the master of this slot.
const KEYLESS_SLOT: u16 = 0;

/// Bits of a cluster-wide `SCAN` cursor that hold one master's own cursor.
const NODE_CURSOR_BITS: u32 = 56;
const NODE_CURSOR_MASK: u64 = (1 << NODE_CURSOR_BITS) - 1;

/// Keyless commands that read every master.
#[derive(Clone, Copy)]
enum FanOut {
    Scan,
    Keys,
    Dbsize,
}

impl FanOut {
    fn of(cmd: &Cmd) -> Option<Self> {
        match cmd.args_iter().next() {
            Some(redis::Arg::Simple(name)) if name.eq_ignore_ascii_case(b"SCAN") => {
                Some(FanOut::Scan)
            }
            Some(redis::Arg::Simple(name)) if name.eq_ignore_ascii_case(b"KEYS") => {
                Some(FanOut::Keys)
            }
            Some(redis::Arg::Simple(name)) if name.eq_ignore_ascii_case(b"DBSIZE") => {
                Some(FanOut::Dbsize)
            }
            _ => None,
        }
    }
}

impl Connection {
    /// Opens a Redis Cluster connection from the `redis://` (or `rediss://`) URLs of one
    /// or more of its nodes, and reads the cluster's slot map. Batches may touch keys in
    /// any slots: see "Redis Cluster" in the crate documentation.
    ///
    /// Every node is reached with the first URL's settings (user name, password, TLS,
    /// protocol), as redis-rs's cluster client does. There is no response timeout unless
    /// you set one with [`with_response_timeout`](Self::with_response_timeout). Errors and
    /// `Debug` output name nodes by `host:port`, never with credentials.
    pub async fn open_cluster<I, S>(urls: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let seeds = urls
            .into_iter()
            .map(|url| url.as_ref().into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Error::Connection {
                connection: Arc::from("<cluster urls>"),
                source: redact(error),
            })?;
        Self::cluster(seeds).await
    }

    /// Like [`open_cluster`](Self::open_cluster), from redis-rs connection settings.
    pub async fn cluster<I>(seeds: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = ConnectionInfo>,
    {
        let failed = |source| Error::Connection {
            connection: Arc::from("<cluster>"),
            source,
        };
        let nodes = Nodes::new(seeds.into_iter().collect()).map_err(failed)?;
        let shown: Vec<String> = nodes.seeds().iter().map(Node::to_string).collect();
        let label = format!("Cluster({})", shown.join(", "));
        let backend = ClusterBackend {
            nodes,
            map: RwLock::new(None),
        };
        backend.refresh(None).await.map_err(failed)?;
        Ok(Self::from_backend(Arc::new(backend), &label))
    }
}

/// Sends each batch as one pipeline per master; see the module documentation.
pub(crate) struct ClusterBackend {
    nodes: Nodes,
    /// The slot map, once read; replaced whole, never held across an await.
    map: RwLock<Option<Arc<SlotMap>>>,
}

/// Commands of one batch bound for one node, in batch order.
struct Group {
    node: Node,
    items: Vec<Item>,
}

#[derive(Clone, Copy)]
struct Item {
    /// The command's position in the batch.
    index: usize,
    /// Precede the command with `ASKING` (it follows an `ASK` redirection).
    asking: bool,
}

impl Item {
    fn direct(index: usize) -> Self {
        Item {
            index,
            asking: false,
        }
    }

    fn asking(index: usize) -> Self {
        Item {
            index,
            asking: true,
        }
    }
}

/// What a command's reply asks for.
enum Redirect {
    Moved(u16, Node),
    Ask(Node),
}

type Outcome = Option<Result<Value, RedisError>>;

impl Backend for ClusterBackend {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(self.send_batch(batch))
    }
}

impl ClusterBackend {
    async fn send_batch(&self, batch: &Batch) -> Replies {
        let count = batch.len();
        let commands: Vec<&Cmd> = batch.commands().collect();
        let slots = match slots_of(batch) {
            Ok(slots) => slots,
            Err(refused) => return refused,
        };
        let map = match self.slot_map().await {
            Ok(map) => map,
            Err(error) => return Replies::Failed(error),
        };
        if batch.is_transaction() {
            return self.send_transaction(batch, &slots, &map).await;
        }

        let mut outcomes: Vec<Outcome> = vec![None; count];
        let mut sent_to: Vec<Option<Node>> = vec![None; count];
        let mut groups: Vec<Group> = Vec::new();
        let mut everywhere: Vec<usize> = Vec::new();
        for (index, slot) in slots.iter().enumerate() {
            if slot.is_none() && FanOut::of(commands[index]).is_some() {
                everywhere.push(index);
                continue;
            }
            let slot = slot.unwrap_or(KEYLESS_SLOT);
            match map.owner(slot) {
                Some(node) => add(&mut groups, node, Item::direct(index)),
                None => outcomes[index] = Some(Err(unassigned(slot))),
            }
        }
        let masters = map.masters();
        drop(map);
        let fanned = join_all(
            everywhere
                .iter()
                .map(|&index| self.fan_out(commands[index], &masters)),
        );
        let (_, fanned) = join(
            self.send_groups(&commands, groups, &mut outcomes, &mut sent_to),
            fanned,
        )
        .await;
        for (index, outcome) in everywhere.into_iter().zip(fanned) {
            outcomes[index] = Some(outcome);
        }

        for _ in 0..MAX_REDIRECTS {
            let mut groups: Vec<Group> = Vec::new();
            let mut moved: Vec<(u16, Node)> = Vec::new();
            for (index, outcome) in outcomes.iter().enumerate() {
                let (Some(Ok(Value::ServerError(error))), Some(answered)) =
                    (outcome, &sent_to[index])
                else {
                    continue;
                };
                match redirect(error, answered) {
                    Some(Redirect::Moved(slot, node)) => {
                        add(&mut groups, &node, Item::direct(index));
                        moved.push((slot, node));
                    }
                    Some(Redirect::Ask(node)) => {
                        add(&mut groups, &node, Item::asking(index));
                    }
                    None => {}
                }
            }
            if groups.is_empty() {
                break;
            }
            match moved.first() {
                None => {
                    self.send_groups(&commands, groups, &mut outcomes, &mut sent_to)
                        .await
                }
                Some((_, reporter)) => {
                    self.learn(&moved);
                    // Reload the whole map from a node that knows the new owner, while
                    // the moved commands are re-sent; a failed reload only costs redirects.
                    let reporter = reporter.clone();
                    let resend = self.send_groups(&commands, groups, &mut outcomes, &mut sent_to);
                    let _ = join(resend, self.refresh(Some(&reporter))).await;
                }
            }
        }

        Replies::Each(
            outcomes
                .into_iter()
                .map(|outcome| {
                    outcome.unwrap_or_else(|| {
                        Err(RedisError::from((
                            ErrorKind::Client,
                            "the command was not sent (internal routing error)",
                        )))
                    })
                })
                .collect(),
        )
    }

    /// A keyless command that reads every master, merged into one reply:
    /// - `SCAN cursor ...` scans the masters one after the other, with a cursor that covers
    ///   them all: its top 8 bits are the master's position (masters ordered by address)
    ///   and the other 56 bits that master's own cursor; 0 starts and ends the whole scan.
    ///   Each call returns one master's page. If the masters change during a scan (a new
    ///   master, a failover), the scan may miss or repeat keys, as Redis's own does when a
    ///   table is resized, and a position past the last master is an error.
    /// - `KEYS pattern` concatenates every master's keys; `DBSIZE` adds the counts.
    async fn fan_out(&self, cmd: &Cmd, masters: &[Node]) -> Result<Value, RedisError> {
        let refused = |why: String| RedisError::from((ErrorKind::Client, "cluster fan-out", why));
        let args: Vec<Vec<u8>> = cmd
            .args_iter()
            .map(|arg| match arg {
                redis::Arg::Simple(bytes) => bytes.to_vec(),
                // redis-rs's cursor placeholder: a scan from the start.
                _ => b"0".to_vec(),
            })
            .collect();
        match FanOut::of(cmd) {
            Some(FanOut::Scan) => {
                let cursor: u64 = args
                    .get(1)
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| refused("SCAN needs a numeric cursor".into()))?;
                let position = (cursor >> NODE_CURSOR_BITS) as usize;
                let own = cursor & NODE_CURSOR_MASK;
                let node = masters.get(position).ok_or_else(|| {
                    refused(format!(
                        "cursor {cursor} names master #{position}, but the cluster has {}",
                        masters.len()
                    ))
                })?;
                let mut scan = redis::cmd("SCAN");
                scan.arg(own);
                for arg in args.iter().skip(2) {
                    scan.arg(&arg[..]);
                }
                let (next, keys): (u64, Value) =
                    redis::from_redis_value(self.one(node, scan).await?)?;
                if next > NODE_CURSOR_MASK {
                    return Err(refused(format!(
                        "master {node} returned cursor {next}, too large to combine"
                    )));
                }
                let combined = match (next, position + 1 < masters.len()) {
                    (0, true) => ((position + 1) as u64) << NODE_CURSOR_BITS,
                    (0, false) => 0,
                    (next, _) => ((position as u64) << NODE_CURSOR_BITS) | next,
                };
                Ok(Value::Array(vec![
                    Value::BulkString(combined.to_string().into_bytes()),
                    keys,
                ]))
            }
            Some(every) => {
                let all = join_all(masters.iter().map(|node| self.one(node, cmd.clone()))).await;
                let mut total = 0;
                let mut keys = Vec::new();
                for reply in all {
                    match (every, reply?) {
                        (FanOut::Dbsize, Value::Int(n)) => total += n,
                        (FanOut::Keys, Value::Array(found)) => keys.extend(found),
                        (_, Value::ServerError(error)) => return Ok(Value::ServerError(error)),
                        (_, other) => return Err(refused(format!("unexpected reply {other:?}"))),
                    }
                }
                Ok(match every {
                    FanOut::Dbsize => Value::Int(total),
                    _ => Value::Array(keys),
                })
            }
            None => Err(refused("not a fan-out command".into())),
        }
    }

    /// One command to one node.
    async fn one(&self, node: &Node, cmd: Cmd) -> Result<Value, RedisError> {
        let mut pipeline = redis::Pipeline::with_capacity(1);
        pipeline.add_command(cmd);
        let mut replies = self
            .nodes
            .send(node, &pipeline, 0, 1)
            .await
            .map_err(|error| node_error(node, error))?;
        replies
            .pop()
            .ok_or_else(|| node_error(node, RedisError::from((ErrorKind::Client, "no reply"))))
    }

    /// Sends every group concurrently and records each command's outcome and node.
    async fn send_groups(
        &self,
        commands: &[&Cmd],
        groups: Vec<Group>,
        outcomes: &mut [Outcome],
        sent_to: &mut [Option<Node>],
    ) {
        let replies = join_all(groups.iter().map(|group| self.send_group(commands, group))).await;
        for (group, replies) in groups.into_iter().zip(replies) {
            match replies {
                Ok(values) => {
                    for (item, value) in group.items.iter().zip(values) {
                        outcomes[item.index] = Some(Ok(value));
                    }
                }
                Err(error) => {
                    for item in &group.items {
                        outcomes[item.index] = Some(Err(error.clone()));
                    }
                }
            }
            for item in &group.items {
                sent_to[item.index] = Some(group.node.clone());
            }
        }
    }

    /// One pipeline to one node; one value per item (the `ASKING` replies dropped).
    async fn send_group(&self, commands: &[&Cmd], group: &Group) -> Result<Vec<Value>, RedisError> {
        let askings = group.items.iter().filter(|item| item.asking).count();
        let mut pipeline = redis::Pipeline::with_capacity(group.items.len() + askings);
        for item in &group.items {
            if item.asking {
                pipeline.add_command(redis::cmd("ASKING"));
            }
            match commands.get(item.index) {
                Some(&cmd) => pipeline.add_command(cmd.clone()),
                None => return Err(RedisError::from((ErrorKind::Client, "no such command"))),
            };
        }
        let sent = pipeline.len();
        let span = tracing::debug_span!(
            "redpipe.cluster.node",
            node = %group.node,
            commands = group.items.len(),
            asking = askings,
        );
        let replies =
            tracing::Instrument::instrument(self.nodes.send(&group.node, &pipeline, 0, sent), span)
                .await
                .map_err(|error| node_error(&group.node, error))?;
        if replies.len() != sent {
            return Err(node_error(
                &group.node,
                RedisError::from((
                    ErrorKind::Client,
                    "the node returned a different number of replies than commands sent",
                    format!("expected {sent}, got {}", replies.len()),
                )),
            ));
        }
        let mut replies = replies.into_iter();
        let mut values = Vec::with_capacity(group.items.len());
        for item in &group.items {
            if item.asking {
                let _ = replies.next();
            }
            if let Some(value) = replies.next() {
                values.push(value);
            }
        }
        Ok(values)
    }

    /// A transaction: every key in one slot, sent as MULTI/EXEC to that slot's master;
    /// re-sent once to the new owner if the slot moved (nothing ran: EXEC was refused).
    async fn send_transaction(
        &self,
        batch: &Batch,
        slots: &[Option<u16>],
        map: &SlotMap,
    ) -> Replies {
        let slot = match transaction_slot(slots) {
            Ok(slot) => slot,
            Err(refused) => return refused,
        };
        let Some(mut node) = map.owner(slot).cloned() else {
            return Replies::Failed(unassigned(slot));
        };
        let mut result = self.transaction_on(&node, batch).await;
        if let Err(error) = &result {
            if let Some((slot, to)) = moved_in(error, &node) {
                self.learn(&[(slot, to.clone())]);
                node = to;
                result = self.transaction_on(&node, batch).await;
            }
        }
        Replies::from(result.map_err(|error| node_error(&node, error)))
    }

    async fn transaction_on(&self, node: &Node, batch: &Batch) -> Result<Vec<Value>, RedisError> {
        let count = batch.len();
        let span = tracing::debug_span!("redpipe.cluster.node", node = %node, commands = count);
        let sent = self.nodes.send(node, batch.pipeline(), count + 1, 1);
        tracing::Instrument::instrument(sent, span)
            .await
            .and_then(exec_replies)
    }

    /// The slot map, read from the cluster on first use.
    async fn slot_map(&self) -> Result<Arc<SlotMap>, RedisError> {
        let known = self.map.read().clone();
        match known {
            Some(map) => Ok(map),
            None => self.refresh(None).await,
        }
    }

    /// Reads the slot map with `CLUSTER SLOTS`: from `node` when given, else from the first
    /// known master or seed that answers.
    async fn refresh(&self, node: Option<&Node>) -> Result<Arc<SlotMap>, RedisError> {
        let mut candidates: Vec<Node> = node.into_iter().cloned().collect();
        if node.is_none() {
            let known = self.map.read().clone();
            if let Some(map) = known {
                candidates.extend(map.nodes().iter().cloned());
            }
            for seed in self.nodes.seeds() {
                if !candidates.contains(seed) {
                    candidates.push(seed.clone());
                }
            }
        }
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SLOTS");
        let mut failures = Vec::new();
        for candidate in &candidates {
            let parsed = match self.nodes.query(candidate, &cmd).await {
                Ok(reply) => SlotMap::parse(&reply, Some(candidate)),
                Err(error) => Err(error),
            };
            match parsed {
                Ok(map) => {
                    let map = Arc::new(map);
                    *self.map.write() = Some(Arc::clone(&map));
                    return Ok(map);
                }
                Err(error) => failures.push(format!("{candidate}: {error}")),
            }
        }
        Err(RedisError::from((
            ErrorKind::Io,
            "cannot read the cluster's slot map (CLUSTER SLOTS)",
            failures.join("; "),
        )))
    }

    /// Records the new owners of moved slots.
    fn learn(&self, moved: &[(u16, Node)]) {
        let mut guard = self.map.write();
        if let Some(map) = guard.as_mut() {
            let map = Arc::make_mut(map);
            for (slot, node) in moved {
                map.assign(*slot, node);
            }
        }
    }
}

/// The slot of each command (`None` for keyless ones), or the refusal of the whole batch
/// when a command's keys span slots: nothing is sent then.
fn slots_of(batch: &Batch) -> Result<Vec<Option<u16>>, Replies> {
    let count = batch.len();
    let mut slots = Vec::with_capacity(count);
    for (index, cmd) in batch.commands().enumerate() {
        match keys::target(cmd) {
            Target::Keyless => slots.push(None),
            Target::Slot(slot) => slots.push(Some(slot)),
            Target::CrossSlot(a, b) => {
                return Err(refuse(format!(
                    "{} (command {index}) has keys in slots {a} and {b}; a command on a \
                         cluster must keep all its keys in one slot (give them a common \
                         hash tag, like `{{user42}}:a` and `{{user42}}:b`)",
                    batch.command_name(index)
                )))
            }
        }
    }
    Ok(slots)
}

/// The one slot of a transaction's keys ([`KEYLESS_SLOT`] when it has none), or its
/// refusal when they span slots.
fn transaction_slot(slots: &[Option<u16>]) -> Result<u16, Replies> {
    let mut keyed = slots.iter().flatten();
    let slot = keyed.next().copied().unwrap_or(KEYLESS_SLOT);
    match keyed.find(|&&other| other != slot) {
        None => Ok(slot),
        Some(other) => Err(refuse(format!(
            "the transaction has keys in slots {slot} and {other}; on a cluster every \
                 key of a transaction must be in one slot (give them a common hash tag, \
                 like `{{user42}}:a` and `{{user42}}:b`)"
        ))),
    }
}

/// Adds `item` to the group of `node`, creating it.
fn add(groups: &mut Vec<Group>, node: &Node, item: Item) {
    match groups.iter_mut().find(|group| group.node == *node) {
        Some(group) => group.items.push(item),
        None => groups.push(Group {
            node: node.clone(),
            items: vec![item],
        }),
    }
}

/// The redirection a server error asks for, if it is `MOVED` or `ASK`.
fn redirect(error: &ServerError, answered: &Node) -> Option<Redirect> {
    let kind = error.kind()?;
    let mut details = error.details()?.split_ascii_whitespace();
    let slot: u16 = details.next()?.parse().ok()?;
    let node = Node::parse(details.next()?, answered)?;
    match kind {
        ServerErrorKind::Moved => Some(Redirect::Moved(slot, node)),
        ServerErrorKind::Ask => Some(Redirect::Ask(node)),
        _ => None,
    }
}

/// The `MOVED` inside a refused transaction, if any.
fn moved_in(error: &RedisError, answered: &Node) -> Option<(u16, Node)> {
    let errors = error.clone().into_server_errors()?;
    errors
        .iter()
        .find_map(|(_, error)| match redirect(error, answered)? {
            Redirect::Moved(slot, node) => Some((slot, node)),
            Redirect::Ask(_) => None,
        })
}

/// The same error for every command: the batch was not sent.
fn refuse(reason: String) -> Replies {
    Replies::Failed(RedisError::from((
        ErrorKind::Client,
        "batch not sent to the cluster",
        reason,
    )))
}

fn unassigned(slot: u16) -> RedisError {
    RedisError::from((
        ErrorKind::Client,
        "no cluster node serves the slot",
        format!("slot {slot}"),
    ))
}

/// `error`, with the address of the node it came from in its message.
fn node_error(node: &Node, error: RedisError) -> RedisError {
    RedisError::from((
        error.kind(),
        "cluster node failed",
        format!("node {node}: {error}"),
    ))
}
