//! A backend over redis-rs's own `cluster_async::ClusterConnection`, for applications that
//! already hold one.
//!
//! redis-rs re-sends a whole routed pipeline when any of its replies is `MOVED` or `ASK`,
//! running again the commands that had succeeded, so this backend never hands it a
//! pipeline of independent commands. Each command is its own request: redis-rs routes each
//! by its key and follows its redirections alone. As redis-rs may reorder concurrent
//! requests, a batch goes in waves: wave n holds the n-th command of every slot, all sent
//! at once, so commands of one slot keep program order and a batch whose slots are all
//! different takes one round trip. A transaction is one request (its
//! keys share a slot, and a redirected MULTI/EXEC ran nothing, so a re-send is safe).
//! Replies come back to their commands' positions. Cross-slot commands and transactions
//! are refused before anything is sent, as by [`Connection::open_cluster`], whose own
//! backend sends one pipeline per master and is the one to prefer.

use std::collections::HashMap;

use futures_util::future::join_all;
use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::{ErrorKind, RedisError};

use super::{slots_of, transaction_slot};
use crate::connection::{exec_replies, Backend, Batch, BoxFuture, Connection, Replies};

impl Connection {
    /// Wraps a redis-rs cluster connection; see the module `cluster` notes in the crate
    /// documentation. Batches may touch keys in any slots; each command travels as its own
    /// request (redis-rs follows redirections per command), so prefer
    /// [`open_cluster`](Self::open_cluster), which sends one pipeline per master.
    pub fn cluster_connection(connection: ClusterConnection) -> Self {
        Self::from_backend(
            std::sync::Arc::new(RedisRsCluster(connection)),
            "ClusterConnection",
        )
    }
}

struct RedisRsCluster(ClusterConnection);

impl Backend for RedisRsCluster {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Replies> {
        Box::pin(async move {
            let count = batch.len();
            let slots = match slots_of(batch) {
                Ok(slots) => slots,
                Err(refused) => return refused,
            };
            if batch.is_transaction() {
                if let Err(refused) = transaction_slot(&slots) {
                    return refused;
                }
                let mut conn = self.0.clone();
                let replies = conn
                    .req_packed_commands(batch.pipeline(), count + 1, 1)
                    .await
                    .and_then(exec_replies);
                return Replies::from(replies);
            }
            // redis-rs may reorder concurrent requests, so commands of one slot go in
            // waves: the n-th command of every slot in wave n, each wave sent at once.
            let commands: Vec<&redis::Cmd> = batch.commands().collect();
            let mut seen: HashMap<Option<u16>, usize> = HashMap::new();
            let waves: Vec<usize> = slots
                .iter()
                .map(|slot| {
                    let wave = seen.entry(*slot).or_default();
                    *wave += 1;
                    *wave - 1
                })
                .collect();
            let unsent = RedisError::from((ErrorKind::Client, "the command was not sent"));
            let mut replies: Vec<Result<redis::Value, RedisError>> = vec![Err(unsent); count];
            for wave in 0..seen.values().copied().max().unwrap_or(0) {
                let members: Vec<usize> = (0..count).filter(|&i| waves[i] == wave).collect();
                let sent = join_all(members.iter().map(|&i| {
                    let mut conn = self.0.clone();
                    let cmd = commands[i];
                    async move { conn.req_packed_command(cmd).await }
                }))
                .await;
                for (i, reply) in members.into_iter().zip(sent) {
                    replies[i] = reply;
                }
            }
            Replies::Each(replies)
        })
    }
}
