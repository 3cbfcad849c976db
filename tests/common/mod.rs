//! Shared harness for the integration tests: spawns the real `sesame` binary and talks raw RESP
//! to it.
//!
//! * [`TestServer`] starts the binary with `--port 0 --bind 127.0.0.1` (plus extra flags), learns
//!   the address from the first stdout line (`listening on <addr>`), keeps draining stdout and
//!   stderr, and kills the process on drop. If the server printed a Rust panic message, dropping
//!   it fails the test (a panicking connection task would otherwise go unnoticed).
//! * [`Conn`] is a raw client: it writes bytes and reads back exactly one complete reply at a
//!   time, as the bytes the server sent (RESP2 and RESP3, aggregates included). Every read has a
//!   deadline, so a server that hangs fails the test instead of hanging it.
//! * [`parse`] turns one raw reply into a [`Value`] tree for the tests that need to look inside
//!   (SCAN cursors, CLIENT LIST).
//!
//! Not every test binary uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a read waits for the server before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The shard counts every keyspace test runs with: one shard (every key collides) and many.
pub const SHARD_COUNTS: [usize; 2] = [1, 16];

/// A running `sesame` process.
pub struct TestServer {
    child: Child,
    /// The first address it listens on.
    pub addr: SocketAddr,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
}

impl TestServer {
    /// Starts `sesame --port 0 --bind 127.0.0.1 <extra…>`.
    pub fn start(extra: &[&str]) -> TestServer {
        if std::env::var_os("SESAME_TEST_AGAINST_REDIS").is_some() {
            return TestServer::start_redis(extra);
        }
        let mut args = vec!["--port", "0", "--bind", "127.0.0.1"];
        args.extend_from_slice(extra);
        TestServer::start_raw(&args)
    }

    /// Development aid: with `SESAME_TEST_AGAINST_REDIS=1` in the environment, the tests run
    /// against a real `redis-server` instead (flags it lacks, such as `--shards`, are dropped), to
    /// check the expected bytes against the reference. sesame-only behaviour then fails, as it
    /// should.
    fn start_redis(extra: &[&str]) -> TestServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
            .to_string();
        let mut args = vec![
            "--port",
            port.as_str(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        let mut rest = extra.iter();
        while let Some(&flag) = rest.next() {
            if matches!(flag, "--shards" | "--threads") {
                rest.next();
            } else {
                args.push(flag);
            }
        }
        let mut child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn redis-server");
        let stderr = drain(child.stderr.take().unwrap());
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let up = poll_until(Duration::from_secs(10), || TcpStream::connect(addr).is_ok());
        assert!(up, "redis-server did not start");
        // Let it forget the probe connection, so that client-count tests start from zero.
        thread::sleep(Duration::from_millis(100));
        TestServer {
            child,
            addr,
            stderr,
            stdout: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Starts `sesame --shards <n> <extra…>` on a free port.
    pub fn with_shards(shards: usize, extra: &[&str]) -> TestServer {
        let shards = shards.to_string();
        let mut args = vec!["--shards", shards.as_str()];
        args.extend_from_slice(extra);
        TestServer::start(&args)
    }

    /// Starts `sesame <args…>` exactly as given and waits for its first `listening on` line.
    pub fn start_raw(args: &[&str]) -> TestServer {
        match TestServer::try_start_raw(args) {
            Ok(server) => server,
            Err(msg) => panic!("sesame {args:?} did not start: {msg}"),
        }
    }

    /// Like [`TestServer::start_raw`], but returns what went wrong instead of panicking.
    pub fn try_start_raw(args: &[&str]) -> Result<TestServer, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (first_tx, first_rx) = mpsc::channel::<String>();
        {
            let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
            let stdout = stdout.clone();
            thread::spawn(move || {
                let mut line = String::new();
                let mut first = Some(first_tx);
                while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    stdout.lock().unwrap().extend_from_slice(line.as_bytes());
                    if let Some(tx) = first.take() {
                        let _ = tx.send(line.clone());
                    }
                    line.clear();
                }
            });
        }
        let line = match first_rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                thread::sleep(Duration::from_millis(50));
                let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
                return Err(format!("no listening line; stderr: {err}"));
            }
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        match addr {
            Some(addr) => Ok(TestServer {
                child,
                addr,
                stderr,
                stdout,
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("unexpected first stdout line {line:?}"))
            }
        }
    }

    /// A new raw connection.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.addr)
    }

    /// A new connection that has switched to RESP3 with `HELLO 3`.
    pub fn conn3(&self) -> Conn {
        let mut c = self.conn();
        let hello = c.cmd(&["HELLO", "3"]);
        assert!(hello.starts_with(b"%7\r\n"), "HELLO 3: {}", show(&hello));
        c
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Sends SIGTERM through the `kill` utility.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed: {status}");
    }

    /// Waits for the process to exit, at most `limit`; None if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, limit)
    }

    /// A memory figure of the server from /proc (`VmRSS`, `VmSize`…) in KiB; None off Linux.
    pub fn mem_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let prefix = format!("{field}:");
        let line = status.lines().find(|l| l.starts_with(&prefix))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !thread::panicking() {
            // Give the drain thread a moment to collect the last bytes.
            thread::sleep(Duration::from_millis(20));
            let err = self.stderr();
            assert!(
                !err.contains("panicked"),
                "the server panicked; its stderr:\n{err}"
            );
        }
    }
}

/// Collects everything a pipe produces into a shared buffer, on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let out = buf.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// Polls a child until it exits, at most `limit`.
pub fn wait_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The result of running the binary to completion.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `sesame <args…>` expecting it to exit by itself (a startup failure) within a few
/// seconds; fails the test if it keeps running.
pub fn run_to_exit(args: &[&str]) -> Finished {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sesame");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let status = wait_child(&mut child, Duration::from_secs(10));
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("sesame {args:?} kept running; it should have refused to start");
    };
    // The pipes close at exit; let the drain threads finish.
    thread::sleep(Duration::from_millis(50));
    let stdout = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// Runs `body` once against a server with `--shards 1` and once with `--shards 16`.
pub fn each_shards(extra: &[&str], body: impl Fn(&TestServer)) {
    let counts: &[usize] = if std::env::var_os("SESAME_TEST_AGAINST_REDIS").is_some() {
        &SHARD_COUNTS[..1]
    } else {
        &SHARD_COUNTS
    };
    for &shards in counts {
        let server = TestServer::with_shards(shards, extra);
        body(&server);
    }
}

/// Encodes a request as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Bytes for an assertion message: printable ASCII as is, the rest escaped.
pub fn show(bytes: &[u8]) -> String {
    let mut s: String = bytes.escape_ascii().to_string();
    if s.len() > 600 {
        s.truncate(600);
        s.push('…');
    }
    s
}

/// A raw client connection.
pub struct Conn {
    pub stream: TcpStream,
    /// Bytes read past the end of the last reply.
    pending: Vec<u8>,
}

/// How a read for a reply ended without one.
#[derive(Debug)]
pub enum ReadEnd {
    /// The server closed the connection (after sending these bytes of an unfinished reply).
    Eof(Vec<u8>),
    /// Nothing complete arrived before the deadline (these bytes did).
    Timeout(Vec<u8>),
}

impl Conn {
    /// Connects to `addr`, with [`READ_TIMEOUT`] on reads.
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Conn {
            stream,
            pending: Vec::new(),
        }
    }

    /// The client side's address (as the server sees it in CLIENT LIST's `addr=`).
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write {}: {e}", show(bytes)));
    }

    /// Sends one command as a multibulk and returns its raw reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Vec<u8> {
        self.send(&encode(args));
        self.read_reply()
    }

    /// Sends a command written as whitespace-separated words (no quoting) and returns the reply.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        let words: Vec<&str> = line.split_whitespace().collect();
        self.cmd(&words)
    }

    /// Sends a command and asserts its exact reply bytes.
    pub fn expect<A: AsRef<[u8]>>(&mut self, args: &[A], expected: &[u8]) {
        let got = self.cmd(args);
        let shown: Vec<String> = args.iter().map(|a| show(a.as_ref())).collect();
        assert_eq!(
            show(&got),
            show(expected),
            "reply to {shown:?} (left: got, right: expected)"
        );
    }

    /// [`Conn::run`] and assert the reply bytes.
    pub fn expect_run(&mut self, line: &str, expected: &[u8]) {
        let got = self.run(line);
        assert_eq!(
            show(&got),
            show(expected),
            "reply to `{line}` (left: got, right: expected)"
        );
    }

    /// Runs `(request, expected reply)` rows in order on this connection.
    pub fn expect_rows(&mut self, rows: &[(&str, &[u8])]) {
        for (line, expected) in rows {
            self.expect_run(line, expected);
        }
    }

    /// Reads exactly one complete reply; fails the test on EOF or timeout.
    pub fn read_reply(&mut self) -> Vec<u8> {
        match self.try_read_reply(READ_TIMEOUT) {
            Ok(reply) => reply,
            Err(ReadEnd::Eof(partial)) => panic!(
                "server closed the connection before a complete reply (got {})",
                show(&partial)
            ),
            Err(ReadEnd::Timeout(partial)) => panic!(
                "no complete reply within {READ_TIMEOUT:?} (got {})",
                show(&partial)
            ),
        }
    }

    /// Reads one complete reply, waiting at most `limit`.
    pub fn try_read_reply(&mut self, limit: Duration) -> Result<Vec<u8>, ReadEnd> {
        let deadline = Instant::now() + limit;
        loop {
            match reply_len(&self.pending) {
                Ok(Some(n)) => return Ok(self.pending.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => panic!("malformed reply ({e}): {}", show(&self.pending)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadEnd::Timeout(std::mem::take(&mut self.pending)));
            }
            self.stream.set_read_timeout(Some(deadline - now)).unwrap();
            let mut chunk = [0u8; 64 * 1024];
            let read = self.stream.read(&mut chunk);
            self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            match read {
                Ok(0) => return Err(ReadEnd::Eof(std::mem::take(&mut self.pending))),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                    ) =>
                {
                    return Err(ReadEnd::Eof(std::mem::take(&mut self.pending)))
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Asserts that the server closes the connection (EOF or reset) within `limit`, with no
    /// further bytes before it.
    pub fn expect_closed_within(&mut self, limit: Duration) {
        match self.try_read_reply(limit) {
            Err(ReadEnd::Eof(rest)) if rest.is_empty() => {}
            Err(ReadEnd::Eof(rest)) => {
                panic!("expected EOF, got partial bytes {} then EOF", show(&rest))
            }
            Ok(reply) => panic!("expected EOF, got a reply {}", show(&reply)),
            Err(ReadEnd::Timeout(rest)) => panic!(
                "the connection stayed open for {limit:?} (bytes: {})",
                show(&rest)
            ),
        }
    }

    /// Asserts that the server closes the connection within [`READ_TIMEOUT`].
    pub fn expect_closed(&mut self) {
        self.expect_closed_within(READ_TIMEOUT);
    }

    /// Asserts that nothing arrives for `quiet` (the connection stays open and silent).
    pub fn expect_silence(&mut self, quiet: Duration) {
        match self.try_read_reply(quiet) {
            Err(ReadEnd::Timeout(rest)) if rest.is_empty() => {}
            Err(ReadEnd::Timeout(rest)) => panic!("unexpected partial bytes {}", show(&rest)),
            Err(ReadEnd::Eof(_)) => panic!("the server closed the connection"),
            Ok(reply) => panic!("unexpected reply {}", show(&reply)),
        }
    }

    /// Closes the writing half, as a client that has finished sending.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// This connection's CLIENT ID.
    pub fn client_id(&mut self) -> i64 {
        let reply = self.cmd(&["CLIENT", "ID"]);
        int_of(&reply)
    }
}

/// The integer of a `:n\r\n` reply.
pub fn int_of(reply: &[u8]) -> i64 {
    match parse(reply) {
        Value::Int(n) => n,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

/// The length of the first complete reply in `buf`: Ok(None) if more bytes are needed.
pub fn reply_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let Some(line_end) = find_crlf(buf) else {
        return Ok(None);
    };
    let header = &buf[1..line_end];
    let after = line_end + 2;
    let number = || -> Result<i64, String> {
        std::str::from_utf8(header)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| format!("bad length {:?}", show(header)))
    };
    match kind {
        b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => Ok(Some(after)),
        b'$' | b'!' | b'=' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some(after));
            }
            let end = after + n as usize + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err("bulk payload not followed by CRLF".into());
            }
            Ok(Some(end))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some(after));
            }
            let items = if matches!(kind, b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                match reply_len(&buf[pos..])? {
                    Some(len) => pos += len,
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                // An attribute precedes the reply it annotates.
                return Ok(reply_len(&buf[pos..])?.map(|len| pos + len));
            }
            Ok(Some(pos))
        }
        other => Err(format!("unknown reply type byte {:?}", other as char)),
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// One reply, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    /// `$` or `=` (the verbatim format prefix kept), or `!`.
    Bulk(Vec<u8>),
    /// `$-1`, `*-1` or `_`.
    Null,
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Set(Vec<Value>),
    Other(Vec<u8>),
}

impl Value {
    /// The elements of an array or set reply.
    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(v) | Value::Set(v) => v,
            other => panic!("expected an array, got {other:?}"),
        }
    }

    /// The bytes of a bulk reply.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Value::Bulk(b) => b,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }
}

/// Parses exactly one complete reply.
pub fn parse(buf: &[u8]) -> Value {
    let (value, used) = parse_at(buf);
    assert_eq!(
        used,
        buf.len(),
        "trailing bytes after a reply: {}",
        show(buf)
    );
    value
}

fn parse_at(buf: &[u8]) -> (Value, usize) {
    let line_end = find_crlf(buf).unwrap_or_else(|| panic!("incomplete reply {}", show(buf)));
    let header = String::from_utf8_lossy(&buf[1..line_end]).into_owned();
    let after = line_end + 2;
    let n = || header.parse::<i64>().unwrap();
    match buf[0] {
        b'+' => (Value::Simple(header), after),
        b'-' => (Value::Error(header), after),
        b':' => (Value::Int(n()), after),
        b'_' => (Value::Null, after),
        b'$' | b'=' | b'!' => {
            let len = n();
            if len < 0 {
                return (Value::Null, after);
            }
            let end = after + len as usize;
            (Value::Bulk(buf[after..end].to_vec()), end + 2)
        }
        b'*' | b'~' | b'>' => {
            let len = n();
            if len < 0 {
                return (Value::Null, after);
            }
            let mut pos = after;
            let mut items = Vec::new();
            for _ in 0..len {
                let (v, used) = parse_at(&buf[pos..]);
                items.push(v);
                pos += used;
            }
            if buf[0] == b'~' {
                (Value::Set(items), pos)
            } else {
                (Value::Array(items), pos)
            }
        }
        b'%' => {
            let mut pos = after;
            let mut pairs = Vec::new();
            for _ in 0..n() {
                let (k, used) = parse_at(&buf[pos..]);
                pos += used;
                let (v, used) = parse_at(&buf[pos..]);
                pos += used;
                pairs.push((k, v));
            }
            (Value::Map(pairs), pos)
        }
        _ => {
            let len = reply_len(buf).unwrap().unwrap();
            (Value::Other(buf[..len].to_vec()), len)
        }
    }
}

/// A bulk string reply's bytes.
pub fn bulk(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// Polls `probe` until it returns true, at most `limit`; returns whether it did.
pub fn poll_until(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if probe() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
