//! A throwaway `redis-server` on a free loopback port.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `redis-server` binary: `$REDPIPE_REDIS_SERVER`, or `redis-server` on the `PATH`.
pub fn redis_server_binary() -> PathBuf {
    std::env::var_os("REDPIPE_REDIS_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("redis-server"))
}

/// A `redis-server` process on a free loopback port, with persistence off, in its own
/// temporary directory. It is killed when dropped.
///
/// A missing binary is a loud failure, never a skip (with `CI=true` or without): install it
/// with `apt-get install redis-server`, or point `REDPIPE_REDIS_SERVER` at one.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server and waits until it answers `PING`.
    ///
    /// # Panics
    ///
    /// When the server cannot be started (this is test support: failing loudly is the
    /// point).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (for example
    /// `["--requirepass", "secret"]`).
    pub fn start_with(extra: &[&str]) -> Self {
        let mut last_error = String::new();
        for _ in 0..10 {
            match Self::try_start(extra) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start redis-server: {last_error}");
    }

    fn try_start(extra: &[&str]) -> Result<Self, String> {
        let port = free_port()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let log = dir.path().join("redis.log");
        let binary = redis_server_binary();
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run `{}` ({e}). Install it with `sudo apt-get install redis-server` \
                     or set REDPIPE_REDIS_SERVER to its path",
                    binary.display()
                )
            })?;
        let mut server = RedisServer {
            child: Some(child),
            port,
            dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "redis-server exited with {status}: {}",
                        self.log_tail()
                    ));
                }
            }
            if self.ping() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not answer PING: {}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let mut conn = match client.get_connection_with_timeout(Duration::from_millis(200)) {
            Ok(conn) => conn,
            Err(e) => return e.code() == Some("NOAUTH"),
        };
        match redis::cmd("PING").query::<String>(&mut conn) {
            Ok(_) => true,
            // A server with `requirepass` answers, which is all readiness means.
            Err(e) => e.code() == Some("NOAUTH"),
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its temporary directory (for a unix socket, say).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Its `redis://127.0.0.1:port` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A new redis-rs multiplexed connection to it, without redis-rs's default 500 ms
    /// response timeout (tests send blocking commands).
    pub async fn multiplexed(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).expect("valid test URL");
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connect to the test server")
    }

    /// A redpipe connection over a new multiplexed connection to it.
    pub async fn connection(&self) -> redpipe::Connection {
        redpipe::Connection::multiplexed(self.multiplexed().await)
    }

    /// A blocking redis-rs connection, for checking what reached the server.
    pub fn sync(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("sync connection to the test server")
    }

    /// How many times each command ran, from `INFO commandstats` (lower-case names, for
    /// example `incrby`, `multi`).
    pub fn command_calls(&self) -> HashMap<String, u64> {
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut self.sync())
            .expect("INFO commandstats");
        info.lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("cmdstat_")?;
                let (name, stats) = rest.split_once(':')?;
                let calls = stats.strip_prefix("calls=")?.split(',').next()?;
                Some((name.to_owned(), calls.parse().ok()?))
            })
            .collect()
    }

    /// Calls of one command (0 when it never ran).
    pub fn calls(&self, command: &str) -> u64 {
        self.command_calls().get(command).copied().unwrap_or(0)
    }

    /// Resets `INFO commandstats`.
    pub fn reset_stats(&self) {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query(&mut self.sync())
            .expect("CONFIG RESETSTAT");
    }

    /// Kills the server now (for fault tests); the port stays reserved by nobody.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local_addr: {e}"))
}

/// For examples: a connection to the server at `REDIS_URL` when it is set, else to a
/// throwaway server (returned too: it stops when dropped).
///
/// # Panics
///
/// When `REDIS_URL` cannot be opened or a throwaway server cannot be started.
pub async fn example_connection() -> (Option<RedisServer>, redpipe::Connection) {
    match std::env::var("REDIS_URL") {
        Ok(url) => {
            let connection = redpipe::Connection::open(&url)
                .await
                .unwrap_or_else(|e| panic!("REDIS_URL: {e}"));
            (None, connection)
        }
        Err(_) => {
            let server = RedisServer::start();
            let connection = server.connection().await;
            (Some(server), connection)
        }
    }
}
