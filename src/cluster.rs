//! A local Redis Cluster of three masters for tests: real `redis-server` processes on free
//! loopback ports, persistence off, each in its own temporary directory, all killed and
//! cleaned up on drop.
//!
//! Everything here panics on failure with the node's log tail in the message: it is test
//! support, and a cluster that cannot start must fail the test loudly rather than skip it.
//!
//! ```no_run
//! use redpipe_dev::cluster::{key_slot, RedisCluster};
//!
//! let cluster = RedisCluster::start();
//! let slot = key_slot(b"user:{42}:name");
//! let owner = cluster.node_of_slot(slot);
//! let other = (owner + 1) % cluster.nodes().len();
//! cluster.migrate_slot(slot, other);
//! assert_eq!(cluster.node_of_slot(slot), other);
//! ```

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use redis::{Cmd, FromRedisValue, RedisResult};
use tempfile::TempDir;

pub use redpipe::{key_slot, SLOT_COUNT};

const MASTERS: usize = 3;
/// The cluster bus of a node listens on its client port plus this offset.
const BUS_PORT_OFFSET: u16 = 10000;
const NODE_TIMEOUT_MS: &str = "2000";
const NODE_READY_DEADLINE: Duration = Duration::from_secs(10);
const CLUSTER_OK_DEADLINE: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
const MIGRATE_TIMEOUT_MS: &str = "5000";
const MIGRATE_BATCH: usize = 100;
/// How many times a node is restarted on fresh ports when another process took its ports.
const PORT_ATTEMPTS: usize = 10;
const LOG_TAIL_LINES: usize = 30;
const INSTALL_HINT: &str = "install it with `sudo apt-get install redis-server redis-tools`";

/// Ports handed to nodes of this process and not yet released, so clusters started by
/// parallel tests never pick the same ports (the OS only guarantees a port was free when
/// it was probed).
static RESERVED_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A running local Redis Cluster of three masters without replicas.
///
/// Nodes are numbered 0, 1 and 2 in every method. The cluster is started with
/// `cluster-require-full-coverage no`, so after [`stop_node`](Self::stop_node) the
/// surviving masters keep serving their own slots, as fault tests need.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<ClusterNode>,
}

/// One master of a [`RedisCluster`]: a `redis-server` process and its temporary directory
/// (cluster config file and log).
#[derive(Debug)]
pub struct ClusterNode {
    /// The client port on 127.0.0.1; the cluster bus listens on `port + 10000`.
    pub port: u16,
    id: String,
    child: Option<Child>,
    log: PathBuf,
    dir: TempDir,
}

/// A slot halfway through a migration, for testing `ASK` redirections: the target is
/// `IMPORTING` and the source `MIGRATING` the slot, and only the keys moved with
/// [`move_key`](Self::move_key) live on the target.
///
/// Dropping it without [`finish`](Self::finish) leaves the slot half-migrated.
#[derive(Debug)]
#[must_use = "the slot stays half-migrated until `finish` is called"]
pub struct Migration {
    slot: u16,
    source: MigrationEnd,
    target: MigrationEnd,
    /// Client ports of the other nodes that were running when the migration began.
    others: Vec<u16>,
}

#[derive(Debug)]
struct MigrationEnd {
    index: usize,
    port: u16,
    id: String,
}

impl RedisCluster {
    /// Starts three `redis-server` masters on free loopback ports, joins them with
    /// `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`
    /// with all 16384 slots assigned.
    ///
    /// The binaries are `redis-server` and `redis-cli` from `PATH`, or the paths in the
    /// `REDPIPE_REDIS_SERVER` and `REDPIPE_REDIS_CLI` environment variables.
    ///
    /// # Panics
    ///
    /// If a binary is missing (the message says how to install it), or a node or the
    /// cluster does not come up in time (the message holds the logs).
    pub fn start() -> Self {
        let server = binary("REDPIPE_REDIS_SERVER", "redis-server");
        let cli = binary("REDPIPE_REDIS_CLI", "redis-cli");
        // Built up in place so a panic part-way drops, and so kills, the nodes started so far.
        let mut cluster = Self {
            nodes: Vec::with_capacity(MASTERS),
        };
        for _ in 0..MASTERS {
            cluster.nodes.push(ClusterNode::start(&server));
        }
        cluster.create(&cli);
        cluster.wait_until_ok();
        cluster
    }

    /// The nodes, in the order the methods of this type number them.
    pub fn nodes(&self) -> &[ClusterNode] {
        &self.nodes
    }

    /// The URL of node `i`, `redis://127.0.0.1:<port>`.
    pub fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// The URLs of all nodes, stopped ones included.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(ClusterNode::url).collect()
    }

    /// A plain (non-cluster) synchronous connection to node `i`, with timeouts; commands
    /// for slots the node does not own get `MOVED` or `ASK` errors.
    ///
    /// # Panics
    ///
    /// If the node does not accept the connection.
    pub fn connection(&self, i: usize) -> redis::Connection {
        let node = &self.nodes[i];
        connect(node.port).unwrap_or_else(|err| {
            panic!(
                "cannot connect to cluster node {i} ({}): {err}{}",
                node.url(),
                node.log_section()
            )
        })
    }

    /// Kills node `i` with `SIGKILL`, as a crash would, and waits for the process to exit.
    /// Its temporary directory stays until the cluster is dropped.
    pub fn stop_node(&mut self, i: usize) {
        self.nodes[i].stop();
    }

    /// The index of the node that owns `slot`, as the first running node sees the cluster.
    /// A stopped node still owns its slots, since the cluster has no replicas to fail over to.
    ///
    /// # Panics
    ///
    /// If `slot` is not below [`SLOT_COUNT`], no node is running, or no node owns the slot.
    pub fn node_of_slot(&self, slot: u16) -> usize {
        assert!(slot < SLOT_COUNT, "slot {slot} is not below {SLOT_COUNT}");
        let observer = self
            .nodes
            .iter()
            .find(|node| node.is_running())
            .unwrap_or_else(|| panic!("node_of_slot({slot}): every cluster node is stopped"));
        let text: String = observer.query(redis::cmd("CLUSTER").arg("NODES"), "CLUSTER NODES");
        let owner = slot_owner(&text, slot)
            .unwrap_or_else(|| panic!("no node owns slot {slot}; CLUSTER NODES said:\n{text}"));
        self.nodes
            .iter()
            .position(|node| node.id == owner)
            .unwrap_or_else(|| {
                panic!("slot {slot} is owned by unknown node {owner}; CLUSTER NODES said:\n{text}")
            })
    }

    /// Moves `slot` with all its keys to node `to`, the way `redis-cli --cluster reshard`
    /// does; does nothing if `to` already owns it.
    ///
    /// # Panics
    ///
    /// If a step of the migration fails.
    pub fn migrate_slot(&self, slot: u16, to: usize) {
        if self.node_of_slot(slot) != to {
            self.begin_migration(slot, to).finish();
        }
    }

    /// Starts moving `slot` to node `to`: `CLUSTER SETSLOT <slot> IMPORTING` on the target,
    /// then `MIGRATING` on the source, and no keys moved yet.
    ///
    /// # Panics
    ///
    /// If `to` already owns the slot, or a node refuses the command.
    pub fn begin_migration(&self, slot: u16, to: usize) -> Migration {
        let from = self.node_of_slot(slot);
        assert_ne!(
            from, to,
            "begin_migration: node {to} already owns slot {slot}"
        );
        let end = |index: usize| MigrationEnd {
            index,
            port: self.nodes[index].port,
            id: self.nodes[index].id.clone(),
        };
        let migration = Migration {
            slot,
            source: end(from),
            target: end(to),
            others: (self.nodes.iter().enumerate())
                .filter(|&(i, node)| i != from && i != to && node.is_running())
                .map(|(_, node)| node.port)
                .collect(),
        };
        let (source, target) = (&migration.source, &migration.target);
        let _: () = admin_query(
            target.port,
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("IMPORTING")
                .arg(&source.id),
            "CLUSTER SETSLOT IMPORTING",
        );
        let _: () = admin_query(
            source.port,
            redis::cmd("CLUSTER")
                .arg("SETSLOT")
                .arg(slot)
                .arg("MIGRATING")
                .arg(&target.id),
            "CLUSTER SETSLOT MIGRATING",
        );
        migration
    }
}

impl RedisCluster {
    /// Runs `redis-cli --cluster create` over the started nodes, bounded in time.
    fn create(&self, cli: &OsStr) {
        let log_path = self.nodes[0].dir.path().join("redis-cli-create.log");
        let (stdout, stderr) = log_files(&log_path);
        let mut command = Command::new(cli);
        command
            .args(["--cluster", "create"])
            .args(
                self.nodes
                    .iter()
                    .map(|node| format!("127.0.0.1:{}", node.port)),
            )
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let mut child = command.spawn().unwrap_or_else(|err| {
            panic!(
                "cannot run `{}` ({err}); {INSTALL_HINT}",
                Path::new(cli).display()
            )
        });
        let deadline = Instant::now() + CLUSTER_OK_DEADLINE;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                Ok(None) => {
                    // Best effort: the panic below is what matters.
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "`redis-cli --cluster create` did not finish within {CLUSTER_OK_DEADLINE:?}; \
                         its output:\n{}{}",
                        tail(&log_path),
                        self.log_sections()
                    );
                }
                Err(err) => panic!("cannot wait for `redis-cli --cluster create`: {err}"),
            }
        };
        assert!(
            status.success(),
            "`redis-cli --cluster create` failed ({status}); its output:\n{}{}",
            tail(&log_path),
            self.log_sections()
        );
    }

    /// Waits until every node sees a healthy cluster with all slots assigned.
    fn wait_until_ok(&self) {
        let deadline = Instant::now() + CLUSTER_OK_DEADLINE;
        for (i, node) in self.nodes.iter().enumerate() {
            loop {
                let info = node.try_query::<String>(redis::cmd("CLUSTER").arg("INFO"));
                let last = match info {
                    Ok(info) if cluster_is_ok(&info) => break,
                    Ok(info) => info,
                    Err(err) => err.to_string(),
                };
                assert!(
                    Instant::now() < deadline,
                    "cluster node {i} ({}) not ok within {CLUSTER_OK_DEADLINE:?}; last CLUSTER INFO:\n{last}{}",
                    node.url(),
                    self.log_sections()
                );
                thread::sleep(POLL_INTERVAL);
            }
        }
    }

    fn log_sections(&self) -> String {
        self.nodes.iter().map(ClusterNode::log_section).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        // Signal every node before waiting for any, so shutdown costs one exit, not three.
        for node in &mut self.nodes {
            node.kill();
        }
        for node in &mut self.nodes {
            node.reap();
        }
    }
}

impl ClusterNode {
    /// This node's cluster node ID (40 hex characters).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether the process is still running, i.e. the node was not stopped.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process ID, or `None` once the node is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The node's temporary directory, removed when the cluster is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Spawns a node on fresh free ports until one binds them, and waits until it answers.
    fn start(server: &OsStr) -> Self {
        Self::start_on(server, reserve_port_pair)
    }

    /// [`start`](Self::start) with the reserved ports to try coming from `next_port`.
    fn start_on(server: &OsStr, mut next_port: impl FnMut() -> u16) -> Self {
        for _ in 0..PORT_ATTEMPTS {
            let port = next_port();
            let mut node = Self::spawn(server, port);
            match node.wait_ready() {
                Ok(()) => {
                    node.id = node.query(redis::cmd("CLUSTER").arg("MYID"), "CLUSTER MYID");
                    return node;
                }
                // Another process took the port or bus port since it was probed: the failed
                // node is dropped (its ports released) and a new one tried.
                Err(StartFailure::PortTaken) => continue,
                Err(StartFailure::Failed(why)) => panic!(
                    "redis-server on port {port} failed to start: {why}{}",
                    node.log_section()
                ),
            }
        }
        panic!("redis-server found its ports taken {PORT_ATTEMPTS} times in a row; giving up");
    }

    fn spawn(server: &OsStr, port: u16) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("redpipe-cluster-node-")
            .tempdir()
            .unwrap_or_else(|err| {
                release_ports(port);
                panic!("cannot create a temporary directory for a cluster node: {err}")
            });
        let log = dir.path().join("redis.log");
        let (stdout, stderr) = log_files(&log);
        let mut command = Command::new(server);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir.path())
            .args(["--cluster-enabled", "yes"])
            .arg("--cluster-config-file")
            .arg(dir.path().join("nodes.conf"))
            .args(["--cluster-node-timeout", NODE_TIMEOUT_MS])
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = command.spawn().unwrap_or_else(|err| {
            release_ports(port);
            panic!(
                "cannot run `{}` ({err}); {INSTALL_HINT}",
                Path::new(server).display()
            )
        });
        Self {
            port,
            id: String::new(),
            child: Some(child),
            log,
            dir,
        }
    }

    /// Waits until this very process (not another one on the same port) answers.
    fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let Some(pid) = self.pid() else {
            return Err(StartFailure::Failed("not running".to_owned()));
        };
        let deadline = Instant::now() + NODE_READY_DEADLINE;
        loop {
            if let Some(status) = self.try_exit_status() {
                return Err(if self.log_tail().contains("Address already in use") {
                    StartFailure::PortTaken
                } else {
                    StartFailure::Failed(format!("exited with {status}"))
                });
            }
            if let Ok(info) = self.try_query::<String>(redis::cmd("INFO").arg("server")) {
                if info_field(&info, "process_id") == Some(&*pid.to_string()) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(StartFailure::Failed(format!(
                    "did not answer within {NODE_READY_DEADLINE:?}"
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    fn try_query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        cmd.query(&mut connect(self.port)?)
    }

    fn query<T: FromRedisValue>(&self, cmd: &Cmd, what: &str) -> T {
        self.try_query(cmd).unwrap_or_else(|err| {
            panic!(
                "{what} on cluster node {} failed: {err}{}",
                self.url(),
                self.log_section()
            )
        })
    }

    fn log_section(&self) -> String {
        format!("\n--- log of {} ---\n{}", self.url(), self.log_tail())
    }

    fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            // Fails only if the process already exited, which is what we want anyway.
            let _ = child.kill();
        }
    }

    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Nothing more can be done about a child that cannot be waited for.
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        self.kill();
        self.reap();
    }
}

impl Drop for ClusterNode {
    fn drop(&mut self) {
        self.stop();
        release_ports(self.port);
    }
}

/// Why a node process did not come up.
enum StartFailure {
    PortTaken,
    Failed(String),
}

impl Migration {
    /// The slot being migrated.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// The index of the node the slot is leaving.
    pub fn source(&self) -> usize {
        self.source.index
    }

    /// The index of the node the slot is moving to.
    pub fn target(&self) -> usize {
        self.target.index
    }

    /// Moves one key of the slot to the target with `MIGRATE`; returns whether the source
    /// held it. Afterwards the source answers `ASK` for that key.
    ///
    /// # Panics
    ///
    /// If the key is not in the migrating slot or `MIGRATE` fails.
    pub fn move_key(&self, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        let slot = key_slot(key);
        assert_eq!(
            slot,
            self.slot,
            "move_key: {:?} hashes to slot {slot}, not to the migrating slot {}",
            String::from_utf8_lossy(key),
            self.slot
        );
        let reply: String = admin_query(
            self.source.port,
            redis::cmd("MIGRATE")
                .arg("127.0.0.1")
                .arg(self.target.port)
                .arg(key)
                .arg(0)
                .arg(MIGRATE_TIMEOUT_MS),
            "MIGRATE",
        );
        reply == "OK"
    }

    /// Moves the remaining keys of the slot to the target, then assigns the slot to the
    /// target with `CLUSTER SETSLOT <slot> NODE` on the target, the source and the others.
    ///
    /// # Panics
    ///
    /// If a step fails on the source or the target.
    pub fn finish(self) {
        let (slot, source, target) = (self.slot, &self.source, &self.target);
        loop {
            let keys: Vec<Vec<u8>> = admin_query(
                source.port,
                redis::cmd("CLUSTER")
                    .arg("GETKEYSINSLOT")
                    .arg(slot)
                    .arg(MIGRATE_BATCH),
                "CLUSTER GETKEYSINSLOT",
            );
            if keys.is_empty() {
                break;
            }
            let _: () = admin_query(
                source.port,
                redis::cmd("MIGRATE")
                    .arg("127.0.0.1")
                    .arg(target.port)
                    .arg("")
                    .arg(0)
                    .arg(MIGRATE_TIMEOUT_MS)
                    .arg("KEYS")
                    .arg(keys),
                "MIGRATE KEYS",
            );
        }
        let mut assign = redis::cmd("CLUSTER");
        assign.arg("SETSLOT").arg(slot).arg("NODE").arg(&target.id);
        let _: () = admin_query(target.port, &assign, "CLUSTER SETSLOT NODE");
        let _: () = admin_query(source.port, &assign, "CLUSTER SETSLOT NODE");
        for &port in &self.others {
            match connect(port).and_then(|mut con| assign.query::<()>(&mut con)) {
                // A node stopped since the migration began cannot be told; that is fine.
                Err(err) if err.is_io_error() => {}
                Err(err) => panic!("CLUSTER SETSLOT NODE on 127.0.0.1:{port} failed: {err}"),
                Ok(()) => {}
            }
        }
    }
}

/// A synchronous connection to a node with connect, read and write timeouts.
fn connect(port: u16) -> RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let con = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    con.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    con.set_write_timeout(Some(COMMAND_TIMEOUT))?;
    Ok(con)
}

/// Runs an admin command on the node at `port`, panicking with context on failure.
fn admin_query<T: FromRedisValue>(port: u16, cmd: &Cmd, what: &str) -> T {
    connect(port)
        .and_then(|mut con| cmd.query(&mut con))
        .unwrap_or_else(|err| panic!("{what} on cluster node 127.0.0.1:{port} failed: {err}"))
}

/// The program named by the environment variable `var`, or `default` from `PATH`.
fn binary(var: &str, default: &str) -> OsString {
    let program = std::env::var_os(var)
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.into());
    check_binary(&program, var);
    program
}

/// Panics with an install hint unless `program --version` runs.
fn check_binary(program: &OsStr, var: &str) {
    let status = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let shown = Path::new(program).display();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`{shown} --version` failed ({status}); {INSTALL_HINT}, or set {var} to a working binary"
        ),
        Err(err) => panic!(
            "cannot run `{shown}` ({err}); the cluster tests need it: {INSTALL_HINT}, \
             or set {var} to its path"
        ),
    }
}

/// A client port whose cluster bus port (`port + 10000`) was also free, reserved for this
/// process until [`release_ports`].
fn reserve_port_pair() -> u16 {
    for _ in 0..1000 {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|err| panic!("cannot bind a free port on 127.0.0.1: {err}"));
        let port = match listener.local_addr() {
            Ok(addr) => addr.port(),
            Err(err) => panic!("cannot read the address of a bound listener: {err}"),
        };
        let Some(bus) = port.checked_add(BUS_PORT_OFFSET) else {
            continue;
        };
        let Ok(_bus_listener) = TcpListener::bind(("127.0.0.1", bus)) else {
            continue;
        };
        let mut reserved = reserved_ports();
        if !reserved.contains(&port) && !reserved.contains(&bus) {
            reserved.insert(port);
            reserved.insert(bus);
            return port;
        }
    }
    panic!("found no free port p on 127.0.0.1 with p + {BUS_PORT_OFFSET} also free");
}

fn release_ports(port: u16) {
    let mut reserved = reserved_ports();
    reserved.remove(&port);
    if let Some(bus) = port.checked_add(BUS_PORT_OFFSET) {
        reserved.remove(&bus);
    }
}

fn reserved_ports() -> MutexGuard<'static, BTreeSet<u16>> {
    RESERVED_PORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// A log file opened twice, for a child's stdout and stderr.
fn log_files(path: &Path) -> (File, File) {
    let open = || {
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|err| panic!("cannot open log file {}: {err}", path.display()))
    };
    (open(), open())
}

/// The last lines of the file at `path`, or why it could not be read.
fn tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}

/// The value of `field` in `INFO` or `CLUSTER INFO` output (`field:value` lines).
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field).then_some(value.trim())
    })
}

fn cluster_is_ok(info: &str) -> bool {
    let all_slots = SLOT_COUNT.to_string();
    info_field(info, "cluster_state") == Some("ok")
        && info_field(info, "cluster_slots_assigned") == Some(&*all_slots)
        && info_field(info, "cluster_slots_ok") == Some(&*all_slots)
}

/// The ID of the node owning `slot` in `CLUSTER NODES` output. Each line is
/// `<id> <addr> <flags> <master> <ping> <pong> <epoch> <link> <slot or range>...`; entries
/// in brackets mark slots being imported or migrated and do not change the owner.
fn slot_owner(cluster_nodes: &str, slot: u16) -> Option<&str> {
    cluster_nodes.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let id = fields.next()?;
        fields
            .skip(7)
            .filter(|entry| !entry.starts_with('['))
            .filter_map(|entry| {
                let (low, high) = entry.split_once('-').unwrap_or((entry, entry));
                Some((low.parse::<u16>().ok()?, high.parse::<u16>().ok()?))
            })
            .any(|(low, high)| (low..=high).contains(&slot))
            .then_some(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_owner_reads_cluster_nodes_output() {
        let text = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b2]
b2 127.0.0.1:7001@17001 master - 0 1 2 connected 5461-10922 16000
c3 127.0.0.1:7002@17002 master,fail - 0 1 3 disconnected 10923-15999 16001-16383 [100-<-a1]
";
        assert_eq!(slot_owner(text, 0), Some("a1"));
        assert_eq!(slot_owner(text, 5460), Some("a1"));
        assert_eq!(slot_owner(text, 5461), Some("b2"));
        assert_eq!(slot_owner(text, 16000), Some("b2"));
        assert_eq!(slot_owner(text, 100), Some("a1"));
        assert_eq!(slot_owner(text, 16383), Some("c3"));
        assert_eq!(slot_owner("", 1), None);
    }

    #[test]
    #[should_panic(expected = "apt-get install redis-server redis-tools")]
    fn missing_binary_panics_with_install_hint() {
        check_binary(
            OsStr::new("/nonexistent/redpipe/redis-server"),
            "REDPIPE_REDIS_SERVER",
        );
    }

    #[test]
    fn node_start_retries_when_its_bus_port_is_taken() {
        let server = binary("REDPIPE_REDIS_SERVER", "redis-server");
        let taken = reserve_port_pair();
        let _bus = TcpListener::bind(("127.0.0.1", taken + BUS_PORT_OFFSET)).unwrap();
        let mut ports = std::iter::once(taken).chain(std::iter::repeat_with(reserve_port_pair));
        let node = ClusterNode::start_on(&server, || ports.next().unwrap());
        assert_ne!(node.port, taken);
        assert!(node.is_running());
        assert_eq!(node.id().len(), 40);
    }

    fn get(con: &mut redis::Connection, key: &str) -> RedisResult<Option<String>> {
        redis::cmd("GET").arg(key).query(con)
    }

    /// The redirection a node answers for `key`: (`MOVED` or `ASK`, target port).
    fn redirection(con: &mut redis::Connection, key: &str) -> (String, u16) {
        let err = get(con, key).expect_err("expected a redirection");
        let code = err.code().unwrap_or_default().to_owned();
        let (addr, _slot) = err.redirect_node().expect("a redirection names a node");
        let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
        (code, port.expect("a redirection names a port"))
    }

    fn process_exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn cluster_serves_keys_and_migrates_slots() {
        let cluster = RedisCluster::start();
        assert_eq!(cluster.nodes().len(), 3);
        assert_eq!(cluster.urls().len(), 3);
        for i in 0..3 {
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut cluster.connection(i))
                .unwrap();
            assert!(cluster_is_ok(&info), "node {i}:\n{info}");
        }

        let mut con = cluster.connection(0);
        for key in [
            "foo",
            "bar",
            "",
            "123456789",
            "{user1000}.following",
            "user1000",
            "foo{}{bar}",
            "foo{{bar}}zap",
            "foo{bar}{zap}",
            "redpipe:κλειδί:42",
        ] {
            let slot: u16 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query(&mut con)
                .unwrap();
            assert_eq!(key_slot(key.as_bytes()), slot, "CLUSTER KEYSLOT {key:?}");
        }

        let key = "redpipe:cluster:migrate";
        let slot = key_slot(key.as_bytes());
        let owner = cluster.node_of_slot(slot);
        let mut owner_con = cluster.connection(owner);
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("v1")
            .query(&mut owner_con)
            .unwrap();
        assert_eq!(get(&mut owner_con, key).unwrap().as_deref(), Some("v1"));
        let other = (owner + 1) % 3;
        let moved = redirection(&mut cluster.connection(other), key);
        assert_eq!(moved, ("MOVED".to_owned(), cluster.nodes()[owner].port));

        cluster.migrate_slot(slot, other);
        assert_eq!(cluster.node_of_slot(slot), other);
        assert_eq!(
            get(&mut cluster.connection(other), key).unwrap().as_deref(),
            Some("v1")
        );
        let moved = redirection(&mut owner_con, key);
        assert_eq!(moved, ("MOVED".to_owned(), cluster.nodes()[other].port));
        cluster.migrate_slot(slot, other); // already there: no-op
    }

    #[test]
    fn ask_redirections_node_stop_and_cleanup() {
        let mut cluster = RedisCluster::start();
        let (moved_key, staying_key) = ("{redpipe:ask}a", "{redpipe:ask}b");
        let slot = key_slot(moved_key.as_bytes());
        let from = cluster.node_of_slot(slot);
        let to = (from + 1) % 3;
        let mut source = cluster.connection(from);
        for key in [moved_key, staying_key] {
            let _: () = redis::cmd("SET")
                .arg(key)
                .arg(key)
                .query(&mut source)
                .unwrap();
        }

        let migration = cluster.begin_migration(slot, to);
        assert_eq!(
            (migration.slot(), migration.source(), migration.target()),
            (slot, from, to)
        );
        assert!(migration.move_key(moved_key));
        assert!(!migration.move_key("{redpipe:ask}absent"));
        assert_eq!(cluster.node_of_slot(slot), from);
        let ask = redirection(&mut source, moved_key);
        assert_eq!(ask, ("ASK".to_owned(), cluster.nodes()[to].port));
        assert_eq!(
            get(&mut source, staying_key).unwrap().as_deref(),
            Some(staying_key)
        );
        let mut target = cluster.connection(to);
        let _: () = redis::cmd("ASKING").query(&mut target).unwrap();
        assert_eq!(
            get(&mut target, moved_key).unwrap().as_deref(),
            Some(moved_key)
        );
        migration.finish();
        assert_eq!(cluster.node_of_slot(slot), to);
        assert_eq!(
            get(&mut target, staying_key).unwrap().as_deref(),
            Some(staying_key)
        );

        let pids: Vec<u32> = cluster
            .nodes()
            .iter()
            .filter_map(ClusterNode::pid)
            .collect();
        let dirs: Vec<PathBuf> = (cluster.nodes().iter())
            .map(|node| node.dir().to_owned())
            .collect();
        assert_eq!(pids.len(), 3);
        assert!(dirs.iter().all(|dir| dir.join("nodes.conf").exists()));

        let stopped = (to + 1) % 3;
        cluster.stop_node(stopped);
        assert!(!cluster.nodes()[stopped].is_running());
        assert_eq!(cluster.nodes()[stopped].pid(), None);
        assert!(connect(cluster.nodes()[stopped].port).is_err());
        // The survivors keep serving their own slots.
        assert_eq!(
            get(&mut target, staying_key).unwrap().as_deref(),
            Some(staying_key)
        );
        assert!(cluster
            .url(stopped)
            .ends_with(&cluster.nodes()[stopped].port.to_string()));

        drop(cluster);
        for dir in &dirs {
            assert!(!dir.exists(), "{} was not removed", dir.display());
        }
        if Path::new("/proc/self").exists() {
            for pid in pids {
                assert!(
                    !process_exists(pid),
                    "redis-server {pid} outlived the cluster"
                );
            }
        }
    }
}
