//! One multiplexed connection per cluster node, opened on first use with the seed's
//! settings (credentials, TLS, protocol) and dropped after an I/O error (or once the
//! runtime that runs its driver shut down) so the next batch reconnects.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{ConnectionAddr, ConnectionInfo, RedisError, Value};

use super::topology::Node;
use crate::connection::open::RuntimeWatch;

/// How long opening a connection to one node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The connections to the nodes of one cluster.
pub(crate) struct Nodes {
    /// Settings for every node: the first seed's, with the address replaced.
    template: ConnectionInfo,
    /// The nodes the user named, for reading the slot map when no other is known.
    seeds: Vec<Node>,
    /// Each with the watch on the runtime that runs its driver.
    open: Mutex<HashMap<Node, (MultiplexedConnection, RuntimeWatch)>>,
}

impl Nodes {
    /// Connections to the nodes of the cluster that `seeds` belong to. Fails when there is
    /// no seed or a seed is not a TCP address.
    pub(crate) fn new(seeds: Vec<ConnectionInfo>) -> Result<Nodes, RedisError> {
        let nodes = seeds
            .iter()
            .map(|info| match info.addr() {
                ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                    Ok(Node {
                        host: Arc::from(host.as_str()),
                        port: *port,
                    })
                }
                _ => Err(RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "a cluster node must have a TCP address",
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let template = seeds.into_iter().next().ok_or_else(|| {
            RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "no cluster node URL was given",
            ))
        })?;
        Ok(Nodes {
            template,
            seeds: nodes,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The nodes the user named.
    pub(crate) fn seeds(&self) -> &[Node] {
        &self.seeds
    }

    /// Sends `pipeline` to `node` (`offset` and `count` as in
    /// `ConnectionLike::req_packed_commands`). After an I/O error the connection is
    /// dropped, so the next batch opens a new one.
    pub(crate) async fn send(
        &self,
        node: &Node,
        pipeline: &redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> Result<Vec<Value>, RedisError> {
        let mut conn = self.connection(node).await?;
        let replies = conn.req_packed_commands(pipeline, offset, count).await;
        if let Err(error) = &replies {
            if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
                self.lock().remove(node);
            }
        }
        replies
    }

    /// Sends one command to `node`.
    pub(crate) async fn query(&self, node: &Node, cmd: &redis::Cmd) -> Result<Value, RedisError> {
        let mut conn = self.connection(node).await?;
        let reply = conn.req_packed_command(cmd).await;
        if let Err(error) = &reply {
            if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
                self.lock().remove(node);
            }
        }
        reply
    }

    async fn connection(&self, node: &Node) -> Result<MultiplexedConnection, RedisError> {
        {
            let mut open = self.lock();
            match open.get(node) {
                Some((conn, watch)) if watch.serves_here() => return Ok(conn.clone()),
                // Its runtime shut down (its driver with it), or runs it only inside a
                // `block_on` while this caller is on a multi-thread runtime.
                Some(_) => drop(open.remove(node)),
                None => {}
            }
        }
        let addr = match self.template.addr() {
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: node.host.to_string(),
                port: node.port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => ConnectionAddr::Tcp(node.host.to_string(), node.port),
        };
        let client = redis::Client::open(self.template.clone().set_addr(addr))?;
        // No response timeout: batches may be large or blocking; the connection's own
        // `with_response_timeout` bounds them.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let watch = RuntimeWatch::current();
        self.lock().insert(node.clone(), (conn.clone(), watch));
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Node, (MultiplexedConnection, RuntimeWatch)>> {
        self.open.lock()
    }
}
