//! A fake RESP server on a free loopback port, for fault tests: it parses each request
//! (an array of bulk strings) and answers whatever a script says, including nothing at
//! all, malformed bytes, or more replies than were asked for.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the fake server does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Writes these bytes (any RESP, valid or not).
    Bytes(Vec<u8>),
    /// Writes nothing and keeps reading.
    Silence,
    /// Writes these bytes, then closes the connection.
    Close(Vec<u8>),
}

impl Answer {
    /// A simple-string reply, `+text`.
    pub fn simple(text: &str) -> Self {
        Answer::Bytes(format!("+{text}\r\n").into_bytes())
    }

    /// A bulk-string reply.
    pub fn bulk(bytes: &[u8]) -> Self {
        let mut out = format!("${}\r\n", bytes.len()).into_bytes();
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
        Answer::Bytes(out)
    }

    /// An integer reply.
    pub fn int(n: i64) -> Self {
        Answer::Bytes(format!(":{n}\r\n").into_bytes())
    }
}

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which accepted connection it came on, from 0.
    pub connection: usize,
    /// The command name, upper-cased.
    pub command: String,
    /// The arguments after the name.
    pub args: Vec<Vec<u8>>,
}

type Script = dyn Fn(&Request) -> Answer + Send + Sync;

/// A fake RESP server; stops accepting when dropped.
pub struct FakeRedis {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for FakeRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRedis")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeRedis {
    /// Starts a server that answers each request with `script(request)`. The handshake
    /// commands redis-rs sends on connect (`CLIENT SETINFO`, `HELLO`, `SELECT`) are
    /// answered `+OK` unless the script is asked first: it sees every request.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound (test support fails loudly).
    pub fn start(script: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (count, stopping) = (Arc::clone(&accepted), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let connection = count.fetch_add(1, Ordering::SeqCst);
                        let script = Arc::clone(&script);
                        std::thread::spawn(move || serve(stream, connection, &*script));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FakeRedis {
            addr,
            accepted,
            stop,
        }
    }

    /// Its `redis://127.0.0.1:port` URL.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// How many connections it accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FakeRedis {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(stream: TcpStream, connection: usize, script: &Script) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(words)) = read_request(&mut reader) {
        let Some((name, args)) = words.split_first() else {
            continue;
        };
        let request = Request {
            connection,
            command: String::from_utf8_lossy(name).to_uppercase(),
            args: args.to_vec(),
        };
        let answer = match script(&request) {
            Answer::Silence if is_handshake(&request) => Answer::simple("OK"),
            answer => answer,
        };
        let written = match answer {
            Answer::Bytes(bytes) => writer.write_all(&bytes),
            Answer::Silence => Ok(()),
            Answer::Close(bytes) => {
                let _ = writer.write_all(&bytes);
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// The commands redis-rs sends when it connects.
fn is_handshake(request: &Request) -> bool {
    matches!(request.command.as_str(), "CLIENT" | "HELLO" | "SELECT")
}

/// Reads one request: an array of bulk strings. `None` at end of stream.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Vec<Vec<u8>>>> {
    let Some(header) = read_line(reader)? else {
        return Ok(None);
    };
    let count = parse_len(&header, b'*')?;
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        let line = read_line(reader)?.ok_or(io::ErrorKind::UnexpectedEof)?;
        let len = parse_len(&line, b'$')?;
        let mut word = vec![0; len + 2];
        reader.read_exact(&mut word)?;
        word.truncate(len);
        words.push(word);
    }
    Ok(Some(words))
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

fn parse_len(line: &[u8], prefix: u8) -> io::Result<usize> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "not a RESP request");
    match line.split_first() {
        Some((first, digits)) if *first == prefix => std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(invalid),
        _ => Err(invalid()),
    }
}
