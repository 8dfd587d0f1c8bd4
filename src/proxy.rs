//! A loopback TCP proxy that delays every byte by a fixed time in each direction, to show
//! what pipelining saves when a round trip costs more than loopback's few microseconds.

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Chunks in flight per direction before the reader waits for the writer (the bound that
/// keeps a fast sender from queueing unbounded memory in the proxy).
const IN_FLIGHT: usize = 1024;

/// A proxy on a free loopback port that forwards to `upstream`, holding every chunk it
/// reads for `delay` before writing it on, in each direction, order preserved. A round
/// trip through it costs at least `2 * delay`.
///
/// It runs on its own thread with its own tokio runtime (so it works from synchronous and
/// asynchronous code alike, and its work does not run on the caller's runtime), and stops,
/// closing every connection, when dropped.
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// Starts a proxy to `upstream` that adds `delay` each way.
    pub fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("redpipe-delay-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept_loop(listener, upstream, delay) => {}
                    }
                });
                // Dropping the runtime here cancels every connection task.
            })?;
        Ok(DelayProxy {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address to connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its `redis://127.0.0.1:port` URL.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, delay: Duration) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                forward(client_read, server_write, delay),
                forward(server_read, client_write, delay),
            );
        });
    }
}

/// Waits until `due` with sub-millisecond precision. tokio's timer rounds up to the next
/// millisecond tick, which would turn a 1 ms delay into 1 to 2 ms; so the timer sleeps to
/// within a millisecond and a short blocking sleep of this proxy's own thread does the rest.
/// (That can hold the other direction for under a millisecond: fine for request/response
/// benchmarks, the only use of this proxy.)
async fn wait_until(due: Instant) {
    let coarse = due.checked_sub(Duration::from_millis(1)).unwrap_or(due);
    if coarse > Instant::now() {
        tokio::time::sleep_until(coarse).await;
    }
    let left = due.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

/// Copies `from` to `to`, each chunk written `delay` after it was read.
async fn forward(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + delay;
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            wait_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
